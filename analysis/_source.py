"""Where analysis reads from: a DuckDB file opened read-only (collector stopped) or a Parquet snapshot.

Either way only the release tables are read (RELEASE_TABLES): a snapshot's raw partitions are an
operator's, and nothing here opens them. The live collector is the third source; see ``_remote``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from optin.contract import RELEASE_TABLES, SCHEMA_RELEASES

from ._questions import QUESTIONS, Asker
from ._releases import ReleaseReader, WeekBudget
from ._table import DEFAULT_K, Table
from ._window import Window


def open_database(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a collector database read-only; nothing in analysis can write to it here."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no database at {path}")
    return duckdb.connect(str(path), read_only=True)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def open_snapshot(folder: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection whose release tables are views over a snapshot folder's Parquet files.

    ``<folder>/releases.parquet`` and the other release tables; a table with no file is empty.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no snapshot folder at {folder}")
    con = duckdb.connect(":memory:")
    for name, statement in zip(RELEASE_TABLES, SCHEMA_RELEASES, strict=True):
        path = root / f"{name}.parquet"
        if path.is_file():
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_literal(path)})")
        else:
            con.execute(statement)
    return con


def day_range(con: duckdb.DuckDBPyConnection, app: str) -> tuple[dt.date, dt.date] | None:
    """First and last day covered by the application's releases."""
    return ReleaseReader(con).days(app)


class LocalSource:
    """Questions answered here from the releases in a DuckDB file or a snapshot."""

    def __init__(self, con: duckdb.DuckDBPyConnection, k: int = DEFAULT_K) -> None:
        self.con = con
        self.reader = ReleaseReader(con)
        self.asker = Asker(self.reader, k)

    def days(self, app: str) -> tuple[dt.date, dt.date] | None:
        return self.reader.days(app)

    def ask(self, question: str, window: Window) -> Table:
        return QUESTIONS[question](self.asker, window)

    def budget(self, app: str) -> list[WeekBudget]:
        return self.reader.budget(app)

    def progress(self) -> float | None:
        """Percent done of the query running now, when DuckDB can tell (for a progress line)."""
        value = self.con.query_progress()
        return None if value < 0 else float(value)

    def close(self) -> None:
        self.con.close()
