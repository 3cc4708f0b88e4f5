"""Tables as plain JSON-ready dicts: the collector's aggregate endpoints send these, the HTTP source reads them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._table import Table


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def table_to_dict(table: Table) -> dict[str, Any]:
    return {
        "title": table.title,
        "columns": list(table.columns),
        "rows": [[_plain(v) for v in row] for row in table.rows],
        "k": table.k,
        "suppressed": table.suppressed,
        "notes": list(table.notes),
    }


def table_from_dict(doc: dict[str, Any]) -> Table:
    return Table(
        title=str(doc["title"]),
        columns=tuple(doc["columns"]),
        rows=[tuple(row) for row in doc["rows"]],
        k=int(doc["k"]),
        suppressed=int(doc["suppressed"]),
        notes=tuple(doc.get("notes", ())),
    )
