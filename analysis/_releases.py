"""Reading releases: the only data every analysis surface reads (never a raw report row).

The SQL here names only the release tables of the at-rest contract (RELEASE_TABLES), over a
DuckDB file opened read-only, a snapshot's Parquet files, or a collector's own cursor.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import duckdb

from ._noise import epsilon


@dataclass(frozen=True, slots=True)
class Cell:
    key: str
    value: int
    sd: float


@dataclass(frozen=True, slots=True)
class Released:
    """One release: a question of one application for one closed period, with its noisy cells."""

    question: str
    period: str
    start: dt.date
    end: dt.date
    rho: float
    cells: dict[str, list[Cell]]  # by measure, in the registry's key order


@dataclass(frozen=True, slots=True)
class WeekBudget:
    week: dt.date  # Monday of the budget week
    spent: float  # ρ
    releases: int
    refused: int


class ReleaseReader:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def released(self, app: str, question: str, period: str, first: dt.date, last: dt.date) -> list[Released]:
        """Releases of ``question`` whose period lies inside ``first``..``last``, oldest first."""
        heads = self.con.execute(
            "SELECT release_id, period_start, period_end, rho FROM releases"
            " WHERE app = ? AND question = ? AND period = ? AND period_start >= ? AND period_end <= ?"
            " ORDER BY period_start",
            [app, question, period, first, last],
        ).fetchall()
        if not heads:
            return []
        cells: dict[int, dict[str, list[Cell]]] = defaultdict(lambda: defaultdict(list))
        for release_id, key, measure, value, sd in self.con.execute(
            "SELECT release_id, key, measure, value, sd FROM release_cells"
            " WHERE release_id IN (SELECT unnest(?)) ORDER BY release_id, measure, position",
            [[int(h[0]) for h in heads]],
        ).fetchall():
            cells[int(release_id)][str(measure)].append(Cell(str(key), int(value), float(sd)))
        return [Released(question, period, s, e, float(rho), dict(cells[int(i)])) for i, s, e, rho in heads]

    def days(self, app: str) -> tuple[dt.date, dt.date] | None:
        """First and last day covered by any release of ``app``."""
        row = self.con.execute(
            "SELECT min(period_start), max(period_end) FROM releases WHERE app = ?", [app]
        ).fetchone()
        if not row or row[0] is None:
            return None
        return row[0], row[1]

    def budget(self, app: str) -> list[WeekBudget]:
        """Per budget week: ρ spent, releases charged, releases refused (oldest first)."""
        spent = {
            w: (float(r), int(n))
            for w, r, n in self.con.execute(
                "SELECT budget_week, sum(rho), count(*) FROM privacy_ledger WHERE app = ? GROUP BY budget_week", [app]
            ).fetchall()
        }
        refused = dict(
            self.con.execute(
                "SELECT budget_week, count(*) FROM release_refusals WHERE app = ? GROUP BY budget_week", [app]
            ).fetchall()
        )
        weeks = sorted(set(spent) | set(refused))
        return [
            WeekBudget(w, spent.get(w, (0.0, 0))[0], spent.get(w, (0.0, 0))[1], int(refused.get(w, 0))) for w in weeks
        ]

    def refusals(self, app: str) -> list[tuple[str, str, dt.date, dt.date]]:
        """(question, period kind, period start, day refused) of every release the ledger refused."""
        return [
            (str(q), str(p), s, d)
            for q, p, s, d in self.con.execute(
                "SELECT question, period, period_start, refused_on FROM release_refusals WHERE app = ?"
                " ORDER BY period_start, question",
                [app],
            ).fetchall()
        ]


def cost_note(releases: list[Released]) -> str:
    """One line: the privacy cost of the releases a table shows."""
    if not releases:
        return "privacy cost: none (no release)"
    rho = releases[0].rho
    same = all(abs(r.rho - rho) < 1e-12 for r in releases)
    each = f"ρ = {rho:.4g} (ε = {epsilon(rho):.3g} at δ = 1e-7) per {releases[0].period}" if same else "ρ varies"
    return f"privacy cost: {each}; charged once, when released"
