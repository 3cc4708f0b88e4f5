"""The live collector as a source: its token-protected aggregate endpoints, over HTTP.

The collector answers with ``table_to_dict`` of the same canned questions, read from its
releases. What comes back is checked again here (defence in depth): a table with a k below the
floor is refused, and any row whose noisy count is under k has its numbers blanked.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final

from ._questions import QUESTIONS
from ._releases import WeekBudget
from ._serialize import table_from_dict
from ._table import COUNT_COLUMNS, DEFAULT_K, Table
from ._window import Window

TIMEOUT_S: Final = 120.0  # a large window over a busy collector can take a while


class RemoteError(RuntimeError):
    """The collector refused or failed a question (the message never includes the token)."""


def checked(table: Table, k: int) -> Table:
    """``table`` with every row under ``k`` installations blanked; refuses a k below the floor."""
    if table.k < DEFAULT_K:
        raise RemoteError(f"the collector answered with k={table.k}, below the floor of {DEFAULT_K}")
    counts = [i for i, c in enumerate(table.columns) if c in COUNT_COLUMNS]
    if not counts:
        raise RemoteError(f"{table.title}: the answer has no installation count")
    at = n_keys = counts[0]
    rows: list[tuple[Any, ...]] = []
    blanked = 0
    for row in table.rows:
        if row[at] is not None and int(row[at]) < k:
            rows.append((*row[:n_keys], *([None] * (len(row) - n_keys))))
            blanked += 1
        else:
            rows.append(row)
    return Table(table.title, table.columns, rows, max(k, table.k), table.suppressed + blanked, table.notes)


class RemoteSource:
    def __init__(self, url: str, token: str, k: int = DEFAULT_K) -> None:
        if k < DEFAULT_K:
            raise ValueError(f"k must be at least {DEFAULT_K}")
        if not url.startswith(("http://", "https://")):
            raise ValueError("the collector URL must start with http:// or https://")
        self.url = url.rstrip("/")
        self.token = token
        self.k = k

    def days(self, app: str) -> tuple[dt.date, dt.date] | None:
        """First and last day covered by the application's releases (from the budget endpoint)."""
        doc = self._fetch("/v1/budget", {"app": app}, "budget")
        if not doc.get("released"):
            return None
        return dt.date.fromisoformat(doc["released"]["from"]), dt.date.fromisoformat(doc["released"]["to"])

    def ask(self, question: str, window: Window) -> Table:
        if question not in QUESTIONS:
            raise KeyError(question)
        query = {
            "app": window.app,
            "from": window.first_day.isoformat(),
            "to": window.last_day.isoformat(),
            "period": window.period,
        }
        doc = self._fetch(f"/v1/aggregates/{urllib.parse.quote(question)}", query, question)
        return checked(table_from_dict(doc), self.k)

    def budget(self, app: str) -> list[WeekBudget]:
        doc = self._fetch("/v1/budget", {"app": app}, "budget")
        return [
            WeekBudget(dt.date.fromisoformat(w["week"]), float(w["spent_rho"]), int(w["releases"]), int(w["refused"]))
            for w in doc["weeks"]
        ]

    def _fetch(self, path: str, query: dict[str, str], what: str) -> Any:
        question = what
        url = f"{self.url}{path}?{urllib.parse.urlencode(query)}"
        req = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as answer:
                doc = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            hint = " (is the token right?)" if error.code in (401, 403) else ""
            raise RemoteError(f"{question}: the collector answered {error.code}{hint}") from None
        except urllib.error.URLError as error:
            raise RemoteError(f"{question}: cannot reach the collector: {error.reason}") from None
        return doc

    def progress(self) -> float | None:
        return None

    def close(self) -> None:
        pass
