"""A question's answer as the analyst sees it: released numbers with their 95 % intervals.

Every measure column ``x`` is followed by ``x_ci95``, the half-width of its 95 % interval (the
number is ``x ± x_ci95``). A row whose noisy count is under the display threshold k shows
"fewer than k": its numbers are None. That is post-processing of a release (it costs no
privacy), and it keeps rows that are mostly noise from being read as facts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from optin.contract import MIN_AGGREGATE_K

DEFAULT_K: Final = MIN_AGGREGATE_K  # the display threshold; operators may raise it, never lower it
CI_SUFFIX: Final = "_ci95"
COUNT_COLUMNS: Final = ("installations",)  # what a row counts; under k it reads "fewer than k"


@dataclass(frozen=True, slots=True)
class Table:
    """``rows`` hold keys, then each measure and its interval half-width; under-k measures are None."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    k: int
    suppressed: int = 0  # rows shown as "fewer than k"
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


def is_interval(column: str) -> bool:
    return column.endswith(CI_SUFFIX)


def with_intervals(keys: Sequence[str], measures: Sequence[str]) -> tuple[str, ...]:
    """Column names: the keys, then every measure followed by its ``_ci95``."""
    return (*keys, *(c for m in measures for c in (m, m + CI_SUFFIX)))
