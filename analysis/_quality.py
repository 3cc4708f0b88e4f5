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
        f"Rejected reports by {w.period}", sql, [w.first_day, w.last_day], ["period", "reason"],
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
        ), counters AS (
            UNPIVOT per_installation ON dropped, evicted, rejected INTO NAME counter VALUE lost
        )
        SELECT period, counter, count(*) FILTER (WHERE lost > 0) AS installations, sum(lost) AS lost,
               count(*) FILTER (WHERE lost > 0) / count(*) AS share_of_active
        FROM counters GROUP BY period, counter ORDER BY period, counter
    """
    return g.table(
        f"Client-side losses by {w.period}", sql, w.params, ["period", "counter"], ["lost", "share_of_active"],
        notes=("dropped: recording calls refused or over limits; evicted: queued reports discarded when the queue was full; rejected: reports the collector refused",),
    )
