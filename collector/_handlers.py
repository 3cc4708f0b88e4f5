"""The workers' HTTP handlers: a few lines each over the pure ingest functions and the worker.

Errors become answers in one place (`_errors.error_middleware`); here only the happy paths.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Final

import orjson
from aiohttp import web

from optin.contract import ReportError, decode_json

from ._config import Config
from ._disk import full_disk_answer
from ._errors import Unavailable, json_response
from ._ingest import Rejected, check_headers, inflate, ingest
from ._openapi import openapi_document
from ._seam import IngestWorker

log = logging.getLogger("optin.collector")

WORKER = web.AppKey[IngestWorker]("worker")
_STORED: Final = orjson.dumps({"status": "stored"})  # the answers of every report, made once
_DUPLICATE: Final = orjson.dumps({"status": "duplicate"})


def count_rejection(request: web.Request, rejected: Rejected) -> None:
    request.app[WORKER].count_rejection(rejected.code)
    log.info(
        "rejected",
        extra={"event": "rejected", "status": rejected.status, "reason": rejected.code, "field": rejected.path},
    )


async def _read_body(request: web.Request, worker: IngestWorker, encoding: str) -> bytes:
    """At most max_body_bytes, within body_timeout_s (a body trickling in holds an in-flight slot: 408)."""
    config: Config = worker.config
    check_headers(request.headers.get("Content-Type", ""), encoding, request.content_length, config.max_body_bytes)
    content = request.content
    if content.is_eof():  # the whole body has arrived already (a report usually has): no deadline to arm
        body = content.read_nowait(config.max_body_bytes + 1)
        if len(body) > config.max_body_bytes:
            raise Rejected(413, "too_large", detail=f"at most {config.max_body_bytes} bytes")
        return body
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(config.body_timeout_s):
            while chunk := await content.read(config.max_body_bytes + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > config.max_body_bytes:  # stop reading: a lying or huge body is never buffered whole
                    raise Rejected(413, "too_large", detail=f"at most {config.max_body_bytes} bytes")
    except TimeoutError:
        worker.stats.slow_bodies += 1
        raise Rejected(408, "body_timeout", detail=f"send the body within {config.body_timeout_s:g} s") from None
    return b"".join(chunks)


async def post_report(request: web.Request) -> web.Response:
    worker = request.app[WORKER]
    received = int(worker.clock())
    encoding = request.headers.get("Content-Encoding", "")
    body = await _read_body(request, worker, encoding)
    report = ingest(body, encoding, worker.checker, received, worker.config.max_body_bytes)
    del body
    # Erased data never comes back: a report of an installation whose deletion was confirmed is
    # refused for good (410: the client drops it and counts it; see _tombstones.py). What other
    # workers added is read first (a shared counter in memory when nothing is new): the deletion may
    # have been confirmed by another worker a moment ago, and its 202 promised this refusal.
    worker.tombstones.refresh()
    if worker.tombstones.contains(report.installation_id):
        raise Rejected(410, "installation_deleted", "installation_id", "this installation's data was erased")
    await worker.admit()
    if not await worker.journal_report(report, received):
        return web.Response(status=200, body=_DUPLICATE, content_type="application/json")
    return web.Response(status=202, body=_STORED, content_type="application/json")


async def post_deletion(request: web.Request) -> web.Response:
    worker = request.app[WORKER]
    encoding = request.headers.get("Content-Encoding", "")
    body = await _read_body(request, worker, encoding)
    if encoding.strip().lower() == "gzip":
        body = inflate(body, worker.config.max_body_bytes)
    try:
        doc = decode_json(body)
    except ReportError as error:
        raise Rejected(error.status, error.code) from None
    installation_id = _installation_id(doc)
    await worker.admit()
    # The tombstone is durable before the deletion is journaled and answered, so a confirmed (202)
    # deletion is never undone by a retried or stale report; a failed write is answered 503.
    try:
        await asyncio.to_thread(worker.tombstones.add, installation_id)
    except OSError:
        raise Unavailable(detail="not deleted; retry later") from None
    await worker.journal_deletion(installation_id, int(worker.clock()))
    log.info("deleted", extra={"event": "deleted"})
    return json_response(202, {"status": "deleted"})


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
    worker = request.app[WORKER]
    await worker.heartbeat()  # the loader's state now, not as of the last heartbeat (up to 0.2 s old)
    if not worker.healthy:
        return json_response(503, {"status": "degraded", "reason": "storage is failing; reports are refused, not lost"})
    # The disk as it is now (from the first request after a start on a full disk, not the first failed write);
    # a collector on a NATS stream keeps nothing on its disk (the stream's fullness is answered per publish).
    config = worker.config
    full = None if config.uses_nats() else full_disk_answer(config.resolved_db(), config.min_free_bytes)
    return json_response(503, full) if full is not None else json_response(200, {"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Summed over every worker and the loader, each as of its heartbeat after this request (this one's first)."""
    worker = request.app[WORKER]
    await worker.heartbeat()
    status, headers, body = await worker.proxy("GET", "/internal/metrics", {})
    return web.Response(
        status=status,
        body=body,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def openapi(request: web.Request) -> web.Response:
    return json_response(200, openapi_document())


async def to_loader(request: web.Request) -> web.Response:
    """Aggregates, dashboard and snapshots read the database: the loader answers them."""
    status, headers, body = await request.app[WORKER].proxy(request.method, request.path_qs, request.headers)
    return web.Response(status=status, body=body, headers=headers)
