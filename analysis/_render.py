"""Rendering answers as a terminal table: each number beside its 95 % interval."""

from __future__ import annotations

from typing import Any

from ._table import COUNT_COLUMNS, Table, is_interval


def fewer_than(k: int) -> str:
    return f"fewer than {k}"


def format_value(value: Any, column: str) -> str:
    if isinstance(value, float):
        if column.startswith("share"):
            return f"{value * 100:.1f}%"
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def format_cell(value: Any, column: str, k: int, ci: Any = None) -> str:
    """A number as people read it: ``value ± interval``; under k, the count reads "fewer than k"."""
    if value is None:
        return fewer_than(k) if column in COUNT_COLUMNS else "–"
    text = format_value(value, column)
    return text if ci is None else f"{text} ± {format_value(ci, column)}"


def shown_columns(table: Table) -> list[int]:
    """Indexes of the columns a reader sees (intervals are folded into their number)."""
    return [i for i, c in enumerate(table.columns) if not is_interval(c)]


def row_cells(table: Table, row: tuple[Any, ...]) -> list[str]:
    cells = []
    for i in shown_columns(table):
        column = table.columns[i]
        ci = row[i + 1] if i + 1 < len(row) and is_interval(table.columns[i + 1]) else None
        cells.append(format_cell(row[i], column, table.k, ci))
    return cells


def render_table(table: Table) -> str:
    header = [table.columns[i] for i in shown_columns(table)]
    body = [row_cells(table, row) for row in table.rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    lines = [table.title, "=" * len(table.title)]
    lines += list(table.notes)
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    lines.append("(numbers are noisy releases: ± is the 95 % interval)")
    if table.suppressed:
        lines.append(f"({table.suppressed} row(s) with fewer than {table.k} installations: numbers not shown)")
    return "\n".join(lines) + "\n"
