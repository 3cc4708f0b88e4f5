"""Parquet snapshots: a read-only copy of the database for offline analysis and other engines.

The layout is the contract's (see optin.contract SNAPSHOT_*): `<dir>/<table>/day=YYYY-MM-DD/*.parquet`
for the day-partitioned tables and `<dir>/<table>.parquet` for the small ones. The installation
UUIDs are never exported, nor are report ids: integer keys are enough to count and join.

A snapshot is written into a temporary sibling folder from one read transaction (so its tables
agree with each other), then renamed into place. A reader sees the previous snapshot, the new
one, or, for the instant between the two renames, none; never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb

from optin.contract import REPORT_COLUMN_NAMES, SNAPSHOT_PARTITION_COLUMN, SNAPSHOT_PARTITIONED, SNAPSHOT_TABLES

# What each exported table holds; anything not named here (installations, schema_version, ...) stays home.
_QUERIES: Final = {
    "apps": "SELECT app_key, name FROM apps",
    "app_versions": "SELECT version_key, app_key, version FROM app_versions",
    "metrics": "SELECT metric_key, app_key, name, kind, category FROM metrics",
    "labels": "SELECT metric_key, label_key, label FROM labels",
    "rejections": "SELECT day, reason, count FROM rejections",
    # Every column but report_id: the snapshot has no use for it.
    "reports": f"SELECT {', '.join(n for n in REPORT_COLUMN_NAMES if n != 'report_id')} FROM reports",
    "report_values": "SELECT v.report_key, v.metric_key, v.label_key, v.value, r.day"
    " FROM report_values v JOIN reports r ON r.report_key = v.report_key",
    # Privacy releases and their ledger (what `LocalSource` over a snapshot answers from).
    "releases": "SELECT * FROM releases",
    "release_cells": "SELECT * FROM release_cells",
    "privacy_ledger": "SELECT * FROM privacy_ledger",
    "release_refusals": "SELECT * FROM release_refusals",
}
assert set(_QUERIES) == set(SNAPSHOT_TABLES)
_PARQUET: Final = "FORMAT PARQUET, COMPRESSION ZSTD"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    path: Path
    reports: int
    days: int


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _private_tree(root: Path) -> None:
    os.chmod(root, 0o700)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o700)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o600)


def write_snapshot(con: duckdb.DuckDBPyConnection, target: Path) -> SnapshotInfo:
    """Export the snapshot tables to ``target`` (replacing what is there) through ``con``, a cursor of its own."""
    target = target.resolve()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            for table in SNAPSHOT_TABLES:
                if table in SNAPSHOT_PARTITIONED:
                    (staging / table).mkdir(mode=0o700)  # present even when there are no rows yet
                    options = f"{_PARQUET}, PARTITION_BY ({SNAPSHOT_PARTITION_COLUMN}), OVERWRITE_OR_IGNORE"
                    con.execute(f"COPY ({_QUERIES[table]}) TO {_literal(staging / table)} ({options})")
                else:
                    destination = _literal(staging / (table + ".parquet"))
                    con.execute(f"COPY ({_QUERIES[table]}) TO {destination} ({_PARQUET})")
            row = con.execute("SELECT count(*), count(DISTINCT day) FROM reports").fetchone()
        finally:
            con.execute("ROLLBACK")  # read-only: nothing to keep
        _private_tree(staging)
        retired = None
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, retired / "snapshot")
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    return SnapshotInfo(target, int(row[0]) if row else 0, int(row[1]) if row else 0)
