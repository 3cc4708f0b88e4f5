"""python -m optin.demo: a collector on a throw-away DuckDB, a simulated fleet, a released report.

Only the installations whose user turned feedback on from the Help menu send anything; the
rest never open a socket. The report at the end is what a product team sees: differentially
private releases of the closed weeks (noisy counts with 95 % intervals, rows under k shown as
"fewer than k"); the current, unclosed week is not released and not shown.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import TextIO

from optin.analysis import DEFAULT_BUDGET_RHO, LocalSource, Window, epsilon, open_database, render_table
from optin.client import ManualClock
from optin.collector import CollectorThread, Config
from optin.contract import bundled_registry

from ._fleet import FLEET_DAYS, FLEET_SIZE, plan_fleet
from ._simulate import Simulation, fleet_start

APP = "millwright"


def run_demo(
    workdir: Path, size: int = FLEET_SIZE, days: int = FLEET_DAYS, seed: int = 2026, out: TextIO = sys.stdout
) -> Path:
    """Run the whole demo in ``workdir``; returns the database path. Prints to ``out``."""
    write = out.write
    registry = bundled_registry(APP)
    fleet = plan_fleet(size, days, seed)
    start_ts = fleet_start(days)
    clock = ManualClock(start_ts)
    db = workdir / "collector" / "optin.duckdb"
    write(f"Collector: embedded DuckDB at {db}\n")
    token = secrets.token_hex(16)
    with CollectorThread(Config(db=db, host="127.0.0.1", port=0, token=token), clock=clock.now) as collector:
        write(f"Collector listening on {collector.url}\n")
        write(f"Simulating {size} installations of Millwright over {days} days...\n")
        simulation = Simulation(fleet, registry, collector.url, workdir / "fleet", clock, start_ts)
        run = simulation.simulate(days)
        # What the collector's maintenance does on its schedule: release every closed period.
        ask = urllib.request.Request(
            f"{collector.url}/v1/releases", method="POST", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(ask, timeout=600) as answer:
            made = json.loads(answer.read())["made"]
    kept = sum(1 for inst in fleet if inst.keeps_data)
    write(
        f"{run.opted_in} of {size} users turned the Customer Feedback Program on from the Help menu; "
        f"{run.opted_in - kept} later turned it off again (their data was erased). "
        f"The other {size - run.opted_in} sent nothing. ({run.seconds:.1f}s)\n\n"
    )
    source = LocalSource(open_database(db))
    try:
        released = source.days(APP)
        if released is None:
            write("Nothing was released: no period has closed yet.\n")
            return db
        window = Window(APP, *released, "week")
        write(
            f"The collector made {made} releases of the closed days, weeks and months. Released report for {APP}, "
            f"{released[0]} to {released[1]}: every number is noisy, ± its 95 % interval; the privacy budget is "
            f"ρ = {DEFAULT_BUDGET_RHO} per week (ε = {epsilon(DEFAULT_BUDGET_RHO):.1f} at δ = 1e-7). "
            "The current, unclosed week is not released and not shown.\n\n"
        )
        for question in ("active-weekly", "features", "os", "versions"):
            write(render_table(source.ask(question, window)) + "\n")
    finally:
        source.close()
    return db


def next_steps(workdir: Path, db: Path) -> str:
    """What to try next on the kept folder: the analysis CLI on its database, and the desktop demo."""
    python = Path(sys.executable).name if sys.prefix == sys.base_prefix else ".venv/bin/python"
    return (
        f"Kept in {workdir}: the collector's database {db} and the simulated users' folders in {workdir / 'fleet'}.\n"
        "Next, try:\n"
        f"  {python} -m optin.analysis features --db {db}\n"
        f"  {python} -m optin.analysis os --db {db} --format html --out {workdir / 'os.html'}\n"
        f"  {python} -m optin.analysis budget --db {db}\n"
        f"  {python} -m optin.demo.desktop --collector-db {workdir / 'desktop.duckdb'}"
        f" --data-dir {workdir / 'desktop'} --ask-after-days 0\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="optin-demo", description=__doc__)
    parser.add_argument("--installations", type=int, default=FLEET_SIZE)
    parser.add_argument("--days", type=int, default=FLEET_DAYS)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a throw-away folder)")
    args = parser.parse_args(argv)
    if args.keep:
        workdir = args.keep.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        db = run_demo(workdir, args.installations, args.days, args.seed)
        sys.stdout.write("\n" + next_steps(workdir, db))
        return 0
    with tempfile.TemporaryDirectory(prefix="optin-demo-") as workdir:
        run_demo(Path(workdir), args.installations, args.days, args.seed)
    sys.stdout.write(
        f"\nThe demo ran in {workdir}, which is now deleted (collector database and simulated users alike).\n"
        "To keep them and see what to try next: python3 tasks.py demo --keep demo-data\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
