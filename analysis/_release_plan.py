"""What is released, for which periods, and how a budget is split among the releases.

Every release is one table of one application for one closed period (a day, an ISO week or a
calendar month). Its keys come from the registry's closed sets (public partitions), so every
declared key is released, zero cells too. A release is made of parts (noisy vectors): counts of
installations, and where a question has one, a clamped sum (uses, seconds, sessions, losses).

The budget (ρ per application and ISO week, zCDP) is split by period length, then by weight
among the releases of that length. A week overlaps at most 7 days, its own week and 2 months,
and is read by the retention releases of the RETENTION_READ_WEEKS weeks from it on, so the
shares below spend at most the whole budget of any week (docs/privacy.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

DEFAULT_BUDGET_RHO: Final = 0.5  # per application and week; ε ≈ 6.2 at δ = 1e-7 (docs/privacy.md)
DEFAULT_GRACE_DAYS: Final = 2  # a period is released this many days after it ends (late reports)
PERIOD_KINDS: Final = ("day", "week", "month")
# Share of a week's budget each period kind may take from it (a week meets 7 days, 1 week, ≤ 2 months).
PERIOD_SHARE: Final = {"day": 0.05 / 7, "week": 0.45, "month": 0.20}
# Retention reads history: the release of week P counts, per cohort of the RETENTION_COHORTS weeks up
# to P, its installations active in P. An installation's cohort is the latest week it started in: a
# week with a report after RETENTION_GUARD_WEEKS weeks without one. So it reads the weeks P-15..P
# and is charged to each of them; every week reserves RETENTION_SHARE of its budget for the
# RETENTION_READ_WEEKS retention releases that read it.
RETENTION_COHORTS: Final = 12
RETENTION_GUARD_WEEKS: Final = 4
RETENTION_READ_WEEKS: Final = RETENTION_COHORTS + RETENTION_GUARD_WEEKS
RETENTION_SHARE: Final = 0.10
LOSS_BOUND: Final = 10  # client-side losses: what one installation adds per counter and period


# The dimensions feature usage is broken down by: name -> (title, the metric holding an installation's
# value (None: its app version), the release counting active installations per value).
DIMENSIONS: Final = {
    "os": ("OS family", "system.os_family", "os"),
    "version": ("app version", None, "versions"),
    "cpu-cores": ("CPU cores", "system.cpu_cores", "cpu-cores"),
    "ram": ("RAM (GiB)", "system.ram_gib", "ram"),
    "display": ("display class", "system.display_class", "display"),
    "language": ("language", "system.language", "language"),
}
MAIN_DIMENSIONS: Final = ("os", "version")  # asked most: a larger share of the budget, less noise
BREAKDOWN_SEP: Final = "|"  # a breakdown cell's key: "<value>|<feature>" (neither holds it: registry names)


@dataclass(frozen=True, slots=True)
class Spec:
    """One released question: its name, what it counts, its parts' weights, the periods it is made for."""

    name: str
    title: str
    source: str  # "active" | "enum" | "version" | "features" | "breakdown" | "usage" | "sessions" | "losses"
    metric: str | None = None
    weight: float = 1.0  # its share of its period kind's budget, relative to the others
    kinds: tuple[str, ...] = ("week", "month")
    reserved: float = 0.0  # a share of every budget week kept for this question alone (not split by weight)
    lookback_weeks: int = 0  # weekly releases only: the weeks before its own that a release also reads


SPECS: Final = (
    Spec("active", "Active installations", "active", kinds=PERIOD_KINDS),
    Spec("os", "Operating systems", "enum", "system.os_family"),
    Spec("os-version", "Operating system versions", "enum", "system.os_version"),
    Spec("versions", "App versions", "version"),
    Spec("cpu-cores", "CPU cores", "enum", "system.cpu_cores", 0.5),
    Spec("ram", "RAM (GiB)", "enum", "system.ram_gib", 0.5),
    Spec("display", "Main display class", "enum", "system.display_class", 0.5),
    Spec("displays", "Number of displays", "enum", "system.displays", 0.5),
    Spec("language", "Interface language", "enum", "system.language", 0.5),
    Spec("features", "Feature usage", "features", weight=3.0),
    *(
        Spec(f"features-by-{name}", f"Feature usage by {title}", "breakdown", metric, weight)
        for name, (title, metric, _) in DIMENSIONS.items()
        for weight in [1.0 if name in MAIN_DIMENSIONS else 0.5]
    ),
    Spec("usage-time", "Usage time", "usage", "session.usage_seconds"),
    Spec("session-lengths", "Session lengths", "sessions", "session.length"),
    Spec("client-losses", "Client-side losses", "losses"),
    Spec(
        "retention",
        "Retention by weekly cohort",
        "retention",
        kinds=("week",),
        reserved=RETENTION_SHARE,
        lookback_weeks=RETENTION_READ_WEEKS - 1,
    ),
)
SPEC_BY_NAME: Final = {spec.name: spec for spec in SPECS}
# The parts of a source: (measure, share of the release's ρ). Counts take the larger share.
PARTS: Final = {
    "active": (("installations", 1.0),),
    "enum": (("installations", 1.0),),
    "version": (("installations", 1.0),),
    "features": (("installations", 0.6), ("uses", 0.4)),
    "breakdown": (("installations", 0.6), ("uses", 0.4)),
    "usage": (("installations", 0.5), ("seconds", 0.5)),
    "sessions": (("installations", 0.5), ("sessions", 0.5)),
    "losses": (("installations", 0.5), ("lost", 0.5)),
    "retention": (("installations", 1.0),),  # per cohort, its installations active in the week
}


def specs_for(kind: str, declared: set[str]) -> list[Spec]:
    """The releases made for a period kind, for an application whose registry declares ``declared``."""
    return [s for s in SPECS if kind in s.kinds and (s.metric is None or s.metric in declared)]


def release_rho(spec: Spec, kind: str, budget: float) -> float:
    """ρ of one release: its period kind's share of the weekly budget, split by weight (fixed per spec).

    A question with a reserved share (weekly only) spends it over the budget weeks each release reads:
    every week is read by that many of its releases.
    """
    if spec.reserved:
        return budget * spec.reserved / (spec.lookback_weeks + 1)
    total = sum(s.weight for s in SPECS if kind in s.kinds and not s.reserved)
    return budget * PERIOD_SHARE[kind] * spec.weight / total


def read_span(spec: Spec, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The days a release of the period ``start``..``end`` reads (and whose budget weeks it is charged to)."""
    return start - dt.timedelta(weeks=spec.lookback_weeks), end


def period_of(day: dt.date, kind: str) -> tuple[dt.date, dt.date]:
    """First and last day of the period of ``kind`` holding ``day`` (ISO weeks start on Monday)."""
    if kind == "day":
        return day, day
    if kind == "week":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    start = day.replace(day=1)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return start, following - dt.timedelta(days=1)


def periods_between(first: dt.date, last: dt.date, kind: str) -> list[tuple[dt.date, dt.date]]:
    """Every period of ``kind`` that holds a day from ``first`` to ``last``, in order."""
    out = []
    start, end = period_of(first, kind)
    while start <= last:
        out.append((start, end))
        start, end = period_of(end + dt.timedelta(days=1), kind)
    return out


def budget_weeks(start: dt.date, end: dt.date) -> list[dt.date]:
    """The Mondays of the budget weeks a period overlaps (each is charged the release's ρ)."""
    return [week for week, _ in periods_between(start, end, "week")]
