"""Canned questions. Each is SQL over the at-rest contract, answered through the gateway."""

from __future__ import annotations

from collections.abc import Callable

from ._gateway import Gateway, Table
from ._latest import latest_share
from ._quality import client_losses, rejections
from ._trends import (
    active_daily,
    active_monthly,
    active_weekly,
    cpu_cores_trend,
    display_trend,
    displays_trend,
    os_trend,
    os_version_trend,
    ram_trend,
    version_trend,
)
from ._usage import session_lengths, usage_time
from ._window import IN_WINDOW as _IN_WINDOW
from ._window import Window


def active_installations(g: Gateway, w: Window) -> int | None:
    """Distinct installations that sent any report in the window (None when below k)."""
    return g.scalar_installations(f"SELECT count(DISTINCT r.inst_key) FROM reports r WHERE {_IN_WINDOW}", g.params(w))


def feature_usage(g: Gateway, w: Window) -> Table:
    """The relative value of functionalities: share of active installations using each feature, ranked."""
    active = active_installations(g, w)
    sql = f"""
        WITH per_installation AS (
            SELECT v.metric_key, r.inst_key, sum(v.value) AS uses
            FROM reports r
            JOIN report_values v ON v.report_key = r.report_key
            WHERE {_IN_WINDOW}
              AND v.metric_key IN (
                SELECT metric_key FROM metrics WHERE app_key = $1 AND kind = 'counter' AND category = 'usage'
              )
            GROUP BY ALL
            HAVING sum(v.value) > 0
        )
        SELECT m.name AS feature, count(*) AS installations, sum(uses) AS uses,
               median(uses) AS median_uses, quantile_cont(uses, 0.9) AS p90_uses
        FROM per_installation p JOIN metrics m ON m.metric_key = p.metric_key
        GROUP BY m.name
        ORDER BY installations DESC, uses DESC, feature
    """
    table = g.table("Feature usage", sql, g.params(w), ["feature"], ["uses", "median_uses", "p90_uses"])
    rows = []
    for feature, installs, uses, median, p90 in table.rows:
        share = None if installs is None or active is None else installs / active
        per_active = None if uses is None or active is None else uses / active
        rows.append((feature, installs, share, per_active, median, p90))
    return Table(
        table.title,
        ("feature", "installations", "share_of_active", "uses_per_active", "median_uses", "p90_uses"),
        rows,
        table.k,
        table.suppressed,
        (f"active installations: {active if active is not None else f'fewer than {g.k}'}",),
    )


def _latest_enum(g: Gateway, w: Window, metric: str, title: str) -> Table:
    """Share of active installations by the latest value each reported (a partition of the active total)."""
    return latest_share(g, w, title, metric, by_period=False)


def os_share(g: Gateway, w: Window) -> Table:
    return _latest_enum(g, w, "system.os_family", "Operating systems")


def os_version_share(g: Gateway, w: Window) -> Table:
    return _latest_enum(g, w, "system.os_version", "Operating system versions")


def version_adoption(g: Gateway, w: Window) -> Table:
    """Share of active installations by the latest app version each reported."""
    return latest_share(g, w, "App version adoption", None, by_period=False)


Question = Callable[[Gateway, Window], Table]

# Every canned question by its CLI and endpoint name; the collector's aggregate endpoints serve exactly these.
QUESTIONS: dict[str, Question] = {
    "features": feature_usage,
    "os": os_share,
    "os-version": os_version_share,
    "versions": version_adoption,
    "active-daily": active_daily,
    "active-weekly": active_weekly,
    "active-monthly": active_monthly,
    "os-trend": os_trend,
    "os-version-trend": os_version_trend,
    "cpu-cores-trend": cpu_cores_trend,
    "ram-trend": ram_trend,
    "display-trend": display_trend,
    "displays-trend": displays_trend,
    "versions-trend": version_trend,
    "usage-time": usage_time,
    "session-lengths": session_lengths,
    "client-losses": client_losses,
    "rejections": rejections,
}
