"""Machine-readable outputs: JSON (the same dicts the collector's endpoints send) and CSV.

Every number has its ``<column>_ci95`` beside it (the half-width of its 95 % interval). Rows
under the display threshold have null numbers in JSON and empty CSV fields.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._serialize import table_to_dict
from ._table import Table


def tables_to_json(tables: Mapping[str, Table], meta: Mapping[str, Any] | None = None) -> str:
    """One JSON document: ``meta`` fields plus ``tables`` keyed by question name."""
    doc = {**(meta or {}), "tables": {name: table_to_dict(t) for name, t in tables.items()}}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def table_to_csv(table: Table) -> str:
    """One table as CSV: a header row, then rows; suppressed cells are empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table_to_dict(table)["rows"]:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def tables_to_csv(tables: Sequence[Table]) -> str:
    """Several tables: each introduced by a ``# title`` line, separated by a blank line."""
    if len(tables) == 1:
        return table_to_csv(tables[0])
    return "\n".join(f"# {t.title}\n{table_to_csv(t)}" for t in tables)
