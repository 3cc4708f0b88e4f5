"""A worker's public aiohttp application and how it listens (no DuckDB here: workers never touch it).

The loader's side is `_control`; the command line runs them as processes (`_processes`),
`CollectorThread` in one event loop.
"""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web

from optin.contract import Registry, bundled_registry, load_registry_folder

from . import _handlers as h
from ._config import Config
from ._errors import error_middleware
from ._logs import http_logger
from ._seam import IngestWorker
from ._server import QuietRunner, connection_cap
from ._worker import Worker


def registries_of(config: Config) -> dict[tuple[str, int], Registry]:
    if config.registries is None:
        registry = bundled_registry("millwright")
        return {(registry.app, registry.version): registry}
    return dict(load_registry_folder(config.registries))


def create_app(
    config: Config,
    clock: Callable[[], float] = time.time,
    worker: IngestWorker | None = None,
    registries: Mapping[tuple[str, int], Registry] | None = None,
) -> web.Application:
    """A worker's public application (``worker`` defaults to one named w0 over the configured journal folder)."""
    registries = registries if registries is not None else registries_of(config)
    if worker is None:
        worker = Worker(config, registries, "w0", config.journal_dir(), secrets.token_hex(16), clock)
    app = web.Application(
        client_max_size=config.max_body_bytes + 1,  # our handler reads at most max_body_bytes + 1
        middlewares=[error_middleware(config.retry_after_s, worker.in_flight, h.count_rejection)],
    )
    app[h.WORKER] = worker

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await worker.start()
        yield
        await worker.stop()

    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/v1/reports", h.post_report)
    app.router.add_post("/v1/deletions", h.post_deletion)
    app.router.add_get("/healthz", h.healthz)
    app.router.add_get("/metrics", h.metrics)
    app.router.add_get("/openapi.json", h.openapi)
    app.router.add_get("/v1/aggregates", h.to_loader)
    app.router.add_get("/v1/aggregates/{question}", h.to_loader)
    app.router.add_post("/v1/snapshots", h.to_loader)
    app.router.add_get("/v1/budget", h.to_loader)
    app.router.add_post("/v1/releases", h.to_loader)
    app.router.add_get("/dashboard", h.to_loader)
    return app


def runner_of(app: web.Application, config: Config) -> web.AppRunner:
    return QuietRunner(
        app,
        handle_signals=False,
        shutdown_timeout=30,
        logger=http_logger(),
        keepalive_timeout=config.keepalive_timeout_s,
        max_connections=connection_cap(config.max_connections),
        auto_decompress=False,  # else aiohttp inflates gzip bodies itself, before our size limit and bomb check
        access_log=None,  # an access log records the peer address and user agent
    )


async def serve_worker(runner: web.AppRunner, config: Config, port: int, reuse_port: bool) -> int:
    """Listen on config.host:port (sharing the port with the other workers); returns the port."""
    context = None
    if config.tls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(config.tls_cert, config.tls_key)
    site = web.TCPSite(runner, config.host, port, ssl_context=context, reuse_port=reuse_port or None, backlog=1024)
    await site.start()
    return int(next(addr[1] for addr in runner.addresses if isinstance(addr, tuple)))
