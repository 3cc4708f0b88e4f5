"""HTTP handlers: a few lines each over the pure ingest functions and the store."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from optin.analysis import render_html
from optin.contract import ReportError, decode_json

from . import _aggregates as agg
from ._disk import disk_state
from ._ingest import Rejected, check_headers, inflate, ingest
from ._keys import CLOCK, CONFIG, IN_FLIGHT, REGISTRIES, STORE, TOMBSTONES
from ._maintenance import snapshot_now
from ._openapi import openapi_document
from ._prometheus import render_metrics
from ._releases import release_due
from ._store import Outcome, StoreUnavailable

log = logging.getLogger("optin.collector")


def _now(request: web.Request) -> dt.datetime:
    return dt.datetime.fromtimestamp(request.app[CLOCK](), dt.UTC)


def _json(status: int, doc: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json", headers=headers)


def _reject(request: web.Request, rejected: Rejected) -> web.Response:
    request.app[STORE].count_rejection(rejected.code, _now(request).date())
    log.info(
        "rejected",
        extra={"event": "rejected", "status": rejected.status, "reason": rejected.code, "field": rejected.path},
    )
    headers = {"Retry-After": str(request.app[CONFIG].retry_after_s)} if rejected.status in (429, 503) else None
    return _json(rejected.status, rejected.body(), headers)


async def _read_body(request: web.Request) -> bytes:
    config = request.app[CONFIG]
    check_headers(
        request.headers.get("Content-Type", ""),
        request.headers.get("Content-Encoding", ""),
        request.content_length,
        config.max_body_bytes,
    )
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(config.max_body_bytes + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > config.max_body_bytes:  # stop reading: a lying or huge body is never buffered whole
            raise Rejected(413, "too_large", detail=f"at most {config.max_body_bytes} bytes")
    return b"".join(chunks)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _bounded(handler: Handler) -> Handler:
    """At most max_requests_in_flight bodies are read or checked at once (429 beyond): memory stays bounded."""

    @functools.wraps(handler)
    async def bounded(request: web.Request) -> web.Response:
        in_flight = request.app[IN_FLIGHT]
        if in_flight[0] >= request.app[CONFIG].max_requests_in_flight:
            return _reject(request, Rejected(429, "too_many_requests", detail="retry later"))
        in_flight[0] += 1
        try:
            return await handler(request)
        finally:
            in_flight[0] -= 1

    return bounded


@_bounded
async def post_report(request: web.Request) -> web.Response:
    config, store = request.app[CONFIG], request.app[STORE]
    try:
        received = _now(request)
        body = await _read_body(request)
        report = ingest(
            body,
            request.headers.get("Content-Encoding", ""),
            store.checker,
            int(received.timestamp()),
            config.max_body_bytes,
        )
        del body
        # Erased data never comes back: a report of an installation whose deletion was confirmed
        # is refused for good (410: the client drops it and counts it). Checked just before the
        # hand-over, in the same turn, so a deletion handed over later also removes what passed.
        if request.app[TOMBSTONES].contains(report.installation_id):
            raise Rejected(410, "installation_deleted", "installation_id", "this installation's data was erased")
        outcome = await store.submit(report, received)
    except Rejected as rejected:
        return _reject(request, rejected)
    except StoreUnavailable:
        return _reject(request, Rejected(503, "unavailable", detail="not stored; retry later"))
    if outcome is Outcome.DUPLICATE:
        return _json(200, {"status": "duplicate"})
    return _json(202, {"status": "stored"})


@_bounded  # deletions share the bound on bodies in memory
async def post_deletion(request: web.Request) -> web.Response:
    try:
        body = await _read_body(request)
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            body = inflate(body, request.app[CONFIG].max_body_bytes)
        try:
            doc = decode_json(body)
        except ReportError as error:
            raise Rejected(error.status, error.code) from None
        installation_id = _installation_id(doc)
        # The tombstone is durable before the rows go, so a confirmed (202) deletion is never undone
        # by a retried or stale report (see _tombstones.py); a failed write is answered 503.
        try:
            await asyncio.to_thread(request.app[TOMBSTONES].add, installation_id)
        except OSError:
            raise StoreUnavailable("tombstone not written") from None
        await request.app[STORE].delete(installation_id)
    except Rejected as rejected:
        return _reject(request, rejected)
    except StoreUnavailable:
        return _reject(request, Rejected(503, "unavailable", detail="not deleted; retry later"))
    log.info("deleted", extra={"event": "deleted"})
    return _json(202, {"status": "deleted"})


def _installation_id(doc: object) -> str:
    if not isinstance(doc, dict) or set(doc) != {"installation_id"}:
        raise Rejected(400, "malformed_request", "installation_id", 'expected {"installation_id": <uuid>}')
    value = doc["installation_id"]
    try:
        if not isinstance(value, str) or str(uuid.UUID(value)) != value:
            raise ValueError
    except ValueError:
        raise Rejected(400, "bad_uuid", "installation_id") from None
    return value


async def healthz(request: web.Request) -> web.Response:
    store, config = request.app[STORE], request.app[CONFIG]
    if not store.healthy:
        return _json(503, {"status": "degraded", "reason": "storage is failing; reports are refused, not lost"})
    # The disk as it is now (from the first request after a start on a full disk, not from the first failed write).
    try:
        disk = disk_state(store.path)
    except OSError:
        disk = None
    if disk is not None and disk.full(config.min_free_bytes):
        return _json(
            503,
            {"status": "not_ready", "reason": "disk_full", "free_bytes": disk.free_bytes, "device": disk.device},
        )
    return _json(200, {"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    text = render_metrics(request.app[STORE], request.app[IN_FLIGHT][0])
    return web.Response(
        text=text, content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"}
    )


async def openapi(request: web.Request) -> web.Response:
    return _json(200, openapi_document())


def _authorize(request: web.Request, allow_query_token: bool = False) -> None:
    query_token = request.query.get("token", "") if allow_query_token else ""
    try:
        agg.check_token(request.app[CONFIG].token, request.headers.get("Authorization", ""), query_token)
    except Rejected as rejected:
        request.app[STORE].stats.auth_failures[rejected.code] += 1
        raise


async def list_aggregates(request: web.Request) -> web.Response:
    try:
        _authorize(request)
    except Rejected as rejected:
        return _refused(request, rejected)
    return _json(200, {"questions": agg.question_names()}, {"Cache-Control": "no-store"})


async def get_aggregate(request: web.Request) -> web.Response:
    app, config = request.app, request.app[CONFIG]
    try:
        _authorize(request)
        question = agg.known_question(request.match_info["question"])
        name = agg.app_name(request.query, app[REGISTRIES])
        query, today, k = dict(request.query), _now(request).date(), config.aggregate_k
        doc = await agg.run_read(
            app[STORE].reader(),
            lambda con: agg.answer(con, question, name, query, today, k),
            config.aggregate_timeout_s,
        )
    except Rejected as rejected:
        return _refused(request, rejected)
    except StoreUnavailable:
        return _refused(request, Rejected(503, "unavailable", detail="storage is not open; retry later"))
    return _json(200, doc, {"Cache-Control": "no-store"})


async def get_budget(request: web.Request) -> web.Response:
    """The privacy ledger of one application: ρ spent and remaining per budget week, refused releases."""
    app, config = request.app, request.app[CONFIG]
    try:
        _authorize(request)
        name = agg.app_name(request.query, app[REGISTRIES])
        doc = await agg.run_read(
            app[STORE].reader(),
            lambda con: agg.budget(con, name, config.privacy_budget_rho),
            config.aggregate_timeout_s,
        )
    except Rejected as rejected:
        return _refused(request, rejected)
    except StoreUnavailable:
        return _refused(request, Rejected(503, "unavailable", detail="storage is not open; retry later"))
    return _json(200, doc, {"Cache-Control": "no-store"})


async def post_releases(request: web.Request) -> web.Response:
    """Make every due release now (same token; the maintenance schedule does this on its own too)."""
    try:
        _authorize(request)
        run = await release_due(request.app)
    except Rejected as rejected:
        return _refused(request, rejected)
    except StoreUnavailable:
        return _refused(request, Rejected(503, "unavailable", detail="storage is not open; retry later"))
    return _json(200, {"status": "done", "made": run.made, "refused": run.refused})


def _refused(request: web.Request, rejected: Rejected) -> web.Response:
    """An aggregate, dashboard or snapshot request refused: 401 says how to authenticate, 503 when to retry."""
    headers = {"Cache-Control": "no-store"}
    if rejected.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if rejected.status in (429, 503):
        headers["Retry-After"] = str(request.app[CONFIG].retry_after_s)
    return _json(rejected.status, rejected.body(), headers)


async def post_snapshot(request: web.Request) -> web.Response:
    """Write a Parquet snapshot now (same token as the aggregates; 409 without a snapshot folder)."""
    try:
        _authorize(request)
        if request.app[CONFIG].snapshot_dir is None:
            raise Rejected(409, "no_snapshot_dir", detail="start the collector with snapshot_dir")
        info = await snapshot_now(request.app)
    except Rejected as rejected:
        return _refused(request, rejected)
    except StoreUnavailable:
        return _refused(request, Rejected(503, "unavailable", detail="storage is not open; retry later"))
    return _json(200, {"status": "written", "reports": info.reports, "days": info.days})


# The page is self-contained: nothing may be fetched from elsewhere, and no referrer leaves with the token.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def dashboard(request: web.Request) -> web.Response:
    """Every canned question as one HTML page; the token may come as ?token= so a browser can open it."""
    app, config = request.app, request.app[CONFIG]
    try:
        _authorize(request, allow_query_token=True)
        name = agg.app_name(request.query, app[REGISTRIES])
        query, today, k = dict(request.query), _now(request).date(), config.aggregate_k
        tables = await agg.run_read(
            app[STORE].reader(), lambda con: agg.tables(con, name, query, today, k), config.aggregate_timeout_s
        )
    except Rejected as rejected:
        return _refused(request, rejected)
    except StoreUnavailable:
        return _refused(request, Rejected(503, "unavailable", detail="storage is not open; retry later"))
    page = render_html(tables, f"{name}: customer feedback, released in aggregate")
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS)
