"""One error middleware: `Rejected` and unavailable storage become answers; requests in flight are counted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from ._ingest import Rejected

# Answers of these paths are about stored data: never cached, and 401 says how to authenticate.
PRIVATE_PATHS: Final = ("/v1/aggregates", "/dashboard", "/v1/snapshots")
BOUNDED_PATHS: Final = ("/v1/reports", "/v1/deletions")  # bodies in memory: at most max_in_flight at once


class Unavailable(Exception):
    """Storage cannot take or answer this now (journal full or failing, loader down or behind); 503."""

    def __init__(self, code: str = "unavailable", detail: str = "not stored; retry later") -> None:
        super().__init__(code)
        self.code, self.detail = code, detail


def json_response(status: int, doc: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json", headers=headers)


@dataclass
class InFlight:
    """Report and deletion requests being read, checked or journaled."""

    count: int = 0
    limit: int = 512


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_middleware(
    retry_after_s: int, in_flight: InFlight, count: Callable[[web.Request, Rejected], None]
) -> Middleware:
    """``count`` is told of every refusal of a bounded (ingest) path: it logs and counts it by reason."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        bounded = request.path in BOUNDED_PATHS
        try:
            if not bounded:
                return await handler(request)
            if in_flight.count >= in_flight.limit:
                raise Rejected(429, "too_many_requests", detail="retry later")
            in_flight.count += 1
            try:
                return await handler(request)
            finally:
                in_flight.count -= 1
        except Unavailable as error:
            rejected = Rejected(503, error.code, detail=error.detail)
        except Rejected as error:
            rejected = error
        if bounded:
            count(request, rejected)
        headers: dict[str, str] = {}
        if rejected.status in (429, 503):
            headers["Retry-After"] = str(retry_after_s)
        if request.path.startswith(PRIVATE_PATHS):
            headers["Cache-Control"] = "no-store"
            if rejected.status == 401:
                headers["WWW-Authenticate"] = "Bearer"
        return json_response(rejected.status, rejected.body(), headers)

    return errors
