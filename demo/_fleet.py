"""A simulated fleet of Millwright installations: who they are, what they use, who opts in.

The plan is deterministic for a seed, so a test can compute what the aggregates must be
independently of the client, collector and analysis that the demo runs it through.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from optin.contract import Value

FLEET_SIZE: Final = 300
FLEET_DAYS: Final = 30
OPT_IN_SHARE: Final = 0.25

# (metric, label or None) → (share of installations that ever use it, largest daily count)
FEATURES: Final[dict[tuple[str, str | None], tuple[float, int]]] = {
    ("sketch.line", None): (0.95, 40),
    ("sketch.arc", None): (0.85, 20),
    ("sketch.circle", None): (0.9, 15),
    ("sketch.spline", None): (0.3, 6),
    ("sketch.dimension", None): (0.8, 25),
    ("sketch.constraint", None): (0.6, 20),
    ("solid.extrude", None): (0.85, 12),
    ("solid.revolve", None): (0.4, 5),
    ("solid.fillet", None): (0.7, 10),
    ("solid.chamfer", None): (0.55, 8),
    ("solid.boolean", None): (0.5, 6),
    ("solid.shell", None): (0.2, 3),
    ("surface.loft", None): (0.15, 3),
    ("surface.sweep", None): (0.12, 3),
    ("surface.patch", None): (0.05, 2),
    ("toolpath.contour", None): (0.9, 12),
    ("toolpath.pocket", None): (0.88, 10),
    ("toolpath.drill", None): (0.8, 8),
    ("toolpath.face", None): (0.65, 4),
    ("toolpath.adaptive", None): (0.45, 6),
    ("toolpath.engrave", None): (0.18, 3),
    ("toolpath.thread_mill", None): (0.1, 2),
    ("toolpath.lathe_turn", None): (0.25, 6),
    ("toolpath.multiaxis", None): (0.08, 4),
    ("toolpath.regenerate", None): (0.85, 30),
    ("simulation.run", None): (0.75, 8),
    ("post.run", "fanuc"): (0.45, 6),
    ("post.run", "haas"): (0.35, 6),
    ("post.run", "heidenhain"): (0.12, 4),
    ("post.run", "siemens"): (0.1, 4),
    ("post.run", "grbl"): (0.03, 3),
    ("file.import", "step"): (0.7, 5),
    ("file.import", "iges"): (0.25, 3),
    ("file.import", "dxf"): (0.5, 4),
    ("file.import", "stl"): (0.1, 2),
    ("file.export", "step"): (0.3, 3),
    ("file.export", "dxf"): (0.2, 3),
    ("edit.undo", None): (0.97, 50),
    ("edit.redo", None): (0.6, 10),
    ("view.section", None): (0.35, 5),
    ("view.measure", None): (0.75, 15),
    ("tool_library.edit", None): (0.4, 3),
    ("setup_sheet.create", None): (0.3, 2),
}

_OS: Final = [
    (0.80, "windows", ["windows-10", "windows-11"], [0.35, 0.65]),
    (0.08, "macos", ["macos-14", "macos-15"], [0.4, 0.6]),
    (0.12, "linux", ["linux-kernel-5", "linux-kernel-6"], [0.3, 0.7]),
]
_VERSIONS: Final = ["2025.1.4", "2025.2.1", "2025.3.0"]


@dataclass(frozen=True, slots=True)
class Machine:
    facts: dict[str, Value]


@dataclass(frozen=True, slots=True)
class Installation:
    index: int
    machine: Machine
    versions: tuple[str, ...]  # app version on each day
    opt_in_day: int | None  # the day the user turns feedback on from the Help menu (None: never)
    opt_out_day: int | None  # a later day the user turns it off again (its data is then erased)
    usage: tuple[dict[tuple[str, str | None], int], ...]  # per day: counts recorded
    theme: str
    session_hours: tuple[float, ...]  # per day; 0 means the app was not used that day

    def on_during(self, day: int) -> bool:
        if self.opt_in_day is None or day < self.opt_in_day:
            return False
        return self.opt_out_day is None or day < self.opt_out_day

    @property
    def keeps_data(self) -> bool:
        """Opted in and never opted out: its reports stay in the collector."""
        return self.opt_in_day is not None and self.opt_out_day is None


def _machine(rng: random.Random) -> Machine:
    roll, acc = rng.random(), 0.0
    family, versions, weights = _OS[-1][1:]
    for share, fam, vers, w in _OS:
        acc += share
        if roll < acc:
            family, versions, weights = fam, vers, w
            break
    arch = "arm64" if family == "macos" and rng.random() < 0.7 else "x86_64"
    vendor = "apple" if arch == "arm64" else rng.choices(["intel", "amd"], [0.6, 0.4])[0]
    facts: dict[str, Value] = {
        "system.os_family": family,
        "system.os_version": rng.choices(versions, weights)[0],
        "system.arch": arch,
        "system.cpu_vendor": vendor,
        "system.cpu_cores": rng.choices([4, 8, 16, 32], [0.15, 0.45, 0.3, 0.1])[0],
        "system.ram_gib": rng.choices([8, 16, 32, 64, 128], [0.1, 0.35, 0.35, 0.15, 0.05])[0],
        "system.disk_gib": rng.choices([256, 512, 1024, 2048], [0.15, 0.4, 0.35, 0.1])[0],
        "system.displays": rng.choices([1, 2, 3], [0.45, 0.45, 0.1])[0],
        "system.display_class": rng.choices(["full-hd", "qhd", "4k"], [0.5, 0.3, 0.2])[0],
        "system.language": rng.choices(["en", "de", "fr", "ja", "it"], [0.55, 0.2, 0.1, 0.1, 0.05])[0],
    }
    return Machine(facts)


def plan_fleet(size: int = FLEET_SIZE, days: int = FLEET_DAYS, seed: int = 2026) -> list[Installation]:
    rng = random.Random(seed)
    fleet = []
    for index in range(size):
        machine = _machine(rng)
        first = rng.choices(range(len(_VERSIONS)), [0.2, 0.5, 0.3])[0]
        upgrade_day = rng.randrange(days) if first < len(_VERSIONS) - 1 and rng.random() < 0.5 else None
        versions = tuple(
            _VERSIONS[-1] if upgrade_day is not None and day >= upgrade_day else _VERSIONS[first] for day in range(days)
        )
        opt_in_day = opt_out_day = None
        if rng.random() < OPT_IN_SHARE:
            opt_in_day = 0 if rng.random() < 0.6 else rng.randrange(1, days // 2)  # some say yes when asked again
            if rng.random() < 0.06:
                opt_out_day = rng.randrange(opt_in_day + 1, days)
        used = {feature: max_count for feature, (share, max_count) in FEATURES.items() if rng.random() < share}
        usage, hours = [], []
        for day in range(days):
            active = (day % 7) < 5 and rng.random() < 0.85
            hours.append(round(rng.uniform(0.5, 9.0), 2) if active else 0.0)
            today = {f: rng.randint(1, m) for f, m in used.items() if active and rng.random() < 0.6}
            usage.append(today)
        theme = rng.choices(["light", "dark", "high-contrast"], [0.45, 0.5, 0.05])[0]
        fleet.append(Installation(index, machine, versions, opt_in_day, opt_out_day, tuple(usage), theme, tuple(hours)))
    return fleet
