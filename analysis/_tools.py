"""`optin-analysis release` and `optin-analysis publish`: the operator's two commands.

`release` runs the release job against a stopped collector's database (the one process that may
open it read-write); `publish` writes only the released tables, as Parquet and JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import duckdb

from optin.contract import bundled_registry, load_registry_folder

from ._publish import publish
from ._release_job import run_releases
from ._release_plan import DEFAULT_BUDGET_RHO, DEFAULT_GRACE_DAYS
from ._source import open_database, open_snapshot

BUDGET_ENV = "OPTIN_PRIVACY_BUDGET_RHO"


def add_tool_commands(sub: Any) -> None:
    release = sub.add_parser("release", help="make every due release in a stopped collector's database (read-write)")
    release.add_argument("--db", type=Path, required=True, help="collector DuckDB file (stop the collector first)")
    release.add_argument("--registries", type=Path, help="folder of registries (*.toml; default: the bundled one)")
    release.add_argument(
        "--budget-rho",
        type=float,
        default=float(os.environ.get(BUDGET_ENV, DEFAULT_BUDGET_RHO)),
        help=f"privacy budget per application and week, zCDP ρ (default ${BUDGET_ENV} or {DEFAULT_BUDGET_RHO})",
    )
    release.add_argument("--grace-days", type=int, default=DEFAULT_GRACE_DAYS, help="days after a period ends")
    release.add_argument("--today", type=dt.date.fromisoformat, help="release as of this day (default: today, UTC)")
    out = sub.add_parser("publish", help="write only the released tables (Parquet and JSON), safe to share")
    where = out.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", type=Path, help="collector DuckDB file (opened read-only)")
    where.add_argument("--snapshot", type=Path, help="Parquet snapshot folder written by the collector")
    out.add_argument("--out", type=Path, required=True, help="folder to write")


def run_tool(args: argparse.Namespace) -> int:
    if args.question == "publish":
        try:
            con = open_database(args.db) if args.db is not None else open_snapshot(args.snapshot)
        except FileNotFoundError as error:
            print(f"optin-analysis: {error}", file=sys.stderr)
            return 2
        try:
            counts = publish(con, args.out)
        finally:
            con.close()
        print(f"published {counts['releases']} releases ({counts['release_cells']} cells) to {args.out}")
        return 0
    registries = (
        load_registry_folder(args.registries)
        if args.registries
        else {(r.app, r.version): r for r in [bundled_registry("millwright")]}
    )
    if not args.db.is_file():
        print(f"optin-analysis: no database at {args.db}", file=sys.stderr)
        return 2
    try:
        con = duckdb.connect(str(args.db))
    except duckdb.IOException:
        print("optin-analysis: the database is held by a running collector, which releases on its own", file=sys.stderr)
        return 2
    today = args.today or dt.datetime.now(dt.UTC).date()
    refused: list[str] = []
    try:
        con.execute("BEGIN TRANSACTION")
        run = run_releases(
            con,
            registries,
            today,
            args.budget_rho,
            args.grace_days,
            lambda app, q, kind, start: refused.append(f"{app} {q} {kind} {start}"),
        )
        con.execute("COMMIT")
    finally:
        con.close()
    print(f"made {run.made} release(s); refused {run.refused} over the budget")
    for line in refused:
        print(f"  refused: {line}")
    return 0
