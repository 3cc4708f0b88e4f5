"""The collector on a background thread of the calling process: for embedded demos and tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from aiohttp import web

from ._app import start
from ._config import Config
from ._maintenance import MaintenanceResult, maintain


class CollectorThread:
    """Serve ``config`` on its own event loop thread; `url` is valid after `start()`."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="optin-collector", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> CollectorThread:
        self._thread.start()
        self._runner = self._call(start(self.config, self.clock))
        self.port = next(addr[1] for addr in self._runner.addresses if isinstance(addr, tuple))
        return self

    def stop(self) -> None:
        """Stop accepting, drain and commit the store, stop the loop (a second call does nothing)."""
        if self._loop.is_closed():
            return  # stopped already
        if self._runner is not None:
            self._call(self._runner.cleanup())
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    def maintain(self) -> MaintenanceResult:
        """Run retention (and a snapshot, if configured) now, as the schedule would."""
        assert self._runner is not None
        future: Future[MaintenanceResult] = asyncio.run_coroutine_threadsafe(maintain(self._runner.app), self._loop)
        return future.result(60)

    def _call(self, coro: object) -> web.AppRunner:
        future: Future[web.AppRunner] = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return future.result(60)

    def __enter__(self) -> CollectorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
