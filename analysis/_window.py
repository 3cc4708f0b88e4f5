"""What a question is asked about: one application, a range of days, and a period for trends.

These are the only filters a caller can give, and each is a typed value checked here. A window
is answered as the released periods it holds (see ``_questions``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

from optin.contract import MAX_WINDOW_DAYS

Period = Literal["day", "week", "month"]
PERIODS: Final[tuple[str, ...]] = get_args(Period)
APP_NAME: Final = re.compile(r"(?=.{1,64}$)[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")  # the registry's rule for names


@dataclass(frozen=True, slots=True)
class Window:
    """Which application and which days (inclusive, by the skew-corrected report day)."""

    app: str
    first_day: dt.date
    last_day: dt.date
    period: Period = "week"  # which released periods answer: days, ISO weeks or calendar months

    def __post_init__(self) -> None:
        if not isinstance(self.app, str) or not APP_NAME.fullmatch(self.app):
            raise ValueError("app must be a registry application name")
        if not isinstance(self.first_day, dt.date) or not isinstance(self.last_day, dt.date):
            raise TypeError("first_day and last_day must be dates")
        if self.first_day > self.last_day:
            raise ValueError("first_day is after last_day")
        if (self.last_day - self.first_day).days > MAX_WINDOW_DAYS:
            raise ValueError(f"a window spans at most {MAX_WINDOW_DAYS} days")
        if self.period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}")
