#!/usr/bin/env python3
"""bench/client.py: the three client ratios of SPEC §6, measured in one run on this machine.

    python bench/client.py            (from the repository, with the test extras installed)

1. counter increment with feedback on  vs  prometheus_client labelled Counter: c.labels("x").inc()
2. recording call with feedback off    vs  a plain Python function call with the same arguments
3. import + Feedback construction, off vs  python -c "import platformdirs, orjson"
   (also checks that aiohttp, psutil and duckdb were not imported)

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

        def plain(name: str, n: int = 1, label: str | None = None) -> None:
            pass

        per_call = best_per_call(
            {
                "optin on": ('on.count("toolpath.pocket")', {"on": on}),
                "prometheus": ('counter.labels("toolpath.pocket").inc()', {"counter": counter}),
                "optin off": ('off.count("toolpath.pocket")', {"off": off}),
                "plain call": ('plain("toolpath.pocket")', {"plain": plain}),
            }
        )
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

    rows = [
        (
            "counter increment, feedback on",
            per_call["optin on"],
            "prometheus_client labelled Counter.inc()",
            per_call["prometheus"],
            0.5,
        ),
        (
            "recording call, feedback off",
            per_call["optin off"],
            "plain Python function call",
            per_call["plain call"],
            1.5,
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
    print("start-up child imported none of aiohttp, psutil, duckdb, pyarrow (asserted in the child)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
