"""Numbered schema migrations, applied in order at start-up inside one transaction each."""

from __future__ import annotations

from typing import Final

import duckdb

from optin.contract import REPORT_COLUMNS_ADDED, REPORT_COLUMNS_V1, SCHEMA_RELEASES, SCHEMA_V1, report_columns_ddl

_V1_COLUMNS: Final = ", ".join(name for name, _ in REPORT_COLUMNS_V1)

# 2: `reports` and `installations` without their PRIMARY KEY / UNIQUE indexes. The one writer
# assigns the keys and checks report ids itself (see _store and _seen); the indexes only cost
# time on every insert and about an eighth of the stored bytes. Same columns, same names.
_WITHOUT_INDEXES: Final = (
    "CREATE TABLE installations_v2 (inst_key INTEGER NOT NULL, installation_id UUID NOT NULL)",
    "INSERT INTO installations_v2 SELECT inst_key, installation_id FROM installations",
    "DROP TABLE installations",
    "ALTER TABLE installations_v2 RENAME TO installations",
    f"CREATE TABLE reports_v2 ({report_columns_ddl(primary_key=False)})",
    f"INSERT INTO reports_v2 SELECT {_V1_COLUMNS} FROM reports ORDER BY report_key",
    "DROP TABLE reports",
    "ALTER TABLE reports_v2 RENAME TO reports",
)

# 3: the client's fourth data-quality counter (reports of an earlier installation id it refused to
# send); rows stored before it count 0. IF NOT EXISTS: it stays right if migrations are renumbered.
_DISCARDED: Final = tuple(
    f"ALTER TABLE reports ADD COLUMN IF NOT EXISTS {name} {kind} DEFAULT 0" for name, kind in REPORT_COLUMNS_ADDED[:1]
)

# 5: the loader's place in each worker's journal, committed with the rows it loaded (exactly once).
_JOURNAL_POSITIONS: Final = (
    "CREATE TABLE IF NOT EXISTS journal_positions"
    " (journal VARCHAR PRIMARY KEY, segment BIGINT NOT NULL, segment_offset BIGINT NOT NULL)",
)

# 6: the report keys of erased installations whose value rows are still to be deleted (see
# _loader: a deletion removes the installation and its reports at once, their value rows with
# the next sweep, one scan of report_values for every deletion since the last).
_ERASED_REPORTS: Final = ("CREATE TABLE IF NOT EXISTS erased_reports (report_key BIGINT NOT NULL)",)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    SCHEMA_V1,  # 1: the at-rest contract v1
    _WITHOUT_INDEXES,  # 2
    _DISCARDED,  # 3
    SCHEMA_RELEASES,  # 4: privacy releases, their cells, the ledger and refusals (SPEC §4a); IF NOT EXISTS throughout
    _JOURNAL_POSITIONS,  # 5
    _ERASED_REPORTS,  # 6
)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the database to the latest version; returns that version."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    # fetchall: a result left open by fetchone() makes DuckDB refuse register() on this connection
    ((version,),) = con.execute("SELECT max(version) FROM schema_version").fetchall()
    current = int(version) if version is not None else 0
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
