"""create_app(config): the collector as an aiohttp application."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from optin.contract import Registry, bundled_registry, load_registry_folder

from . import _handlers as h
from ._config import Config
from ._disk import log_disk_at_start
from ._keys import CLOCK, CONFIG, IN_FLIGHT, REGISTRIES, STORE, TOMBSTONES
from ._logs import http_logger
from ._maintenance import maintenance_ctx
from ._server import QuietRunner
from ._store import Store
from ._tombstones import Tombstones, tombstones_path


def _registries(config: Config) -> dict[tuple[str, int], Registry]:
    if config.registries is None:
        registry = bundled_registry("millwright")
        return {(registry.app, registry.version): registry}
    return dict(load_registry_folder(config.registries))


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    store = Store(
        config.resolved_db(),
        app[REGISTRIES],
        config.batch_max_reports,
        config.batch_max_wait_ms / 1000,
        config.max_pending_reports,
        config.min_free_bytes,
    )
    await asyncio.to_thread(store.open)
    log_disk_at_start(store.path, config.min_free_bytes)  # /healthz reports it from the first request
    app[STORE] = store
    yield
    await asyncio.to_thread(store.close)  # drain, commit, checkpoint


async def _tombstones_ctx(app: web.Application) -> AsyncIterator[None]:
    """Confirmed deletions, read before the first request (see _tombstones.py)."""
    tombstones = Tombstones(tombstones_path(app[CONFIG].resolved_db()))
    await asyncio.to_thread(tombstones.load)
    app[TOMBSTONES] = tombstones
    yield


async def start(config: Config, clock: Callable[[], float] = time.time) -> web.AppRunner:
    """Start serving on config.host:config.port; the caller awaits runner.cleanup() to stop."""
    runner = QuietRunner(
        create_app(config, clock),
        handle_signals=False,
        shutdown_timeout=30,
        logger=http_logger(),  # errors go through a scrubbing logger
        # aiohttp would otherwise inflate gzip bodies itself, before our compressed-size limit and bomb check.
        auto_decompress=False,
        access_log=None,  # an access log records the peer address and user agent
    )
    await runner.setup()
    context = None
    if config.tls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(config.tls_cert, config.tls_key)
    site = web.TCPSite(runner, config.host, config.port, ssl_context=context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()  # the store is open: close it (drain, checkpoint) before giving up
        raise
    return runner


def create_app(config: Config, clock: Callable[[], float] = time.time) -> web.Application:
    """The collector. ``clock`` is the receiver's time (a seam for simulated fleets and tests)."""
    # client_max_size bounds what aiohttp itself would buffer; our handler reads at most max_body_bytes + 1.
    app = web.Application(client_max_size=config.max_body_bytes + 1)
    app[CONFIG] = config
    app[REGISTRIES] = _registries(config)
    app[IN_FLIGHT] = [0]
    app[CLOCK] = clock
    app.cleanup_ctx.append(_store_ctx)  # creates the database folder
    app.cleanup_ctx.append(_tombstones_ctx)
    app.cleanup_ctx.append(maintenance_ctx)  # cleaned up first: no maintenance runs while the store drains
    app.router.add_post("/v1/reports", h.post_report)
    app.router.add_post("/v1/deletions", h.post_deletion)
    app.router.add_get("/healthz", h.healthz)
    app.router.add_get("/metrics", h.metrics)
    app.router.add_get("/openapi.json", h.openapi)
    app.router.add_get("/v1/aggregates", h.list_aggregates)
    app.router.add_get("/v1/aggregates/{question}", h.get_aggregate)
    app.router.add_post("/v1/snapshots", h.post_snapshot)
    app.router.add_get("/v1/budget", h.get_budget)
    app.router.add_post("/v1/releases", h.post_releases)
    app.router.add_get("/dashboard", h.dashboard)
    return app
