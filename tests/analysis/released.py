"""Release tables written by hand: known noisy numbers, for tests of what surfaces show of them.

Only the at-rest release tables are written (SCHEMA_RELEASES); nothing here draws noise. A test
that needs numbers released by the real job uses `fleet.py` and `run_releases` instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from optin.contract import SCHEMA_RELEASES


@dataclass(frozen=True)
class Hand:
    """One release: its question and period, and per measure its cells as (key, value, sd)."""

    question: str
    period: str
    start: dt.date
    end: dt.date
    cells: dict[str, list[tuple[str, int, float]]]


def write_releases(path: Path, releases: list[Hand], app: str = "millwright", rho: float = 0.01) -> Path:
    con = duckdb.connect(str(path))
    try:
        for statement in SCHEMA_RELEASES:
            con.execute(statement)
        for release_id, r in enumerate(releases, 1):
            con.execute(
                "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [release_id, app, r.question, r.period, r.start, r.end, r.end, rho],
            )
            for measure, cells in r.cells.items():
                for position, (key, value, sd) in enumerate(cells):
                    con.execute(
                        "INSERT INTO release_cells VALUES (?, ?, ?, ?, ?, ?)",
                        [release_id, position, key, measure, value, sd],
                    )
            con.execute("INSERT INTO privacy_ledger VALUES (?, ?, ?, ?)", [app, r.start, release_id, rho])
    finally:
        con.close()
    return path
