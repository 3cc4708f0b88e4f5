"""The dashboard's comparison: the chosen question in a second window, side by side with the first.

Plain GET form controls as the other filters: ``compare`` is "previous" (the same number of periods
just before the window) or "dates" (``before_from`` and ``before_to``). The answer is `compare`'s
table (each side's value with its 95 % interval, the change, its interval, and whether it exceeds
the noise) followed by the two tables it compares: post-processing of releases, no privacy spent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Final

from ._catalog import QUESTIONS
from ._compare import compare
from ._questions import Asker
from ._release_plan import period_of, periods_between
from ._table import Table
from ._window import Window

COMPARE_PARAMS: Final = ("compare", "before_from", "before_to")
COMPARE_CHOICES: Final = {"": "nothing", "previous": "the previous periods", "dates": "the days below"}


@dataclasses.dataclass(frozen=True, slots=True)
class Comparison:
    how: str = ""  # "", "previous" or "dates"
    first: dt.date | None = None  # with "dates": the compared window's days
    last: dt.date | None = None


def before_window(w: Window, comparison: Comparison) -> Window:
    """The window compared with ``w``: the given days, or as many periods just before ``w``'s first."""
    if comparison.first and comparison.last:
        return dataclasses.replace(w, first_day=comparison.first, last_day=comparison.last)
    start = period_of(w.first_day, w.period)[0]
    first = start
    for _ in periods_between(w.first_day, w.last_day, w.period):
        first = period_of(first - dt.timedelta(days=1), w.period)[0]
    return dataclasses.replace(w, first_day=first, last_day=start - dt.timedelta(days=1))


def compared(asker: Asker, question: str, w: Window, comparison: Comparison) -> list[Table]:
    """The comparison table, then the question in the window, then in the window compared with it."""
    before_w = before_window(w, comparison)
    after, before = QUESTIONS[question](asker, w), QUESTIONS[question](asker, before_w)
    span = "{} to {}".format
    return [
        compare(before, after),
        dataclasses.replace(after, title=f"{after.title}, {span(w.first_day, w.last_day)}"),
        dataclasses.replace(before, title=f"{before.title}, {span(before_w.first_day, before_w.last_day)} (compared)"),
    ]
