"""What is released, for which periods, and how a budget is split among the releases.

Every release is one table of one application for one closed period (a day, an ISO week or a
calendar month). Its keys come from the registry's closed sets (public partitions), so every
declared key is released, zero cells too. A release is made of parts (noisy vectors): counts of
installations, and where a question has one, a clamped sum (uses, seconds, sessions, losses).

The budget (ρ per application and ISO week, zCDP) is split by period length, then by weight
among the releases of that length. A week overlaps at most 7 days, its own week and 2 months,
so the shares below spend at most the whole budget of any week (docs/privacy.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

DEFAULT_BUDGET_RHO: Final = 0.5  # per application and week; ε ≈ 6.2 at δ = 1e-7 (docs/privacy.md)
DEFAULT_GRACE_DAYS: Final = 2  # a period is released this many days after it ends (late reports)
PERIOD_KINDS: Final = ("day", "week", "month")
# Share of a week's budget each period kind may take from it (a week meets 7 days, 1 week, ≤ 2 months).
PERIOD_SHARE: Final = {"day": 0.05 / 7, "week": 0.55, "month": 0.20}
LOSS_BOUND: Final = 10  # client-side losses: what one installation adds per counter and period


@dataclass(frozen=True, slots=True)
class Spec:
    """One released question: its name, what it counts, its parts' weights, the periods it is made for."""

    name: str
    title: str
    source: str  # "active" | "enum" | "version" | "features" | "usage" | "sessions" | "losses"
    metric: str | None = None
    weight: float = 1.0  # its share of its period kind's budget, relative to the others
    kinds: tuple[str, ...] = ("week", "month")


SPECS: Final = (
    Spec("active", "Active installations", "active", kinds=PERIOD_KINDS),
    Spec("os", "Operating systems", "enum", "system.os_family"),
    Spec("os-version", "Operating system versions", "enum", "system.os_version"),
    Spec("versions", "App versions", "version"),
    Spec("cpu-cores", "CPU cores", "enum", "system.cpu_cores", 0.5),
    Spec("ram", "RAM (GiB)", "enum", "system.ram_gib", 0.5),
    Spec("display", "Main display class", "enum", "system.display_class", 0.5),
    Spec("displays", "Number of displays", "enum", "system.displays", 0.5),
    Spec("features", "Feature usage", "features", weight=3.0),
    Spec("usage-time", "Usage time", "usage", "session.usage_seconds"),
    Spec("session-lengths", "Session lengths", "sessions", "session.length"),
    Spec("client-losses", "Client-side losses", "losses"),
)
SPEC_BY_NAME: Final = {spec.name: spec for spec in SPECS}
# The parts of a source: (measure, share of the release's ρ). Counts take the larger share.
PARTS: Final = {
    "active": (("installations", 1.0),),
    "enum": (("installations", 1.0),),
    "version": (("installations", 1.0),),
    "features": (("installations", 0.6), ("uses", 0.4)),
    "usage": (("installations", 0.5), ("seconds", 0.5)),
    "sessions": (("installations", 0.5), ("sessions", 0.5)),
    "losses": (("installations", 0.5), ("lost", 0.5)),
}


def specs_for(kind: str, declared: set[str]) -> list[Spec]:
    """The releases made for a period kind, for an application whose registry declares ``declared``."""
    return [s for s in SPECS if kind in s.kinds and (s.metric is None or s.metric in declared)]


def release_rho(spec: Spec, kind: str, budget: float) -> float:
    """ρ of one release: its period kind's share of the weekly budget, split by weight (fixed per spec)."""
    total = sum(s.weight for s in SPECS if kind in s.kinds)
    return budget * PERIOD_SHARE[kind] * spec.weight / total


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
