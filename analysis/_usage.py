"""Usage time: hours in use per installation and day, and how long sessions last."""

from __future__ import annotations

from ._gateway import Gateway, Table
from ._window import IN_WINDOW, Window

SECONDS_PER_HOUR = 3600.0


def usage_time(g: Gateway, w: Window) -> Table:
    """Per period: installations that used the app, and hours of use per day of use (median, p90)."""
    sql = f"""
        WITH per_day AS (
            SELECT {w.period_sql} AS period, r.inst_key, r.day, sum(v.value) / {SECONDS_PER_HOUR} AS hours
            FROM reports r
            JOIN report_values v ON v.report_key = r.report_key
            WHERE {IN_WINDOW} AND v.metric_key = $4
            GROUP BY ALL
            HAVING sum(v.value) > 0
        ), per_installation AS (
            SELECT period, inst_key, sum(hours) AS hours, count(*) AS days, sum(hours) / count(*) AS hours_per_day
            FROM per_day GROUP BY period, inst_key
        )
        SELECT period, count(*) AS installations, sum(hours) AS hours, avg(days) AS days_used,
               median(hours_per_day) AS median_hours_per_day, quantile_cont(hours_per_day, 0.9) AS p90_hours_per_day
        FROM per_installation GROUP BY period ORDER BY period
    """
    return g.table(
        f"Usage time by {w.period}",
        sql,
        [*g.params(w), g.metric_key(w, "session.usage_seconds")],
        ["period"],
        ["hours", "days_used", "median_hours_per_day", "p90_hours_per_day"],
        notes=("hours per day of use, per installation: median and 90th percentile across installations",),
    )


def session_lengths(g: Gateway, w: Window) -> Table:
    """Sessions by length range: how many installations had sessions that long, and how many sessions.

    No total is shown: installations can fall in several ranges, and a total of sessions would
    let a suppressed range be recovered by subtraction.
    """
    sql = f"""
        WITH per_installation AS (
            SELECT l.label_key AS bucket, l.label AS length, r.inst_key, sum(v.value) AS sessions
            FROM reports r
            JOIN report_values v ON v.report_key = r.report_key
            JOIN labels l ON l.metric_key = $4 AND l.label_key = v.label_key
            WHERE {IN_WINDOW} AND v.metric_key = $4
            GROUP BY ALL
            HAVING sum(v.value) > 0
        )
        SELECT length, count(*) AS installations, sum(sessions) AS sessions,
               sum(sessions) / count(*) AS sessions_per_installation
        FROM per_installation GROUP BY bucket, length ORDER BY bucket
    """
    return g.table(
        "Session lengths",
        sql,
        [*g.params(w), g.metric_key(w, "session.length")],
        ["length"],
        ["sessions", "sessions_per_installation"],
    )
