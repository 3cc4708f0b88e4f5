"""Any released table in two periods side by side: each value with its 95 % interval, the change, and
whether the change exceeds the noise.

Post-processing of the two periods' releases (no privacy spent). Each side is the table's latest
released period inside its window. The change of two independent noisy numbers has the interval
``sqrt(ci_a² + ci_b²)``; a change whose interval holds 0 is within the noise.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ._charts import count_index, measure_column
from ._table import CI_SUFFIX, Table, is_interval

BEYOND: str = "beyond_noise"
# Curves since a start (a version's first release, a cohort's first week) have no one period to compare.
NOT_COMPARABLE: tuple[str, ...] = ("adoption", "retention")


def _latest(table: Table) -> tuple[dict[tuple[Any, ...], tuple[Any, ...]], str]:
    """Rows of the table's latest period by their other keys, and which period that is."""
    n_keys = count_index(table)
    dated = table.columns[0] == "period"
    if not dated:
        return {tuple(row[:n_keys]): row for row in table.rows}, _covered(table)
    latest = max((row[0] for row in table.rows), default=None)
    rows = {tuple(row[1:n_keys]): row for row in table.rows if row[0] == latest}
    return rows, latest.isoformat() if isinstance(latest, dt.date) else str(latest)


def _covered(table: Table) -> str:
    for note in table.notes:
        if note.startswith("the latest released "):
            return note.split(": ", 1)[1].split(" to ")[0]
    return "?"


def _measure(table: Table, row: tuple[Any, ...] | None, column: str) -> tuple[Any, Any]:
    if row is None:
        return None, None
    at = table.columns.index(column)
    ci = row[at + 1] if at + 1 < len(table.columns) and is_interval(table.columns[at + 1]) else None
    return row[at], ci


def compare(before: Table, after: Table) -> Table:
    """``after`` against ``before`` (the same question over two windows), row by row."""
    if before.columns != after.columns:
        raise ValueError("only the same question can be compared")
    column = measure_column(after)
    count = after.columns[count_index(after)]
    rows_a, period_a = _latest(before)
    rows_b, period_b = _latest(after)
    key_names = [c for c in after.columns[: count_index(after)] if c != "period"]
    rows: list[tuple[Any, ...]] = []
    for key in [*rows_b, *(k for k in rows_a if k not in rows_b)]:
        n_b, n_ci = _measure(after, rows_b.get(key), count)
        a, a_ci = _measure(before, rows_a.get(key), column)
        b, b_ci = _measure(after, rows_b.get(key), column)
        if a is None or b is None:
            rows.append((*key, n_b, n_ci, a, a_ci, b, b_ci, None, None, None))
            continue
        change, change_ci = b - a, math.sqrt(float(a_ci or 0) ** 2 + float(b_ci or 0) ** 2)
        beyond = "yes" if abs(change) > change_ci else "no"
        rows.append((*key, n_b, n_ci, a, a_ci, b, b_ci, change, change_ci, beyond))
    measures = [f"{column}_{side}{suffix}" for side in ("before", "after", "change") for suffix in ("", CI_SUFFIX)]
    columns = (*key_names, count, count + CI_SUFFIX, *measures, BEYOND)
    notes = (
        f"before: {before.title}, period from {period_a}; after: period from {period_b}",
        "change = after - before (the latest released period of each window); its 95 % interval is"
        " sqrt(before² + after²) of theirs; beyond_noise: the interval of the change does not hold 0;"
        " a hidden side leaves the change empty",
        *(n for n in after.notes if n.startswith("privacy cost")),
    )
    hidden = sum(1 for r in rows if r[len(key_names)] is None)
    title = f"{after.title}: {period_b} against {period_a}"
    return Table(title, columns, rows, after.k, hidden, notes, f"{column}_change")
