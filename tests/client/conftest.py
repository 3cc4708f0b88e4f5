"""Client test fixtures: real servers on 127.0.0.1 (a scriptable one and a silent one) and a socket guard."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aiohttp import web

from optin.client import AppPaths, Feedback, FeedbackOptions, ManualClock
from optin.client.testing import InMemoryTransport
from optin.contract import Registry
from tests.helpers import serve_connections

START = float(int(time.time()) // 86400 * 86400 - 30 * 86400)  # midnight 30 days ago: tests move the clock, never sleep


@dataclass
class SocketGuard:
    """Records every socket the interpreter creates or connects while armed (a Python audit hook)."""

    armed: bool = False
    events: list[tuple[str, str]] = field(default_factory=list)

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.armed and event in ("socket.__new__", "socket.connect", "socket.getaddrinfo"):
            self.events.append((event, threading.current_thread().name))


_GUARD = SocketGuard()
sys.addaudithook(_GUARD.hook)  # audit hooks cannot be removed; the guard records only while armed


@pytest.fixture
def socket_guard() -> Iterator[SocketGuard]:
    _GUARD.events.clear()
    _GUARD.armed = True
    try:
        yield _GUARD
    finally:
        _GUARD.armed = False


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedCollector:
    """A real HTTP server that records requests and answers from a script (202 when the script is empty).

    Like sentry-python's CapturingServer: for answers a real collector will not give on demand.
    """

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.path, dict(request.headers), await request.read()))
        status, headers = self.script.pop(0) if self.script else (202, {})
        return web.json_response({"status": status}, status=status, headers=headers)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, auto_decompress=False)  # keep the bytes as sent
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> ScriptedCollector:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(60)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def scripted() -> Iterator[ScriptedCollector]:
    server = ScriptedCollector().start()
    yield server
    server.stop()


class SilentServer:
    """Accepts connections and never answers: the network hangs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=serve_connections, args=(self.sock, self.accepted.append), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


class Offline(NamedTuple):
    feedback: Feedback  # off, as shipped
    transport: InMemoryTransport  # where its uploads land


@pytest.fixture
def offline(tmp_path: Path, registry: Registry, clock: ManualClock) -> Offline:
    """Feedback that uploads into memory: no collector, no socket."""
    transport = InMemoryTransport()
    return Offline(make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=transport), transport)


@pytest.fixture
def on_feedback(
    tmp_path: Path, registry: Registry, clock: ManualClock, scripted: ScriptedCollector
) -> Iterator[Feedback]:
    """Feedback turned on from the Help menu, sending to the scripted collector (the test closes it)."""
    feedback = make_feedback(registry, tmp_path, scripted.url, clock)
    feedback.turn_on()
    yield feedback
    feedback.close(0)


def make_feedback(registry: Registry, root: Path, endpoint: str, clock: ManualClock, **kwargs: Any) -> Feedback:
    """A Feedback whose files all live under ``root`` and whose system facts are fixed."""
    facts = kwargs.pop("facts", lambda: {"system.os_family": "linux", "system.ram_gib": 16})
    return Feedback(
        registry,
        app_version=kwargs.pop("app_version", "2025.3.0"),
        endpoint=endpoint,
        options=FeedbackOptions(
            paths=kwargs.pop("paths", None) or AppPaths.under(root),
            clock=clock,
            facts=facts,
            environ=kwargs.pop("environ", {}),
            **kwargs,
        ),
    )
