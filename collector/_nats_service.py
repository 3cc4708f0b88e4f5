"""`optin-collector loader --journal nats://...`: the one loader of a stream, as a process of its own.

It owns the DuckDB file and answers, on its own port, what reads the database: `/healthz`
(503 `disk_full` when the disk under the database is below min_free_bytes), `/metrics` (the
loader's counters and how many messages wait in the stream), the token-protected aggregates,
dashboard, snapshots, budget and releases (the same handlers as the single-machine loader's).
Releases, retention and snapshots run on the same schedule (`_jobs.scheduled`). Collectors never
talk to it: the stream is between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Final

from aiohttp import web

from . import _control as ctl
from ._app import registries_of
from ._config import Config
from ._disk import full_disk_answer, log_disk_at_start
from ._errors import InFlight, error_middleware, json_response
from ._jobs import scheduled
from ._logs import http_logger
from ._loop import run as run_loop
from ._nats_loader import NatsLoader, StreamSource
from ._prometheus import _metric, render_metrics

log = logging.getLogger("optin.collector")

REFRESH_S: Final = 1.0
SOURCE = web.AppKey("source", StreamSource)


async def healthz(request: web.Request) -> web.Response:
    loader, source = request.app[ctl.LOADER], request.app[SOURCE]
    if not (loader.running and source.connected):
        return json_response(503, {"status": "degraded", "reason": "the database or the stream is not available"})
    full = full_disk_answer(loader.db, loader.min_free_bytes)
    return json_response(503, full) if full is not None else json_response(200, {"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    loader, source = request.app[ctl.LOADER], request.app[SOURCE]
    assert isinstance(loader, NatsLoader)
    lines: list[str] = []
    _metric(
        lines,
        "optin_stream_pending_messages",
        "gauge",
        "Messages in the stream not yet loaded (-1: unknown).",
        source.pending,
    )
    _metric(
        lines,
        "optin_stream_errors_total",
        "counter",
        "Fetches, acks and table reads that failed.",
        loader.stream_errors,
    )
    _metric(lines, "optin_stream_rewinds_total", "counter", "Times the consumer was recreated.", loader.rewinds)
    _metric(lines, "optin_stream_reachable", "gauge", "1 when connected to the stream.", 1 if source.connected else 0)
    text = render_metrics(loader) + "\n".join(lines) + "\n"
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def create_loader_app(
    loader: NatsLoader, source: StreamSource, config: Config, clock: Callable[[], float]
) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware(config.retry_after_s, InFlight(limit=1 << 30), lambda r, e: None)],
        client_max_size=1 << 20,
    )
    app[ctl.LOADER], app[ctl.CONFIG], app[ctl.CLOCK], app[SOURCE] = loader, config, clock, source
    app[ctl.REGISTRIES] = loader.registries
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    ctl.add_database_routes(app)
    return app


@contextlib.asynccontextmanager
async def running_loader(
    config: Config, clock: Callable[[], float] = time.time
) -> AsyncIterator[tuple[int, NatsLoader]]:
    """Connect, open the database, serve; yields the port and the loader. On exit: stop serving, load, close."""
    source = StreamSource(config)
    await source.open()
    registries = registries_of(config)
    loader = NatsLoader(config, registries, source, asyncio.get_running_loop(), clock)
    loader.min_free_bytes = config.min_free_bytes
    loader.periodic.extend(scheduled(config, registries, clock))
    await asyncio.to_thread(loader.open)
    log_disk_at_start(loader.db, config.min_free_bytes)
    runner = web.AppRunner(
        create_loader_app(loader, source, config, clock), handle_signals=False, access_log=None, logger=http_logger()
    )
    await runner.setup()

    async def refresh() -> None:
        while True:
            await source.refresh()
            await asyncio.sleep(REFRESH_S)

    refresher = asyncio.create_task(refresh(), name="optin-stream-refresh")
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        yield int(next(addr[1] for addr in runner.addresses if isinstance(addr, tuple))), loader
    finally:
        refresher.cancel()
        await runner.cleanup()
        await asyncio.to_thread(loader.close)
        await source.close()


def run_loader(config: Config) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running_loader(config) as (port, loader):
            log.info("ready", extra={"event": "ready", "port": port, "db": config.resolved_db().name})
            while not stop.is_set() and loader.alive:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            log.info("stopping", extra={"event": "stopping"})
        log.info("stopped", extra={"event": "stopped"})
        if not stop.is_set():  # the loading thread failed: exit non-zero, so the service manager starts it again
            raise SystemExit(1)

    run_loop(main())
    return 0
