"""`publish`: the released tables only, as Parquet and JSON, safe to hand to anyone in the company.

Only the release tables are read (releases, their cells, the ledger and refusals): every number
in them is a differentially private release or a privacy cost. Raw rows and raw snapshots are an
operator's and are never written here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import duckdb

from optin.contract import RELEASE_TABLES


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def publish(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Write ``<folder>/<table>.parquet`` and ``<folder>/releases.json``; returns rows per table."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in RELEASE_TABLES:
        target = folder / f"{table}.parquet"
        con.execute(f"COPY (SELECT * FROM {table}) TO {_literal(target)} (FORMAT PARQUET, COMPRESSION ZSTD)")
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        counts[table] = int(row[0]) if row else 0
    heads = con.execute(
        "SELECT release_id, app, question, period, period_start, period_end, released_on, rho FROM releases"
        " ORDER BY app, question, period, period_start"
    ).fetchall()
    cells: dict[int, list[dict[str, Any]]] = {}
    for release_id, key, measure, value, sd in con.execute(
        "SELECT release_id, key, measure, value, sd FROM release_cells ORDER BY release_id, measure, position"
    ).fetchall():
        cells.setdefault(int(release_id), []).append({"key": key, "measure": measure, "value": value, "sd": sd})
    names = ("release_id", "app", "question", "period", "from", "to", "released_on", "rho")
    doc = {
        "note": "differentially private releases (docs/privacy.md); value ± 1.96·sd is a 95 % interval",
        "releases": [
            {**{n: _plain(v) for n, v in zip(names, head, strict=True)}, "cells": cells.get(int(head[0]), [])}
            for head in heads
        ],
    }
    staging = folder / ".releases.json.new"
    staging.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(staging, folder / "releases.json")
    return counts
