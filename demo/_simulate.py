"""Run a planned fleet through real clients against a real collector, day by day.

Every installation is a real `Feedback` with its own folders; each simulated day the app
starts at 09:00, the user may flip the Help-menu item, uses features, and closes the app at
17:00 (the clean exit persists and uploads the day's report). One shared manual clock drives
the clients and the collector, so simulated days are the days the reports are filed under.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from optin.client import AppPaths, Feedback, FeedbackOptions, HelpMenu, ManualClock
from optin.contract import Registry

from ._fleet import Installation

DAY_S: Final = 86400
OPEN_AT_S: Final = 9 * 3600
CLOSE_AT_S: Final = 17 * 3600
CLOSE_BUDGET_S: Final = 15.0


def fleet_start(days: int, today: dt.date | None = None) -> int:
    """Midnight UTC, ``days`` days before today: the simulated month ends yesterday."""
    today = today or dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=days)
    return int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())


@dataclass
class FleetRun:
    opted_in: int = 0
    closes_unfinished: int = 0
    seconds: float = 0.0
    roots: dict[int, Path] = field(default_factory=dict)


@dataclass(eq=False)
class Simulation:
    fleet: list[Installation]
    registry: Registry
    endpoint: str
    root: Path
    clock: ManualClock
    start_ts: int
    run: FleetRun = field(default_factory=FleetRun, init=False)
    _open: dict[int, Feedback] = field(default_factory=dict, init=False)

    def paths(self, inst: Installation) -> AppPaths:
        return AppPaths.under(self.root / f"installation-{inst.index:03d}")

    @staticmethod
    def app_runs(inst: Installation, day: int) -> bool:
        """The app is started on days of use, and on the day the user flips the Help-menu item."""
        return bool(inst.session_hours[day]) or day in (inst.opt_in_day, inst.opt_out_day)

    def _morning(self, inst: Installation, day: int) -> None:
        if not self.app_runs(inst, day):
            return
        feedback = self._start(inst, inst.versions[day])
        self._open[inst.index] = feedback
        menu = HelpMenu(feedback)
        if day == inst.opt_in_day or day == inst.opt_out_day:
            menu.toggle()  # the user clicks Help → Customer Feedback Program
        if not inst.session_hours[day]:
            return
        feedback.start_session()
        feedback.choose("ui.theme", inst.theme)
        for (metric, label), n in inst.usage[day].items():
            feedback.count(metric, n, label)
            if metric == "simulation.run":
                for run in range(n):
                    feedback.duration("simulation.duration", 3.0 + 40 * run)
                feedback.flag("simulation.collision_check", True)

    def _start(self, inst: Installation, version: str) -> Feedback:
        """The installation's app starts (its own folders, the fleet's clock, its machine's facts)."""
        facts = dict(inst.machine.facts)
        options = FeedbackOptions(paths=self.paths(inst), clock=self.clock, facts=lambda: facts, environ={})
        return Feedback(self.registry, app_version=version, endpoint=self.endpoint, options=options)

    def _next_start(self, inst: Installation) -> None:
        if not self.paths(inst).consent_file.exists():
            return  # never started
        feedback = self._start(inst, inst.versions[-1])
        if not feedback.close(CLOSE_BUDGET_S):
            self.run.closes_unfinished += 1

    def _evening(self, inst: Installation, day: int) -> None:
        feedback = self._open.pop(inst.index, None)
        if feedback is None:
            return
        if inst.session_hours[day]:
            feedback.end_session()
        if not feedback.close(CLOSE_BUDGET_S):
            self.run.closes_unfinished += 1

    def simulate(self, days: int, threads: int = 8) -> FleetRun:
        began = time.perf_counter()
        with ThreadPoolExecutor(threads, thread_name_prefix="fleet") as pool:
            for day in range(days):
                morning = self.start_ts + day * DAY_S + OPEN_AT_S
                self.clock.set(morning)
                list(pool.map(lambda inst, day=day: self._morning(inst, day), self.fleet))
                # Sessions end at different times; the clock moves to the day's usage end.
                self.clock.set(self.start_ts + day * DAY_S + CLOSE_AT_S)
                list(pool.map(lambda inst, day=day: self._evening(inst, day), self.fleet))
            # One report per day, sent by the app's first start after the day: the morning after the last day
            # every app that ran starts once more, so the last day's reports reach the collector too.
            self.clock.set(self.start_ts + days * DAY_S + OPEN_AT_S)
            list(pool.map(self._next_start, self.fleet))
        self.run.opted_in = sum(1 for inst in self.fleet if inst.opt_in_day is not None)
        self.run.seconds = time.perf_counter() - began
        return self.run
