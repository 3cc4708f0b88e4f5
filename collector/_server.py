"""The HTTP server's own error answers, without the request's text.

When a request cannot even be parsed (a bad header byte, a bad method), aiohttp answers 400
itself and puts the parser's message, which quotes the offending header line, into the body.
Here those answers carry only the status, so no answer ever echoes what was sent. (Its log
line goes through the scrubbing logger of `_logs`.)
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_server import Server


class _QuietHandler(RequestHandler):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self._manager
        cap = getattr(server, "max_connections", 0)
        if cap and server is not None and len(server.connections) > cap:
            # Over the cap (kept below the descriptor limit): closed at once, so accepting never fails.
            self.force_close()
            transport.close()

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> StreamResponse:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        return super().handle_error(request, status, exc, f"{status} {phrase}")


class _QuietServer(Server):
    def __call__(self) -> RequestHandler:
        return _QuietHandler(self, loop=self._loop, **self._kwargs)


class QuietRunner(web.AppRunner):
    """An AppRunner whose connections answer unparseable requests with the bare status, at most ``max_connections``."""

    def __init__(self, *args: Any, max_connections: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _QuietServer  # same fields; only the handler factory differs
        server.max_connections = self.max_connections  # type: ignore[attr-defined]
        return server


def connection_cap(configured: int, reserve: int = 64) -> int:
    """The configured cap, or one below this process's descriptor limit (read at start)."""
    if configured > 0:
        return configured
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, ValueError, OSError):
        return 1000
    return max(16, (soft if soft != resource.RLIM_INFINITY else 65536) - reserve)
