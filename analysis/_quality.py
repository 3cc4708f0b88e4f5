"""Data quality: reports the collector turned away, and what clients dropped or evicted."""

from __future__ import annotations

from ._gateway import Gateway, Table
from ._window import IN_WINDOW, PERIOD_SQL, Window


def rejections(g: Gateway, w: Window) -> Table:
    """Rejected reports by reason and period (for all applications: a rejected report has none)."""
    period = PERIOD_SQL[w.period]
    sql = f"""
        SELECT {period} AS period, r.reason, sum(r.count) AS reports
        FROM rejections r WHERE r.day BETWEEN ? AND ?
        GROUP BY ALL ORDER BY period, reports DESC, r.reason
    """
    return g.event_table(
        f"Rejected reports by {w.period}",
        sql,
        [w.first_day, w.last_day],
        ["period", "reason"],
        notes=("all applications; counts under k are suppressed",),
    )


def client_losses(g: Gateway, w: Window) -> Table:
    """Per period and client counter: installations that lost anything, how much, and their share."""
    sql = f"""
        WITH per_installation AS (
            SELECT {w.period_sql} AS period, r.inst_key,
                   sum(r.dropped) AS dropped, sum(r.evicted) AS evicted, sum(r.rejected) AS rejected
            FROM reports r WHERE {IN_WINDOW}
            GROUP BY ALL
        ), per_period AS (
            SELECT period, count(*) AS active,
                   count(*) FILTER (WHERE dropped > 0) AS dropped_i, sum(dropped) AS dropped,
                   count(*) FILTER (WHERE evicted > 0) AS evicted_i, sum(evicted) AS evicted,
                   count(*) FILTER (WHERE rejected > 0) AS rejected_i, sum(rejected) AS rejected
            FROM per_installation GROUP BY period
        )
        SELECT period, counter, installations, lost, installations / active AS share_of_active FROM (
            SELECT period, 'dropped' AS counter, dropped_i AS installations, dropped AS lost, active FROM per_period
            UNION ALL SELECT period, 'evicted', evicted_i, evicted, active FROM per_period
            UNION ALL SELECT period, 'rejected', rejected_i, rejected, active FROM per_period
        ) ORDER BY period, counter
    """
    return g.table(
        f"Client-side losses by {w.period}",
        sql,
        g.params(w),
        ["period", "counter"],
        ["lost", "share_of_active"],
        notes=(
            "dropped: recording calls refused or over limits; evicted: queued reports discarded when the queue"
            " was full; rejected: reports the collector refused",
        ),
    )
