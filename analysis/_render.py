"""Rendering answers as a terminal table."""

from __future__ import annotations

from typing import Any, Final

from ._gateway import Table

COUNT_COLUMNS = ("installations", "reports")  # what a row counts; a suppressed count prints as "hidden"
# Not "<k": a row hidden only to protect another (complementary suppression) may hold more than k.
HIDDEN: Final = "hidden"


def format_cell(value: Any, column: str, k: int) -> str:
    """A cell as people read it: suppressed counts as "hidden", suppressed measures as "–"."""
    if value is None:
        return HIDDEN if column in COUNT_COLUMNS else "–"
    if isinstance(value, float):
        if column.startswith("share"):
            return f"{value * 100:.1f}%"
        return f"{value:.2f}"
    return str(value)


def render_table(table: Table) -> str:
    header = list(table.columns)
    body = [[format_cell(v, c, table.k) for v, c in zip(row, table.columns, strict=False)] for row in table.rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    lines = [table.title, "=" * len(table.title)]
    lines += list(table.notes)
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=False))
            )
        )
    if table.suppressed:
        lines.append(
            f"({table.suppressed} row(s) suppressed: fewer than {table.k} installations, or would reveal one that is)"
        )
    return "\n".join(lines) + "\n"
