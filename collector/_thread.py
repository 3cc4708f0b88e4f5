"""The collector on a background thread of the calling process: for embedded demos and tests.

It runs the loader and one worker in one event loop (the in-process layout), so a simulated
clock is shared by both; the journal, the loader's transactions and the answers are the same
as with the command line's processes.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from ._app import create_app, runner_of, serve_worker
from ._config import Config
from ._control import LoaderService
from ._jobs import MaintenanceResult, maintain
from ._worker import Worker

T = TypeVar("T")


async def start(config: Config, clock: Callable[[], float] = time.time) -> tuple[LoaderService, web.AppRunner]:
    """In-process layout: the loader and one worker in this event loop; stop with `stop(...)`."""
    secret = secrets.token_hex(16)
    service = LoaderService(config, secret, clock)
    await service.start()
    registries = service.loader.registries
    worker = Worker(config, registries, "w0", config.journal_dir(), secret, clock)
    runner = runner_of(create_app(config, clock, worker, registries), config)
    await runner.setup()
    try:
        await serve_worker(runner, config, config.port, reuse_port=False)
    except BaseException:
        await runner.cleanup()
        await service.stop()
        raise
    return service, runner


async def stop(service: LoaderService, runner: web.AppRunner) -> None:
    await runner.cleanup()  # stops accepting, finishes requests, syncs the journal
    await service.stop()


class CollectorThread:
    """Serve ``config`` on its own event loop thread; `url` is valid after `start()`."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._service: LoaderService | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="optin-collector", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> CollectorThread:
        self._thread.start()
        self._service, self._runner = self._call(start(self.config, self.clock))
        self.port = next(addr[1] for addr in self._runner.addresses if isinstance(addr, tuple))
        return self

    def stop(self) -> None:
        """Stop accepting, sync the journal, load what it holds, checkpoint, stop the loop (again: nothing)."""
        if self._loop.is_closed():
            return  # stopped already
        if self._runner is not None and self._service is not None:
            self._call(stop(self._service, self._runner))
            self._runner = self._service = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    def maintain(self) -> MaintenanceResult:
        """Load what is journaled, then run retention (and a snapshot, if configured) now, as the schedule would."""
        assert self._service is not None
        loader = self._service.loader
        loader.caught_up().result(60)
        registries = loader.registries
        work = loader.call(lambda it: maintain(it, self.config, registries, self.clock))
        result: MaintenanceResult = work.result(60)
        return result

    @property
    def loader(self) -> Any:
        assert self._service is not None
        return self._service.loader

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(120)

    def __enter__(self) -> CollectorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
