"""The loader's HTTP side, on a loopback port: heartbeats and metrics for the workers, and the
endpoints that read the database (aggregates, dashboard, snapshots), which the workers proxy.

Every request must carry the collector's internal secret (`X-Optin-Internal`), so the port is
no second public door; aggregate requests must also carry the aggregate token, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson
from aiohttp import web

from optin.analysis import PAGE_CSP, filter_form, render_html

from . import _aggregates as agg
from ._app import registries_of
from ._config import Config
from ._disk import log_disk_at_start
from ._errors import InFlight, Unavailable, error_middleware, json_response
from ._ingest import Rejected
from ._jobs import scheduled, snapshot
from ._loader import Loader, LoaderUnavailable, loader_settings
from ._logs import http_logger
from ._lookups import StoredLookups
from ._prometheus import LIVE_S, render_metrics
from ._releases import release_due
from ._stats import WorkerStats
from ._worker import PORT_FILE

log = logging.getLogger("optin.collector")

SECRET_HEADER: Final = "X-Optin-Internal"
FRESH_WAIT_S: Final = 1.0  # /metrics waits at most this long for every worker's next heartbeat
LOADER = web.AppKey("loader", Loader)
CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey[Callable[[], float]]("clock")
SECRET = web.AppKey("secret", str)
REGISTRIES = web.AppKey[Any]("registries")
LOOKUPS = web.AppKey("lookups", StoredLookups)


def write_port_file(path: Path, port: int) -> None:
    """Tell the workers where the loader listens (atomically: a worker reads the old port or the new one)."""
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps({"port": port}))
    os.replace(temporary, path)


@web.middleware
async def _internal_only(request: web.Request, handler: Any) -> web.StreamResponse:
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), request.app[SECRET].encode()):
        return json_response(403, {"error": "forbidden"})
    response: web.StreamResponse = await handler(request)
    return response


def create_control_app(
    loader: Loader, config: Config, registries: Any, secret: str, clock: Callable[[], float]
) -> web.Application:
    in_flight = InFlight(limit=1 << 30)
    app = web.Application(
        middlewares=[_internal_only, error_middleware(config.retry_after_s, in_flight, lambda r, e: None)],
        client_max_size=1 << 20,
    )
    app[LOADER], app[CONFIG], app[CLOCK], app[SECRET], app[REGISTRIES] = loader, config, clock, secret, registries
    app[LOOKUPS] = StoredLookups(loader, config.aggregate_timeout_s)
    app.router.add_post("/internal/heartbeat", heartbeat)
    app.router.add_get("/internal/metrics", metrics)
    app.router.add_get("/internal/stored/{report_id}", stored)
    add_database_routes(app)
    return app


def add_database_routes(app: web.Application) -> None:
    """The endpoints that read or release from the database (token-protected), wherever a loader serves them."""
    app.router.add_get("/v1/aggregates", list_aggregates)
    app.router.add_get("/v1/aggregates/{question}", get_aggregate)
    app.router.add_post("/v1/snapshots", post_snapshot)
    app.router.add_get("/v1/budget", get_budget)
    app.router.add_post("/v1/releases", post_releases)
    app.router.add_get("/dashboard", dashboard)


async def heartbeat(request: web.Request) -> web.Response:
    """A worker's counters in (rejections as increments by day); the loader's state and its place out."""
    loader = request.app[LOADER]
    doc = orjson.loads(await request.read())
    name = str(doc["journal"])
    stats = WorkerStats.from_json(doc["stats"])
    stats.heard_at = time.monotonic()
    loader.workers[f"{name} {int(doc['pid'])}"] = stats
    for day, counts in doc.get("rejections", {}).items():
        loader.count_rejections(dt.date.fromisoformat(day), {str(k): int(v) for k, v in counts.items()})
    position = loader.positions().get(name)
    return json_response(
        200,
        {
            "ready": loader.running,
            # Health is the whole store's: the loader and every live worker's journal.
            "healthy": loader.running
            and all(w.journal_healthy for w in loader.workers.values() if time.monotonic() - w.heard_at < LIVE_S),
            "position": list(position) if position else None,
            "lag_seconds": loader.lag_seconds(),
        },
    )


async def stored(request: web.Request) -> web.Response:
    """Whether a report id is in the database (a worker asks for ids the filters call "maybe")."""
    found = await request.app[LOOKUPS].stored(request.match_info["report_id"])
    return json_response(200, {"stored": found})


async def metrics(request: web.Request) -> web.Response:
    """Sums over the loader and every live worker, each as of a heartbeat sent after this request arrived."""
    loader, asked = request.app[LOADER], time.monotonic()
    while time.monotonic() - asked < FRESH_WAIT_S and any(
        asked - LIVE_S < w.heard_at < asked for w in list(loader.workers.values())
    ):
        await asyncio.sleep(0.02)
    return web.Response(text=render_metrics(request.app[LOADER]), content_type="text/plain", charset="utf-8")


def _authorize(request: web.Request, allow_query_token: bool = False) -> None:
    query_token = request.query.get("token", "") if allow_query_token else ""
    try:
        agg.check_token(request.app[CONFIG].token, request.headers.get("Authorization", ""), query_token)
    except Rejected as rejected:
        request.app[LOADER].stats.auth_failures[rejected.code] += 1
        raise


async def _caught_up(request: web.Request) -> Loader:
    """The loader, once everything journaled before this request is loaded (answers agree with the 202s)."""
    loader = request.app[LOADER]
    if not loader.running:
        raise Unavailable(detail="storage is not open; retry later")
    try:
        await asyncio.wait_for(asyncio.wrap_future(loader.caught_up()), request.app[CONFIG].aggregate_timeout_s)
    except TimeoutError:
        raise Unavailable("query_timeout", "the loader is behind; retry later") from None
    return loader


def _reader(loader: Loader) -> Any:
    try:
        return loader.reader()
    except LoaderUnavailable:
        raise Unavailable(detail="storage is not open; retry later") from None


def _today(request: web.Request) -> dt.date:
    return dt.datetime.fromtimestamp(request.app[CLOCK](), dt.UTC).date()


async def list_aggregates(request: web.Request) -> web.Response:
    _authorize(request)
    agg.check_params(request.query.items(), agg.NO_PARAMS)
    return json_response(200, {"questions": agg.question_names()}, {"Cache-Control": "no-store"})


async def get_aggregate(request: web.Request) -> web.Response:
    app, config = request.app, request.app[CONFIG]
    _authorize(request)
    question = agg.known_question(request.match_info["question"])
    agg.check_params(request.query.items(), agg.WINDOW_PARAMS)
    name = agg.app_name(request.query, app[REGISTRIES])
    query, today, k = dict(request.query), _today(request), config.aggregate_k
    loader = await _caught_up(request)
    doc = await agg.run_read(
        _reader(loader), lambda con: agg.answer(con, question, name, query, today, k), config.aggregate_timeout_s
    )
    return json_response(200, doc, {"Cache-Control": "no-store"})


async def post_snapshot(request: web.Request) -> web.Response:
    """Write a Parquet snapshot now (same token as the aggregates; 409 without a snapshot folder)."""
    _authorize(request)
    agg.check_params(request.query.items(), agg.NO_PARAMS)
    config = request.app[CONFIG]
    if config.snapshot_dir is None:
        raise Rejected(409, "no_snapshot_dir", detail="start the collector with snapshot_dir")
    loader = await _caught_up(request)
    info = await asyncio.to_thread(snapshot, loader, config)
    return json_response(200, {"status": "written", "reports": info.reports, "days": info.days})


async def get_budget(request: web.Request) -> web.Response:
    """The privacy ledger of one application: ρ spent and remaining per budget week, refused releases."""
    app, config = request.app, request.app[CONFIG]
    _authorize(request)
    agg.check_params(request.query.items(), agg.BUDGET_PARAMS)
    name = agg.app_name(request.query, app[REGISTRIES])
    loader = await _caught_up(request)
    doc = await agg.run_read(
        _reader(loader), lambda con: agg.budget(con, name, config.privacy_budget_rho), config.aggregate_timeout_s
    )
    return json_response(200, doc, {"Cache-Control": "no-store"})


async def post_releases(request: web.Request) -> web.Response:
    """Make every due release now (same token; the maintenance schedule does this on its own too)."""
    app, config = request.app, request.app[CONFIG]
    _authorize(request)
    agg.check_params(request.query.items(), agg.NO_PARAMS)
    loader = await _caught_up(request)
    work = loader.call(lambda running: release_due(running, config, app[REGISTRIES], app[CLOCK]))
    try:
        run = await asyncio.wrap_future(work)
    except LoaderUnavailable:
        raise Unavailable(detail="storage is not open; retry later") from None
    return json_response(200, {"status": "done", "made": run.made, "refused": run.refused})


# The page is self-contained: nothing may be fetched from elsewhere, and no referrer leaves with the token.
_PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": PAGE_CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def dashboard(request: web.Request) -> web.Response:
    """The canned questions as one HTML page, filtered by a plain GET form; the token may come as ?token=."""
    app, config = request.app, request.app[CONFIG]
    _authorize(request, allow_query_token=True)
    filters = agg.dashboard_filters(request.query.items(), app[REGISTRIES])
    today, k = _today(request), config.aggregate_k
    loader = await _caught_up(request)
    tables = await agg.run_read(
        _reader(loader), lambda con: agg.dashboard_tables(con, filters, today, k), config.aggregate_timeout_s
    )
    apps = sorted({name for name, _ in app[REGISTRIES]})
    form = filter_form(filters, apps, request.query.get("token", ""))
    page = render_html(tables, f"{filters.app}: customer feedback, released in aggregate", form)
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS)


class LoaderService:
    """The loader and its control app on 127.0.0.1 (port written to the journal folder for the workers)."""

    def __init__(self, config: Config, secret: str, clock: Callable[[], float] = time.time) -> None:
        registries = registries_of(config)
        self.config = config
        self.loader = Loader(registries=registries, clock=clock, **loader_settings(config))
        self.loader.periodic.extend(scheduled(config, registries, clock))
        self.runner = web.AppRunner(
            create_control_app(self.loader, config, registries, secret, clock),
            handle_signals=False,
            access_log=None,
            logger=http_logger(),
        )

    async def start(self) -> int:
        await asyncio.to_thread(self.loader.open)
        log_disk_at_start(self.loader.db, self.config.min_free_bytes)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = int(next(addr[1] for addr in self.runner.addresses if isinstance(addr, tuple)))
        write_port_file(self.config.journal_dir() / PORT_FILE, port)
        return port

    async def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.config.journal_dir() / PORT_FILE).unlink()
        await self.runner.cleanup()
        await asyncio.to_thread(self.loader.close)  # loads what is journaled, checkpoints, deletes loaded segments
