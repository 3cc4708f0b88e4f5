"""The live collector as a source: its token-protected aggregate endpoints, over HTTP.

The collector answers with ``table_to_dict`` of the same canned questions. What comes back is
checked again here (defence in depth): a table with a k below the floor is refused, and any row
whose installation count is under k has its numbers blanked before anyone sees it.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final

from ._gateway import DEFAULT_K, Table
from ._questions import QUESTIONS
from ._render import COUNT_COLUMNS
from ._serialize import table_from_dict
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
        """First and last day with reports: the period keys of active installations per day, which
        the collector lists even where it suppresses the count (a key is not a cell)."""
        table = self._get("active-daily", {"app": app})
        days = sorted(dt.date.fromisoformat(str(row[0])) for row in table.rows)
        return (days[0], days[-1]) if days else None

    def ask(self, question: str, window: Window) -> Table:
        if question not in QUESTIONS:
            raise KeyError(question)
        if window.period != "week":  # the endpoints take app, from and to only
            raise RemoteError(
                "the collector's aggregate endpoints answer trends by week;"
                " use a database or snapshot for other periods"
            )
        return self._get(
            question, {"app": window.app, "from": window.first_day.isoformat(), "to": window.last_day.isoformat()}
        )

    def _get(self, question: str, query: dict[str, str]) -> Table:
        url = f"{self.url}/v1/aggregates/{urllib.parse.quote(question)}?{urllib.parse.urlencode(query)}"
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
        return checked(table_from_dict(doc), self.k)

    def progress(self) -> float | None:
        return None

    def close(self) -> None:
        pass
