"""Where analysis reads from: a DuckDB file opened read-only (collector stopped) or a Parquet snapshot.

Both give a DuckDB connection with the at-rest table names, so every question runs unchanged.
The live collector is the third source; see ``_remote``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Final

import duckdb

from optin.contract import SCHEMA_V1, SNAPSHOT_PARTITION_COLUMN, SNAPSHOT_PARTITIONED, SNAPSHOT_TABLES

from ._gateway import DEFAULT_K, Gateway, Table
from ._questions import QUESTIONS
from ._window import Window

# The contract's snapshot layout: SNAPSHOT_PARTITIONED tables in hive folders by day, the others
# as one Parquet file each. There is no installations table: inst_key suffices to count.
SNAPSHOT_SINGLE: Final = tuple(t for t in SNAPSHOT_TABLES if t not in SNAPSHOT_PARTITIONED)


def open_database(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a collector database read-only; nothing in analysis can write to it."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no database at {path}")
    return duckdb.connect(str(path), read_only=True)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _empty_table(name: str) -> str:
    for statement in SCHEMA_V1:
        if statement.startswith(f"CREATE TABLE {name} ("):
            return statement
    raise KeyError(name)


def open_snapshot(folder: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection whose at-rest names are views over a snapshot folder's Parquet files.

    ``reports/day=YYYY-MM-DD/*.parquet`` and ``report_values/day=.../*.parquet`` are read with
    hive partitioning (so a window's days prune whole folders); ``apps.parquet`` and the other
    small tables are read as they are. A table with no files yet is an empty table of its schema.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no snapshot folder at {folder}")
    con = duckdb.connect(":memory:")
    for name in SNAPSHOT_PARTITIONED:
        pattern = f"{SNAPSHOT_PARTITION_COLUMN}=*/*.parquet"
        if any((root / name).glob(pattern)):
            # The day is read from the folder names (DuckDB types it DATE), so a window prunes folders.
            files = _literal(root / name / pattern)
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files}, hive_partitioning = true)")
        else:
            con.execute(_empty_table(name))
    for name in SNAPSHOT_SINGLE:
        path = root / f"{name}.parquet"
        if path.is_file():
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_literal(path)})")
        else:
            con.execute(_empty_table(name))
    return con


def day_range(con: duckdb.DuckDBPyConnection, app: str) -> tuple[dt.date, dt.date] | None:
    row = con.execute(
        "SELECT min(r.day), max(r.day) FROM reports r JOIN apps a USING (app_key) WHERE a.name = ?", [app]
    ).fetchone()
    if not row or row[0] is None:
        return None
    return row[0], row[1]


class LocalSource:
    """Questions answered here, through the gateway, over a DuckDB file or a snapshot."""

    def __init__(self, con: duckdb.DuckDBPyConnection, k: int = DEFAULT_K) -> None:
        self.gateway = Gateway(con, k)
        self.con = con

    def days(self, app: str) -> tuple[dt.date, dt.date] | None:
        return day_range(self.con, app)

    def ask(self, question: str, window: Window) -> Table:
        return QUESTIONS[question](self.gateway, window)

    def progress(self) -> float | None:
        """Percent done of the query running now, when DuckDB can tell (for a progress line)."""
        value = self.con.query_progress()
        return None if value < 0 else float(value)

    def close(self) -> None:
        self.con.close()
