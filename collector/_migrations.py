"""Numbered schema migrations, applied in order at start-up inside one transaction each."""

from __future__ import annotations

from typing import Final

import duckdb

from optin.contract import SCHEMA_V1

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    SCHEMA_V1,  # 1: the at-rest contract v1
)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the database to the latest version; returns that version."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = int(row[0]) if row and row[0] is not None else 0
    for number, statements in enumerate(MIGRATIONS, start=1):
        if number <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?)", [number])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
