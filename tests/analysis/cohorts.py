"""A fleet with known cohorts, and retention's exact released vector computed in plain Python.

`generate` gives each installation a known first week and, each later week, a known chance of
reporting (falling with age); a few pause for more than the guard and start again, and a few
report every day. `retention_truth` is the plan of docs/privacy.md written without SQL.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from optin.analysis._release_plan import RETENTION_COHORTS, RETENTION_GUARD_WEEKS, RETENTION_READ_WEEKS

from .fleet import Fleet, Report

START = dt.date(2026, 1, 5)  # a Monday
APP = "millwright"


def keep_rate(age: int) -> float:
    """The chance that an installation of a cohort reports in the week ``age`` weeks after it started."""
    return max(0.2, 0.85 - 0.06 * age)


def generate(seed: int, weeks: int = 20, per_week: int = 60, daily: int = 2) -> Fleet:
    rng = random.Random(seed)
    reports: list[Report] = []

    def report(inst: int, day: dt.date) -> None:
        values = {"system.os_family": "windows"}
        reports.append(Report(0, inst, APP, "2025.3.0", day, 0, 0, 0, values))  # type: ignore[arg-type]

    inst = 0
    for first in range(weeks):
        for _ in range(per_week + rng.randrange(-10, 11)):
            inst += 1
            pause = rng.randrange(first + 2, weeks + 6) if rng.random() < 0.1 else None  # quiet 5 weeks, then back
            for week in range(first, weeks):
                if pause is not None and pause <= week < pause + RETENTION_GUARD_WEEKS + 1:
                    continue
                if week == first or rng.random() < keep_rate(week - first):
                    day = START + dt.timedelta(weeks=week, days=rng.randrange(7))
                    for _ in range(rng.choice([1, 1, 2])):
                        report(inst, day)
    for _ in range(daily):  # reports every day of every week
        inst += 1
        for offset in range(weeks * 7):
            report(inst, START + dt.timedelta(days=offset))
    rng.shuffle(reports)
    for key, r in enumerate(reports, 1):
        r.key = key
    return Fleet(reports, {})


def retention_truth(fleet: Fleet, app: str, week: dt.date) -> dict[str, list[int]]:
    """Per cohort age 0..11, the installations of that cohort active in ``week`` (the release's exact vector)."""
    span = week - dt.timedelta(weeks=RETENTION_READ_WEEKS - 1)
    top = RETENTION_READ_WEEKS - 1
    active: dict[int, set[int]] = defaultdict(set)
    for r in fleet.reports:
        if r.app == app and span <= r.day <= week + dt.timedelta(days=6):
            active[r.inst].add((r.day - span).days // 7)
    cells = [0] * RETENTION_COHORTS
    for weeks in active.values():
        if top not in weeks:
            continue
        starts, previous = [], None
        for w in sorted(weeks):
            if w >= RETENTION_GUARD_WEEKS and (previous is None or w - previous > RETENTION_GUARD_WEEKS):
                starts.append(w)
            previous = w
        if starts:
            cells[top - max(starts)] += 1
    return {"installations": cells}
