"""python bench/reliability.py [--long] [--only NAME ...]: the reliability suite, as one table.

Runs every scenario of tests/reliability (real collector and client processes on 127.0.0.1,
faults injected, bounded load) and prints, per scenario: the load held, the faults injected,
reports sent, acknowledged, stored, evicted, dropped by reason, and the invariant checks
passed, followed by the detail of every check that failed. `--long` runs the long forms as
well (several minutes). Exit status 1 when any check failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.harness import Row, render_table  # noqa: E402
from tests.reliability.scenarios import SCENARIOS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also run the long forms (several minutes)")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="run only these scenarios")
    args = parser.parse_args()
    names = args.only or list(SCENARIOS)
    forms = [False, True] if args.long else [False]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="optin-reliability-") as folder:
        for long in forms:
            for name in names:
                started = time.monotonic()
                try:
                    row = SCENARIOS[name](Path(folder) / f"{name}-{'long' if long else 'fast'}", long=long)
                except Exception as error:  # a scenario that crashed is a failed row, not a lost table
                    row = Row(SCENARIOS[name].__name__)
                    row.check("scenario ran to the end", False, f"{type(error).__name__}: {error}")
                    traceback.print_exc()
                row.scenario += " (long)" if long else ""
                row.notes.append(f"took {time.monotonic() - started:.0f} s")
                rows.append(row)
                print(
                    f"{row.scenario}: {len(row.checks) - len(row.failed)}/{len(row.checks)} checks passed ({row.notes[-1]})",
                    file=sys.stderr,
                    flush=True,
                )
    print(render_table(rows))
    failures = [row.explain() for row in rows if row.failed]
    if failures:
        print("\nFailed checks:")
        print("\n".join(failures))
    notes = [f"{row.scenario}: {'; '.join(row.notes)}" for row in rows if row.notes]
    print("\nNotes:")
    print("\n".join(notes))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
