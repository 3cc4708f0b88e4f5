"""Where analysis reads from: a DuckDB file opened read-only (collector stopped)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb


def open_database(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a collector database read-only; nothing in analysis can write to it."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no database at {path}")
    return duckdb.connect(str(path), read_only=True)


def day_range(con: duckdb.DuckDBPyConnection, app: str) -> tuple[dt.date, dt.date] | None:
    row = con.execute("SELECT min(r.day), max(r.day) FROM reports r JOIN apps a USING (app_key) WHERE a.name = ?", [app]).fetchone()
    if not row or row[0] is None:
        return None
    return row[0], row[1]
