"""The one gateway: every answer is an aggregate over distinct installations, small cells suppressed.

A question hands the gateway SQL that groups by typed keys and counts distinct installations
per group (column `installations`). The gateway runs it and returns a `Table` in which every
row with fewer than k installations has its numbers replaced by None. Where rows partition a
shown total (for example OS share of all active installations), suppressed rows could be
recovered as "total minus the others", so within each partition the smallest visible rows are
suppressed too until at least two rows are hidden and the hidden rows together hold at least k
installations (complementary suppression): the difference then only reveals a group of k or more.
Nothing here returns a raw row: there is no query that does not aggregate, and the SQL comes
from this package's questions, never from a caller (the CLI and endpoints take question names).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import duckdb

from optin.contract import MIN_AGGREGATE_K

from ._window import Window

DEFAULT_K: Final = MIN_AGGREGATE_K  # the smallest group shown; operators may raise it, never lower it


@dataclass(frozen=True, slots=True)
class Table:
    """A question's answer. ``rows`` hold keys then measures; suppressed measures are None."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    k: int
    suppressed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def sort_key(keys: Sequence[Any]) -> tuple[tuple[int, Any], ...]:
    """Keys in natural order (numbers as numbers, dates as dates), whatever their types."""
    out: list[tuple[int, Any]] = []
    for value in keys:
        if isinstance(value, bool) or value is None:
            out.append((3, str(value)))
        elif isinstance(value, (int, float)):
            out.append((0, value))
        elif isinstance(value, dt.date):
            out.append((1, value.isoformat()))
        else:
            out.append((2, str(value)))
    return tuple(out)


class Gateway:
    def __init__(self, con: duckdb.DuckDBPyConnection, k: int = DEFAULT_K) -> None:
        if k < DEFAULT_K:
            raise ValueError(f"k must be at least {DEFAULT_K}")
        self.con = con
        self.k = k

    def params(self, window: Window) -> list[Any]:
        """SQL parameters for IN_WINDOW: the application's key (-1 if unknown: no rows), first and last day."""
        row = self.con.execute("SELECT app_key FROM apps WHERE name = ?", [window.app]).fetchone()
        return [row[0] if row else -1, window.first_day, window.last_day]

    def metric_key(self, window: Window, name: str) -> int:
        """A registry metric's key for the window's application (-1 if it never reported: no rows)."""
        row = self.con.execute(
            "SELECT m.metric_key FROM metrics m JOIN apps a USING (app_key) WHERE a.name = ? AND m.name = ?",
            [window.app, name],
        ).fetchone()
        return int(row[0]) if row else -1

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
        group_idx = [key_columns.index(g) for g in group_by]
        hidden = {i for i, row in enumerate(raw) if int(row[n_keys] or 0) < self.k}
        if partition_of_total:
            hidden |= self._complementary(raw, hidden, n_keys, group_idx)
        # Suppressed rows go last (within their group, if any), in key order: their position must
        # not hint at their size.
        order: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for i, row in enumerate(raw):
            if i not in hidden:
                order.setdefault(tuple(row[g] for g in group_idx), []).append(tuple(row))
        for i in sorted(hidden, key=lambda i: sort_key(raw[i][:n_keys])):
            order.setdefault(tuple(raw[i][g] for g in group_idx), []).append(
                (*raw[i][:n_keys], None, *([None] * len(measure_columns)))
            )
        groups = sorted(order, key=sort_key) if group_idx else list(order)
        rows = [row for g in groups for row in order[g]]
        return Table(title, tuple(expected), rows, self.k, len(hidden), tuple(notes))

    def event_table(
        self, title: str, sql: str, params: Sequence[Any], key_columns: Sequence[str], notes: Sequence[str] = ()
    ) -> Table:
        """Counts of events that are not linked to any installation (rejected reports).

        The query's columns are keys then ``reports``. With no installation to count, the count
        itself stands in for it: a row of fewer than k events is suppressed like a small group.
        """
        result = self.con.execute(sql, list(params))
        names = [d[0] for d in result.description or ()]
        expected = [*key_columns, "reports"]
        if names != expected:
            raise AssertionError(f"question returned {names}, expected {expected}")
        raw = result.fetchall()
        n_keys = len(key_columns)
        shown = [tuple(row) for row in raw if int(row[n_keys]) >= self.k]
        hidden = sorted((row for row in raw if int(row[n_keys]) < self.k), key=lambda row: sort_key(row[:n_keys]))
        rows = shown + [(*row[:n_keys], None) for row in hidden]
        return Table(title, tuple(expected), rows, self.k, len(hidden), tuple(notes))

    def _complementary(
        self, raw: list[tuple[Any, ...]], hidden: set[int], n_keys: int, group_idx: list[int]
    ) -> set[int]:
        """Rows to hide so that no partition's hidden part is one row or fewer than k installations."""
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, row in enumerate(raw):
            groups.setdefault(tuple(row[g] for g in group_idx), []).append(i)
        extra: set[int] = set()
        for members in groups.values():
            suppressed = [i for i in members if i in hidden]
            if not suppressed:
                continue
            visible = sorted(
                (i for i in members if i not in hidden), key=lambda i: (int(raw[i][n_keys]), str(raw[i][:n_keys]))
            )
            hidden_total = sum(int(raw[i][n_keys] or 0) for i in suppressed)
            while visible and (len(suppressed) < 2 or hidden_total < self.k):
                smallest = visible.pop(0)
                extra.add(smallest)
                suppressed.append(smallest)
                hidden_total += int(raw[smallest][n_keys])
        return extra
