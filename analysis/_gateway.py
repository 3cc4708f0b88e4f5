"""The one gateway: every answer is an aggregate over distinct installations, small cells suppressed.

A question hands the gateway SQL that groups by typed keys and counts distinct installations
per group (column `installations`). The gateway runs it and returns a `Table` in which every
row with fewer than k installations has its numbers replaced by None. Where rows partition a
shown total (for example OS share of all active installations), a single suppressed row could
be recovered as "total minus the others", so the next smallest row is suppressed too
(complementary suppression). Nothing here returns a raw row: there is no query that does not
aggregate, and the SQL comes from this package, never from a caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import duckdb

DEFAULT_K: Final = 10  # the smallest group shown; operators may raise it, never lower it


@dataclass(frozen=True, slots=True)
class Table:
    """A question's answer. ``rows`` hold keys then measures; suppressed measures are None."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    k: int
    suppressed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


class Gateway:
    def __init__(self, con: duckdb.DuckDBPyConnection, k: int = DEFAULT_K) -> None:
        if k < DEFAULT_K:
            raise ValueError(f"k must be at least {DEFAULT_K}")
        self.con = con
        self.k = k

    def scalar_installations(self, sql: str, params: Sequence[Any]) -> int | None:
        """A count of distinct installations, or None when it is below k."""
        row = self.con.execute(sql, list(params)).fetchone()
        count = int(row[0]) if row and row[0] is not None else 0
        return count if count >= self.k else None

    def table(
        self,
        title: str,
        sql: str,
        params: Sequence[Any],
        key_columns: Sequence[str],
        measure_columns: Sequence[str],
        partition_of_total: bool = False,
        group_by: Sequence[str] = (),
        notes: Sequence[str] = (),
    ) -> Table:
        """Run an aggregate query whose columns are keys, `installations`, measures.

        ``partition_of_total``: rows within each ``group_by`` group split a total that is shown
        elsewhere, so complementary suppression applies per group.
        """
        result = self.con.execute(sql, list(params))
        names = [d[0] for d in result.description or ()]
        expected = [*key_columns, "installations", *measure_columns]
        if names != expected:
            raise AssertionError(f"question returned {names}, expected {expected}")
        raw = result.fetchall()
        n_keys = len(key_columns)
        hidden = {i for i, row in enumerate(raw) if int(row[n_keys] or 0) < self.k}
        if partition_of_total:
            hidden |= self._complementary(raw, hidden, n_keys, [key_columns.index(g) for g in group_by])
        rows = [tuple(row) for i, row in enumerate(raw) if i not in hidden]
        # Suppressed rows go last, in key order: their position must not hint at their size.
        for i in sorted(hidden, key=lambda i: str(raw[i][:n_keys])):
            rows.append((*raw[i][:n_keys], None, *([None] * len(measure_columns))))
        return Table(title, tuple(expected), rows, self.k, len(hidden), tuple(notes))

    @staticmethod
    def _complementary(raw: list[tuple[Any, ...]], hidden: set[int], n_keys: int, group_idx: list[int]) -> set[int]:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, row in enumerate(raw):
            groups.setdefault(tuple(row[g] for g in group_idx), []).append(i)
        extra: set[int] = set()
        for members in groups.values():
            suppressed = [i for i in members if i in hidden]
            if len(suppressed) == 1:
                visible = sorted((i for i in members if i not in hidden), key=lambda i: (int(raw[i][n_keys]), str(raw[i][:n_keys])))
                if visible:
                    extra.add(visible[0])
        return extra
