"""Shares of active installations by the latest value each reported: in the window, or per period.

A value that changes (OS version after an upgrade, app version) counts once per installation:
the latest by arrival order. The rows split the active installations (of the window, or of each
period), so complementary suppression applies within the window or within each period.
"""

from __future__ import annotations

from ._gateway import Gateway, Table
from ._window import IN_WINDOW, Window


def latest_share(g: Gateway, w: Window, title: str, metric: str | None, by_period: bool) -> Table:
    """``metric`` names a closed-set system fact; None means the app version of the reports."""
    period = f"{w.period_sql} AS period, " if by_period else ""
    keys = "period, " if by_period else ""
    if metric is not None:
        column, value = "value", "l.label"
        latest = f"""SELECT {period}r.inst_key, arg_max(v.label_key, r.report_key) AS key
            FROM reports r JOIN report_values v ON v.report_key = r.report_key
            WHERE {IN_WINDOW} AND v.metric_key = $4 GROUP BY ALL"""
        names = "labels l ON l.metric_key = $4 AND l.label_key = x.key"
        params = [*g.params(w), g.metric_key(w, metric)]
    else:
        column, value = "version", "av.version"
        latest = (
            f"SELECT {period}r.inst_key, arg_max(r.version_key, r.report_key) AS key"
            f" FROM reports r WHERE {IN_WINDOW} GROUP BY ALL"
        )
        names = "app_versions av ON av.version_key = x.key"
        params = g.params(w)
    sql = f"""
        WITH latest AS ({latest})
        SELECT {keys}{value} AS {column}, count(*) AS installations,
               count(*) / sum(count(*)) OVER ({"PARTITION BY period" if by_period else ""}) AS share
        FROM latest x JOIN {names}
        GROUP BY {keys}{value} ORDER BY {keys}installations DESC, {column}
    """
    if not by_period:
        return g.table(title, sql, params, [column], ["share"], partition_of_total=True)
    what = "value" if metric is not None else "version"
    return g.table(
        f"{title} by {w.period}",
        sql,
        params,
        ["period", column],
        ["share"],
        partition_of_total=True,
        group_by=["period"],
        notes=(f"latest {what} per installation and {w.period}",),
    )
