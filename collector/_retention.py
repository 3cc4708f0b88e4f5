"""Retention: raw rows of old days become daily aggregates, then go (run inside the writer's transaction)."""

from __future__ import annotations

import datetime as dt

import duckdb


def roll_up(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> tuple[int, list[str]]:
    """Roll up and delete the raw rows of days before ``cutoff``.

    Returns (reports removed, installation ids forgotten).
    """
    row = con.execute("SELECT count(*) FROM reports WHERE day < ?", [cutoff]).fetchone()
    removed = int(row[0]) if row else 0
    if not removed:
        return 0, []
    # Per day, app version, metric and label: how many installations and how much. Rows of a
    # day rolled up in two runs (a late report) add up; installations then count per run.
    con.execute(
        """INSERT INTO daily_rollup
           SELECT r.day, r.app_key, r.version_key, v.metric_key, v.label_key, count(DISTINCT r.inst_key), sum(v.value)
           FROM report_values v JOIN reports r ON r.report_key = v.report_key
           WHERE r.day < ? GROUP BY ALL""",
        [cutoff],
    )
    con.execute(
        "DELETE FROM report_values WHERE report_key IN (SELECT report_key FROM reports WHERE day < ?)", [cutoff]
    )
    con.execute("DELETE FROM reports WHERE day < ?", [cutoff])
    # An installation with no raw rows left is forgotten: its UUID is no longer needed for anything.
    gone = con.execute(
        "DELETE FROM installations WHERE inst_key NOT IN (SELECT DISTINCT inst_key FROM reports)"
        " RETURNING CAST(installation_id AS VARCHAR)"
    ).fetchall()
    return removed, [str(installation_id) for (installation_id,) in gone]
