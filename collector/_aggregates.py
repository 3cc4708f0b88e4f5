"""Answers behind a token, from the privacy releases, over a cursor of the store's connection.

DuckDB lets one process hold the database read-write, so the collector itself answers the canned
questions; every answer is read from releases by `optin.analysis` (no raw row is ever read here).
Queries run on a worker thread with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import duckdb

from optin.analysis import (
    PERIODS,
    QUESTIONS,
    Asker,
    BadFilter,
    Filters,
    ReleaseReader,
    Table,
    Window,
    dashboard_answers,
    dashboard_window,
    day_range,
    epsilon,
    parse_filters,
    table_to_dict,
)
from optin.contract import MAX_WINDOW_DAYS, Registry

from ._ingest import Rejected


def check_token(configured: str, authorization: str, query_token: str = "") -> None:
    """401 unless the request carries the configured token; 404 when none is configured (never open)."""
    if not configured:
        raise Rejected(404, "not_found", detail="aggregate endpoints are off: no token configured")
    given = authorization[7:].strip() if authorization[:7].lower() == "bearer " else query_token
    if not given or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), configured.encode("utf-8")):
        raise Rejected(401, "unauthorized", detail="send Authorization: Bearer <token>")


# The query parameters each endpoint reads; any other is refused, never ignored (a typo must not
# silently answer another question). `k` is the collector's aggregate_k: nobody can ask for it.
WINDOW_PARAMS: Final = ("app", "from", "to", "period")
BUDGET_PARAMS: Final = ("app",)
NO_PARAMS: Final = ()
_WHY_NOT: Final = {
    "k": "the display threshold is the collector's aggregate_k; it cannot be asked for",
    "token": "send the token as Authorization: Bearer (only /dashboard takes ?token=)",
}


def check_params(items: Iterable[tuple[str, str]], allowed: tuple[str, ...]) -> None:
    """400 for a parameter the endpoint does not read, or one given twice, naming it and why."""
    seen: set[str] = set()
    for name, _ in items:
        if name not in allowed:
            accepted = ", ".join(allowed) if allowed else "none"
            raise Rejected(400, "unknown_parameter", name, _WHY_NOT.get(name, f"this endpoint accepts: {accepted}"))
        if name in seen:
            raise Rejected(400, "repeated_parameter", name, "give each parameter once")
        seen.add(name)


def _day(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Rejected(400, "bad_date", name, "expected YYYY-MM-DD") from None


def app_name(query: Mapping[str, str], registries: Mapping[tuple[str, int], Registry]) -> str:
    """The `app` parameter, which must name a registered application (optional when there is one)."""
    apps = sorted({app for app, _ in registries})
    name = query.get("app", "")
    if not name and len(apps) == 1:
        return apps[0]
    if name not in apps:
        raise Rejected(400, "unknown_app", "app", "expected a registered application name")
    return name


def window(con: duckdb.DuckDBPyConnection, app: str, query: Mapping[str, str], today: dt.date) -> Window:
    """`from`/`to` (inclusive days; each defaults to the first/last released day) and `period`."""
    stored = day_range(con, app)
    first = _day(query["from"], "from") if "from" in query else (stored[0] if stored else today)
    last = _day(query["to"], "to") if "to" in query else (stored[1] if stored else today)
    if last < first or (last - first).days > MAX_WINDOW_DAYS:
        raise Rejected(400, "bad_window", "to", f"expected from <= to, at most {MAX_WINDOW_DAYS} days apart")
    period = query.get("period", "week")
    if period not in PERIODS:
        raise Rejected(400, "bad_period", "period", f"expected one of {', '.join(PERIODS)}")
    return Window(app, first, last, period)  # type: ignore[arg-type]


def answer(
    con: duckdb.DuckDBPyConnection, question: str, app: str, query: Mapping[str, str], today: dt.date, k: int
) -> dict[str, Any]:
    """One canned question as a JSON-ready table (runs on a worker thread)."""
    table = QUESTIONS[question](Asker(ReleaseReader(con), k), window(con, app, query, today))
    return {"question": question, **table_to_dict(table)}


def budget(con: duckdb.DuckDBPyConnection, app: str, budget_rho: float) -> dict[str, Any]:
    """The privacy ledger of one application: per budget week, ρ spent and remaining, releases refused."""
    reader = ReleaseReader(con)
    days = reader.days(app)
    weeks = [
        {
            "week": w.week.isoformat(),
            "spent_rho": round(w.spent, 9),
            "remaining_rho": round(max(0.0, budget_rho - w.spent), 9),
            "spent_epsilon": round(epsilon(w.spent), 6),
            "releases": w.releases,
            "refused": w.refused,
        }
        for w in reader.budget(app)
    ]
    return {
        "app": app,
        "budget_rho": budget_rho,
        "budget_epsilon": round(epsilon(budget_rho), 6),
        "delta": 1e-7,
        "released": {"from": days[0].isoformat(), "to": days[1].isoformat()} if days else None,
        "weeks": weeks,
        "refusals": [
            {"question": q, "period": p, "start": s.isoformat(), "refused_on": d.isoformat()}
            for q, p, s, d in reader.refusals(app)
        ],
    }


def dashboard_filters(items: Iterable[tuple[str, str]], registries: Mapping[tuple[str, int], Registry]) -> Filters:
    """The dashboard's filters from its query (400 naming the parameter and why)."""
    try:
        return parse_filters(items, sorted({app for app, _ in registries}))
    except BadFilter as bad:
        raise Rejected(400, "bad_filter", bad.name, bad.reason) from None


def dashboard_tables(con: duckdb.DuckDBPyConnection, filters: Filters, today: dt.date, k: int) -> list[Table]:
    """The dashboard's questions over its window, in reading order (runs on a worker thread)."""
    reader = ReleaseReader(con)
    try:
        chosen = dashboard_window(reader, filters, today)
    except BadFilter as bad:
        raise Rejected(400, "bad_filter", bad.name, bad.reason) from None
    return dashboard_answers(Asker(reader, k), filters, chosen)


async def run_read(
    cursor: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], Any], timeout_s: float
) -> Any:
    """Run ``work`` on a thread with a cursor of its own; interrupt the query and answer 503 past the deadline."""

    def guarded() -> Any:
        try:
            return work(cursor)
        finally:
            cursor.close()

    task = asyncio.ensure_future(asyncio.to_thread(guarded))
    task.add_done_callback(_observe)
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        # The thread stops at DuckDB's next check and closes its cursor; ConnectionException
        # means it finished (and closed the cursor) just as the deadline passed.
        with contextlib.suppress(duckdb.ConnectionException):
            cursor.interrupt()
        raise Rejected(503, "query_timeout", detail="the aggregate took too long; retry later") from None
    except duckdb.InterruptException:
        raise Rejected(503, "query_timeout", detail="the aggregate took too long; retry later") from None
    except duckdb.Error as error:  # e.g. the store closed under the query: nothing of it is returned
        raise Rejected(503, "query_failed", detail=f"{type(error).__name__}; retry later") from None


def _observe(task: asyncio.Future[Any]) -> None:
    """Take the outcome of a query whose caller gave up, so it is not reported as never retrieved."""
    if not task.cancelled():
        task.exception()


def question_names() -> list[str]:
    return sorted(QUESTIONS)


def known_question(name: str) -> str:
    if name not in QUESTIONS:
        raise Rejected(404, "unknown_question", "question", "GET /v1/aggregates lists the questions")
    return name
