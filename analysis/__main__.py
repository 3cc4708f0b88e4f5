"""python -m optin.analysis: aggregate questions over a collector database (collector stopped)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._gateway import DEFAULT_K, Gateway
from ._questions import QUESTIONS, Window
from ._render import render_table
from ._source import day_range, open_database

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="optin-analysis", description="Aggregate-only answers; cells under k installations are suppressed.")
    parser.add_argument("question", choices=[*QUESTIONS, "report"])
    parser.add_argument("--db", type=Path, required=True, help="collector DuckDB file (opened read-only)")
    parser.add_argument("--app", default="millwright")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help=f"smallest group shown (at least {DEFAULT_K})")
    args = parser.parse_args(argv)
    con = open_database(args.db)
    days = day_range(con, args.app)
    if days is None:
        print(f"No reports for {args.app}.")
        return 0
    window = Window(args.app, *days)
    gateway = Gateway(con, args.k)
    names = list(QUESTIONS) if args.question == "report" else [args.question]
    print(f"{args.app}: {days[0]} to {days[1]}\n")
    for name in names:
        sys.stdout.write(render_table(QUESTIONS[name](gateway, window)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
