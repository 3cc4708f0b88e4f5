"""Questions over time: each period is its own partition of the installations active in it.

A cell is (period, value). Every cell under k installations is suppressed, and complementary
suppression runs within each period, because a period's shares add up to its active total.
"""

from __future__ import annotations

from ._gateway import Gateway, Table
from ._latest import latest_share
from ._window import IN_WINDOW, PERIOD_SQL, Window


def enum_trend(g: Gateway, w: Window, metric: str, title: str) -> Table:
    """Per period, the share of that period's active installations by the latest value each reported."""
    return latest_share(g, w, title, metric, by_period=True)


def os_trend(g: Gateway, w: Window) -> Table:
    return enum_trend(g, w, "system.os_family", "Operating systems")


def os_version_trend(g: Gateway, w: Window) -> Table:
    return enum_trend(g, w, "system.os_version", "Operating system versions")


def cpu_cores_trend(g: Gateway, w: Window) -> Table:
    return enum_trend(g, w, "system.cpu_cores", "CPU cores")


def ram_trend(g: Gateway, w: Window) -> Table:
    return enum_trend(g, w, "system.ram_gib", "RAM (GiB)")


def display_trend(g: Gateway, w: Window) -> Table:
    return enum_trend(g, w, "system.display_class", "Main display class")


def displays_trend(g: Gateway, w: Window) -> Table:
    return enum_trend(g, w, "system.displays", "Number of displays")


def version_trend(g: Gateway, w: Window) -> Table:
    """Per period, the share of active installations by the latest app version each ran."""
    return latest_share(g, w, "App version adoption", None, by_period=True)


def _active(g: Gateway, w: Window, period: str) -> Table:
    sql = f"""
        SELECT {PERIOD_SQL[period]} AS period, count(DISTINCT r.inst_key) AS installations
        FROM reports r WHERE {IN_WINDOW}
        GROUP BY period ORDER BY period
    """
    cut = "the first and last period may be cut by the window"
    notes = {"day": (), "week": (f"weeks start on Monday; {cut}",), "month": (cut,)}[period]
    return g.table(f"Active installations per {period}", sql, g.params(w), ["period"], [], notes=notes)


def active_daily(g: Gateway, w: Window) -> Table:
    return _active(g, w, "day")


def active_weekly(g: Gateway, w: Window) -> Table:
    return _active(g, w, "week")


def active_monthly(g: Gateway, w: Window) -> Table:
    return _active(g, w, "month")
