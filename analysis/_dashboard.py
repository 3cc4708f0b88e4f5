"""The dashboard's filters: plain GET form controls, checked here, and the form that sets them.

The collector's `/dashboard` takes app, period length, number of periods (or from/to days),
question and breakdown as query parameters, so the page needs no script: a form with
``method="get"`` sets them. Every value is checked against a closed set; anything else is a
`BadFilter` naming the parameter and why (the collector answers 400 with it).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ._catalog import QUESTIONS
from ._compare import NOT_COMPARABLE
from ._dashboard_compare import COMPARE_CHOICES, COMPARE_PARAMS, Comparison, compared
from ._questions import Asker
from ._release_plan import DIMENSIONS, period_of
from ._releases import ReleaseReader
from ._table import Table
from ._window import PERIODS, Period, Window

DASHBOARD_PARAMS: Final = ("token", "app", "period", "periods", "from", "to", "question", "breakdown", *COMPARE_PARAMS)
# One section per question in reading order; a breakdown is chosen on its own and follows feature usage.
SECTIONS: Final = tuple(name for name in QUESTIONS if not name.startswith("features-by-"))
MAX_PERIODS: Final = {"day": 92, "week": 53, "month": 12}  # windows stay within MAX_WINDOW_DAYS


class BadFilter(ValueError):
    """A filter the dashboard refuses: which parameter, and why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Filters:
    app: str
    period: Period = "week"
    periods: int = 0  # the latest this many released periods; 0: every one from `first` to `last`
    first: dt.date | None = None
    last: dt.date | None = None
    question: str = ""  # "": every section
    breakdown: str = ""  # a dimension of DIMENSIONS, or "": none
    comparison: Comparison = Comparison()  # the chosen question in a second window, side by side

    def questions(self) -> list[str]:
        """The questions the page shows, in reading order."""
        chosen = [self.question] if self.question else list(SECTIONS)
        if self.breakdown:
            at = chosen.index("features") + 1 if "features" in chosen else 0
            chosen.insert(at, f"features-by-{self.breakdown}")
        return chosen


def _date(name: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadFilter(name, "expected a day as YYYY-MM-DD") from None


def _one_of(name: str, text: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    if text not in allowed:
        raise BadFilter(name, f"expected one of: {', '.join(a or '(empty)' for a in allowed)}")
    return text


def parse_filters(items: Iterable[tuple[str, str]], apps: Sequence[str]) -> Filters:
    """Filters from query parameters (an empty value is the default, as a form sends it)."""
    given: dict[str, str] = {}
    for name, value in items:
        if name not in DASHBOARD_PARAMS:
            raise BadFilter(name, f"the dashboard accepts: {', '.join(DASHBOARD_PARAMS)}")
        if name in given:
            raise BadFilter(name, "give each parameter once")
        given[name] = value
    app = given.get("app") or (apps[0] if len(apps) == 1 else "")
    _one_of("app", app, apps)
    period = _one_of("period", given.get("period") or "week", PERIODS)
    periods = 0
    if given.get("periods"):
        text = given["periods"]
        if not text.isdigit() or not 1 <= int(text) <= MAX_PERIODS[period]:
            raise BadFilter("periods", f"expected a whole number from 1 to {MAX_PERIODS[period]} for {period}s")
        periods = int(text)
    first = _date("from", given["from"]) if given.get("from") else None
    last = _date("to", given["to"]) if given.get("to") else None
    if first and last and first > last:
        raise BadFilter("to", "expected from <= to")
    question = _one_of("question", given.get("question", ""), ["", *SECTIONS])
    breakdown = _one_of("breakdown", given.get("breakdown", ""), ["", *DIMENSIONS])
    comparison = _comparison(given, question)
    return Filters(app, period, periods, first, last, question, breakdown, comparison)  # type: ignore[arg-type]


def _comparison(given: dict[str, str], question: str) -> Comparison:
    """The comparison the query asks for: the chosen question in the previous periods or given days."""
    how = _one_of("compare", given.get("compare", ""), COMPARE_CHOICES)
    first, last = (_date(name, given[name]) if given.get(name) else None for name in ("before_from", "before_to"))
    for name, day in (("before_from", first), ("before_to", last)):
        if day and how != "dates":
            raise BadFilter(name, "give compare=dates to compare with these days")
        if how == "dates" and not day:
            raise BadFilter(name, "compare=dates needs before_from and before_to")
    if first and last and first > last:
        raise BadFilter("before_to", "expected before_from <= before_to")
    if how and not question:
        raise BadFilter("compare", "choose the question to compare")
    if how and question in NOT_COMPARABLE:
        raise BadFilter("compare", f"{question} is a curve since a start; compare a table of one period")
    return Comparison(how, first, last)


def dashboard_window(reader: ReleaseReader, filters: Filters, today: dt.date) -> Window:
    """The days the page covers: from/to (each defaults to the first/last released day), then the latest N periods."""
    released = reader.days(filters.app)
    last = filters.last or (released[1] if released else today)
    first = filters.first or (released[0] if released else today)
    if filters.periods:
        start = period_of(last, filters.period)[0]
        if period_of(last, filters.period)[1] != last:  # the period holding `last` is not whole: count back from it
            start = period_of(start - dt.timedelta(days=1), filters.period)[0]
        for _ in range(filters.periods - 1):
            start = period_of(start - dt.timedelta(days=1), filters.period)[0]
        first = max(first, start) if filters.first else start
    try:
        return Window(filters.app, first, last, filters.period)
    except ValueError as error:
        raise BadFilter("from" if filters.first else "periods", str(error)) from None


def dashboard_answers(asker: Asker, filters: Filters, window: Window) -> list[Table]:
    """The page's tables: the chosen questions in reading order, or the chosen question compared."""
    if filters.comparison.how:
        return compared(asker, filters.question, window, filters.comparison)
    return [QUESTIONS[name](asker, window) for name in filters.questions()]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _select(name: str, label: str, options: Sequence[tuple[str, str]], chosen: str) -> str:
    shown = "".join(
        f'<option value="{_e(v)}"{" selected" if v == chosen else ""}>{_e(text)}</option>' for v, text in options
    )
    return f'<label>{_e(label)}<select name="{name}">{shown}</select></label>'


def filter_form(filters: Filters, apps: Sequence[str], token: str = "") -> str:
    """The filters as a plain GET form (no script): submitting it reloads the page with them."""
    hidden = f'<input type="hidden" name="token" value="{_e(token)}">' if token else ""
    periods = str(filters.periods) if filters.periods else ""
    dates, before = (
        "".join(
            f'<label>{label}<input type="date" name="{name}" value="{value.isoformat() if value else ""}"></label>'
            for name, label, value in pair
        )
        for pair in (
            (("from", "From", filters.first), ("to", "To", filters.last)),
            (
                ("before_from", "Compared from", filters.comparison.first),
                ("before_to", "Compared to", filters.comparison.last),
            ),
        )
    )
    return (
        f'<form class="filters" method="get" action="/dashboard">{hidden}'
        + _select("app", "Application", [(a, a) for a in apps], filters.app)
        + _select("period", "Period length", [(p, p) for p in PERIODS], filters.period)
        + f'<label>Latest periods<input type="number" name="periods" min="1" max="{MAX_PERIODS[filters.period]}"'
        f' value="{periods}" placeholder="all"></label>'
        + dates
        + _select(
            "question", "Question", [("", "all, in reading order"), *((q, q) for q in SECTIONS)], filters.question
        )
        + _select(
            "breakdown",
            "Feature usage by",
            [("", "no breakdown")] + [(d, title) for d, (title, _, _) in DIMENSIONS.items()],
            filters.breakdown,
        )
        + _select("compare", "Compare with", list(COMPARE_CHOICES.items()), filters.comparison.how)
        + before
        + '<button type="submit">Show</button></form>'
    )
