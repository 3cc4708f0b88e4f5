#!/usr/bin/env python3
"""bench/client.py: the three client ratios of SPEC §6, measured in one run on this machine.

    python bench/client.py            (from the repository, with the test extras installed)

1. counter increment with feedback on  vs  prometheus_client labelled Counter: c.labels("x").inc()
2. recording call with feedback off, one row per kind of the recording API (count, labelled count,
   flag, choose, quantity, duration, timer, start_session, end_session), each against a plain
   Python function with the same signature called with the same arguments
3. import + Feedback construction, off vs  python -c "import platformdirs, orjson"
   (also checks that aiohttp, psutil and duckdb were not imported)

The timer's reference. ``with feedback.timer(name): ...`` is a ``with`` statement, so its plain
equivalent is the cheapest ``with`` statement plain Python can write with the same argument:
``with plain_timer(name): pass``, where ``plain_timer`` is a plain function that returns one
ready-made object whose ``__enter__`` and ``__exit__`` are plain methods that do nothing. That is
the floor of any pure-Python context manager (one call, then the two protocol calls), and it is
stricter than ``with nullcontext(): pass``, which also builds an object per use and would flatter
us. Below the table, for scale, the same timer is also set against a single plain call, the
reference of the other kinds (the ``with`` protocol alone costs two more calls; no target).

Micro-benchmarks take the best of interleaved repeats; start-up compares the median CPU time
(user + sys) of interleaved child interpreters, with bytecode caching allowed in both, so that
noise from other work on the machine cancels out of the ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

REPEATS = 9
CALLS = 200_000
STARTS = 31

STARTUP_BASE = "import platformdirs, orjson"
STARTUP_OURS = """
import sys
from pathlib import Path
from optin.contract import bundled_registry_file
from optin.client import AppPaths, Feedback, FeedbackOptions
feedback = Feedback(bundled_registry_file("millwright"), app_version="2025.3.0", endpoint="https://telemetry.invalid", options=FeedbackOptions(paths=AppPaths.under(Path(sys.argv[1]))))
feedback.count("toolpath.pocket")
heavy = sorted(m for m in ("aiohttp", "psutil", "duckdb", "pyarrow") if m in sys.modules)
assert not feedback.is_on and not heavy, heavy
"""


def best_per_call(statements: dict[str, tuple[str, dict[str, object]]]) -> dict[str, float]:
    """Interleave the statements REPEATS times; best seconds per call of each."""
    best = dict.fromkeys(statements, float("inf"))
    for _ in range(REPEATS):
        for name, (stmt, namespace) in statements.items():
            best[name] = min(best[name], timeit.timeit(stmt, globals=namespace, number=CALLS) / CALLS)
    return best


def child_cpu_seconds(code: str, arg: str, env: dict[str, str]) -> float:
    proc = subprocess.Popen([sys.executable, "-c", code, arg], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"start-up child failed with status {status}")
    return usage.ru_utime + usage.ru_stime


class PlainTimer:
    """The timer's reference (see the module docstring): a context manager whose methods do nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


PLAIN_TIMER = PlainTimer()


def plain_count(name: str, n: int = 1, label: str | None = None) -> None:
    pass


def plain_flag(name: str, value: bool = True) -> None:
    pass


def plain_value(name: str, value: object) -> None:  # choose(name, value), quantity(name, value), duration(name, s)
    pass


def plain_timer(name: str) -> PlainTimer:
    return PLAIN_TIMER


def plain_session() -> None:
    pass


# kind -> (the call on a Feedback that is off, its plain equivalent): the same signature, the same arguments.
OFF_CALLS = {
    "count": ('off.count("toolpath.pocket")', 'plain_count("toolpath.pocket")'),
    "count, labelled": ('off.count("post.run", 1, "fanuc")', 'plain_count("post.run", 1, "fanuc")'),
    "flag": ('off.flag("simulation.collision_check", True)', 'plain_flag("simulation.collision_check", True)'),
    "choose": ('off.choose("ui.theme", "dark")', 'plain_value("ui.theme", "dark")'),
    "quantity": ('off.quantity("model.part_count", 120)', 'plain_value("model.part_count", 120)'),
    "duration": ('off.duration("simulation.duration", 12.5)', 'plain_value("simulation.duration", 12.5)'),
    "timer": (
        'with off.timer("simulation.duration"):\n    pass',
        'with plain_timer("simulation.duration"):\n    pass',
    ),
    "start_session": ("off.start_session()", "plain_session()"),
    "end_session": ("off.end_session()", "plain_session()"),
}
PLAIN = {
    "plain_count": plain_count,
    "plain_flag": plain_flag,
    "plain_value": plain_value,
    "plain_timer": plain_timer,
    "plain_session": plain_session,
}


def main() -> int:
    from prometheus_client import CollectorRegistry, Counter

    from optin.client import AppPaths, Feedback, FeedbackOptions
    from optin.client.testing import InMemoryTransport
    from optin.contract import bundled_registry

    registry = bundled_registry("millwright")
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        on = Feedback(
            registry,
            app_version="2025.3.0",
            endpoint="http://127.0.0.1:9",
            options=FeedbackOptions(paths=AppPaths.under(Path(on_dir)), transport=InMemoryTransport(), facts=dict),
        )
        on.turn_on()
        off = Feedback(
            registry,
            app_version="2025.3.0",
            endpoint="http://127.0.0.1:9",
            options=FeedbackOptions(paths=AppPaths.under(Path(off_dir))),
        )
        counter = Counter("feature_uses", "Feature uses", ["feature"], registry=CollectorRegistry())

        namespace: dict[str, object] = {"off": off, **PLAIN}
        statements: dict[str, tuple[str, dict[str, object]]] = {
            "optin on": ('on.count("toolpath.pocket")', {"on": on}),
            "prometheus": ('counter.labels("toolpath.pocket").inc()', {"counter": counter}),
        }
        for kind, (off_call, plain_call) in OFF_CALLS.items():
            statements[f"off {kind}"] = (off_call, namespace)
            statements[f"plain {kind}"] = (plain_call, namespace)
        per_call = best_per_call(statements)
        assert on.is_on and not off.is_on  # each measured in the state its rows name
        on.close(1.0)
        off.close(1.0)

        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base: list[float] = []
        ours: list[float] = []
        with tempfile.TemporaryDirectory() as start_dir:
            for _ in range(3):  # warm the bytecode caches of both
                child_cpu_seconds(STARTUP_BASE, start_dir, env)
                child_cpu_seconds(STARTUP_OURS, start_dir, env)
            for _ in range(STARTS):
                base.append(child_cpu_seconds(STARTUP_BASE, start_dir, env))
                ours.append(child_cpu_seconds(STARTUP_OURS, start_dir, env))

    rows: list[tuple[str, float, str, float, float]] = [
        (
            "counter increment, feedback on",
            per_call["optin on"],
            "prometheus_client labelled Counter.inc()",
            per_call["prometheus"],
            0.5,
        ),
        *(
            (
                f"off: {kind}",
                per_call[f"off {kind}"],
                "plain with statement, same argument" if kind == "timer" else "plain call, same arguments",
                per_call[f"plain {kind}"],
                1.5,
            )
            for kind in OFF_CALLS
        ),
        (
            "import + construction, feedback off",
            statistics.median(ours),
            'python -c "import platformdirs, orjson"',
            statistics.median(base),
            1.1,
        ),
    ]
    print(f"{'what':38} {'ours':>12} {'reference':>12}  {'ratio':>6}  {'target':>7}  reference")
    for what, mine, ref_name, ref, target in rows:
        ratio = mine / ref
        unit = 1e9 if mine < 1e-3 else 1e3
        suffix = "ns" if unit == 1e9 else "ms"
        ok = ratio <= target
        print(
            f"{what:38} {mine * unit:10.1f}{suffix} {ref * unit:10.1f}{suffix}  {ratio:5.2f}×  ≤{target:.1f}× {'ok ' if ok else 'MISS'}  {ref_name}"
        )
    scale = per_call["off timer"] / per_call["plain count"]
    print(f"for scale (no target): off timer vs one plain call plain_count(name): {scale:.2f}×")
    print("start-up child imported none of aiohttp, psutil, duckdb, pyarrow (asserted in the child)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
