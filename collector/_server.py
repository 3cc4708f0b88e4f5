"""The HTTP server's own error answers, without the request's text.

When a request cannot even be parsed (a bad header byte, a bad method), aiohttp answers 400
itself and puts the parser's message, which quotes the offending header line, into the body.
Here those answers carry only the status, so no answer ever echoes what was sent. (Its log
line goes through the scrubbing logger of `_logs`.)
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_server import Server


class _QuietHandler(RequestHandler):
    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> StreamResponse:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        return super().handle_error(request, status, exc, f"{status} {phrase}")


class _QuietServer(Server):
    def __call__(self) -> RequestHandler:
        return _QuietHandler(self, loop=self._loop, **self._kwargs)


class QuietRunner(web.AppRunner):
    """An AppRunner whose connections answer unparseable requests with the bare status."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _QuietServer  # same fields; only the handler factory differs
        return server
