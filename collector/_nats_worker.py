"""A stateless collector worker: reads a body, checks it, publishes it to the JetStream stream, answers on its ack.

The same handlers and error middleware as the file journal's worker; only where a checked
report goes differs. A report is answered 202 once JetStream acknowledged the publish (with
replicas 3, once two nodes hold it), 200 when JetStream says the report id is a duplicate, 503
with Retry-After when the stream is unreachable, refuses the message (full) or does not answer
within `nats_publish_timeout_s` (the report may still be stored: the client's retry is then a
duplicate, stored once). The publishes waiting for their ack are bounded by max_pending_reports.

Rejection counts go to the loader through the stream too (a `C` record about once a second).
Confirmed deletions are kept in a key-value bucket every collector follows (`_nats_tombstones`):
a report of a deleted installation is refused 410 as in the single-machine layout.
The endpoints that read the database (aggregates, dashboard, snapshots) are the loader's own in
this layout: a collector answers them 404 `served_by_loader`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Final

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from optin.contract import CheckedReport, Registry

from . import _nats as nt, _records as rec
from ._config import Config
from ._errors import Unavailable
from ._ingest import Rejected
from ._nats_tombstones import StreamTombstones, ensure_bucket
from ._prometheus import _metric
from ._seam import WorkerCore

log = logging.getLogger("optin.collector")

COUNTS_EVERY_S: Final = 1.0
CONNECT_RETRY_S: Final = 0.5
STREAM_FULL: Final = frozenset({10047, 10077, 10028})  # storage limit reached, message too large, resource limits


class NatsWorker(WorkerCore):
    def __init__(
        self,
        config: Config,
        registries: Mapping[tuple[str, int], Registry],
        name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, registries, name, clock)
        self.table = rec.encode_metrics(self.checker.metric_names, dict(registries))
        self.table_id = nt.table_id(self.table)
        self.tombstones = StreamTombstones()
        self.ready = False  # connected once, stream, table and tombstones in place
        self.publish_failures = 0
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._pending = 0
        self._publishing: dict[str, asyncio.Future[bool]] = {}
        self._counts_id = uuid.uuid4().hex  # message ids of this worker's count records: a retried publish is dropped
        self._counts_seq = 0
        self._task: asyncio.Task[None] | None = None
        self._follow: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect; say ready once the stream is, or after nats_publish_timeout_s (then answer 503 until it is)."""
        self._task = asyncio.create_task(self._run(), name="optin-nats")
        deadline = time.monotonic() + self.config.nats_publish_timeout_s
        while not self.ready and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        for task in (self._task, self._follow):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._send_counts()
            with contextlib.suppress(Exception):
                await self._nc.drain()

    async def _run(self) -> None:
        while self._nc is None:
            try:
                nc = await nt.connect(self.config, f"optin-collector {self.name}")
            except (nats.errors.Error, OSError, TimeoutError) as error:
                log.warning("nats: not reachable (%s); retrying", type(error).__name__, extra={"event": "nats_down"})
                await asyncio.sleep(CONNECT_RETRY_S)
                continue
            self._nc, self._js = nc, nc.jetstream(timeout=self.config.nats_publish_timeout_s)
        while not self.ready:
            try:
                assert self._js is not None
                await nt.ensure_stream(self._js, self.config)
                bucket = await self._js.key_value(nt.table_bucket(self.config))
                await bucket.put(self.table_id, self.table)
                await self._follow_tombstones()
                self.ready = True
                log.info("nats: stream ready", extra={"event": "nats_ready"})
            except (nats.errors.Error, OSError, TimeoutError) as error:
                log.warning("nats: stream not ready (%s)", nt.describe(error), extra={"event": "nats_down"})
                await asyncio.sleep(CONNECT_RETRY_S)
        while True:
            await asyncio.sleep(COUNTS_EVERY_S)
            with contextlib.suppress(Exception):
                await self._send_counts()
            if self._follow is not None and self._follow.done():  # the watch ended: not ready until it is back
                log.warning("nats: tombstone watch ended; following again", extra={"event": "nats_down"})
                with contextlib.suppress(Exception):
                    await self._follow_tombstones()

    async def _follow_tombstones(self) -> None:
        """Start following the tombstone bucket; return once every key it held has been read."""
        assert self._js is not None
        kv = await ensure_bucket(self._js, self.config)
        self._follow = asyncio.create_task(self.tombstones.follow(kv), name="optin-tombstones")
        deadline = time.monotonic() + max(self.config.nats_publish_timeout_s, 30.0)
        while not self.tombstones.loaded:
            if self._follow.done() or time.monotonic() > deadline:
                self._follow.cancel()
                raise TimeoutError("tombstones not loaded")
            await asyncio.sleep(0.01)

    # --- ingest ------------------------------------------------------------------------------

    async def admit(self) -> None:
        if not self.healthy:
            raise Unavailable("stream_unreachable", "the stream is not reachable; retry later")
        if self._pending >= self.config.max_pending_reports:
            raise Unavailable(detail="too many reports waiting for the stream; retry later")

    async def journal_report(self, report: CheckedReport, received_s: int) -> bool:
        """Publish a report; False when it is a duplicate (this worker's, or JetStream's within its window)."""
        report_id = report.report_id
        if await self.copy_in_flight(self._publishing, report_id, Unavailable):
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._publishing[report_id] = future
        try:
            stored = await self._publish(
                "report",
                rec.encode_report(report, received_s),
                {nt.MSG_ID_HEADER: report_id, nt.TABLE_HEADER: self.table_id},
            )
        except Unavailable as error:
            future.set_exception(error)
            future.exception()  # retrieved: a copy waiting on it retries, nobody else needs it
            raise
        else:
            future.set_result(stored)
        finally:
            del self._publishing[report_id]
        if stored:
            self.stats.accepted += 1
        else:
            self.stats.duplicates += 1
        return stored

    async def journal_deletion(self, installation_id: str, received_s: int) -> None:
        await self._publish("deletion", rec.encode_deletion(installation_id, received_s), None)
        self.stats.deletions += 1

    async def _publish(self, kind: str, payload: bytes, headers: dict[str, str] | None) -> bool:
        """True once stored, False for a duplicate; Unavailable (503) when not acknowledged."""
        js = self._js
        if js is None or not self.ready:
            raise Unavailable("stream_unreachable", "the stream is not reachable; retry later")
        self._pending += 1
        try:
            ack = await js.publish(nt.subject(self.config, kind), payload, headers=headers)
        except nats.js.errors.APIError as error:
            self.publish_failures += 1
            code = "stream_full" if error.err_code in STREAM_FULL else "stream_refused"
            raise Unavailable(code, "not stored; retry later") from None
        except (nats.errors.Error, OSError, TimeoutError):
            self.publish_failures += 1
            raise Unavailable("stream_unreachable", "not acknowledged; retry later") from None
        finally:
            self._pending -= 1
        return not ack.duplicate

    async def _send_counts(self) -> None:
        if not self._rejections or not self.ready or self._js is None:
            return
        sent, self._rejections = self._rejections, Counter()
        by_day: dict[str, dict[str, int]] = {}
        for (day, reason), count in sent.items():
            by_day.setdefault(day, {})[reason] = count
        self._counts_seq += 1
        msg_id = f"{self._counts_id}-{self._counts_seq}"
        for _ in range(3):  # the same message id: JetStream keeps one copy
            try:
                await self._js.publish(
                    nt.subject(self.config, "counts"), nt.encode_counts(by_day), headers={nt.MSG_ID_HEADER: msg_id}
                )
                return
            except (nats.errors.Error, OSError, TimeoutError):
                continue
        self._rejections.update(sent)  # not acknowledged: counted again with the next ones (may count twice)

    @property
    def healthy(self) -> bool:
        return self.ready and self._nc is not None and self._nc.is_connected and self.tombstones.loaded

    # --- what the file journal's worker asks the loader -------------------------------------

    async def heartbeat(self) -> bool:
        await self._send_counts()
        return self.healthy

    async def proxy(self, method: str, path_qs: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path_qs == "/internal/metrics":
            return 200, {}, self.render_metrics().encode()
        raise Rejected(404, "served_by_loader", detail="with a NATS journal, the loader answers this")

    def render_metrics(self) -> str:
        stats, lines = self.stats, list[str]()
        _metric(lines, "optin_reports_accepted_total", "counter", "Reports published and answered 202.", stats.accepted)
        _metric(lines, "optin_reports_duplicate_total", "counter", "Report copies answered 200.", stats.duplicates)
        lines += [
            "# HELP optin_requests_rejected_total Requests rejected, by reason.",
            "# TYPE optin_requests_rejected_total counter",
        ]
        lines += [f'optin_requests_rejected_total{{reason="{r}"}} {n}' for r, n in sorted(stats.rejections.items())]
        _metric(
            lines,
            "optin_slow_bodies_total",
            "counter",
            "Bodies not received within body_timeout_s (408).",
            stats.slow_bodies,
        )
        _metric(lines, "optin_deletions_total", "counter", "Deletions published.", stats.deletions)
        _metric(
            lines,
            "optin_stream_publish_failures_total",
            "counter",
            "Publishes not acknowledged (503).",
            self.publish_failures,
        )
        _metric(
            lines,
            "optin_stream_publishes_pending",
            "gauge",
            "Publishes waiting for their acknowledgement.",
            self._pending,
        )
        _metric(
            lines,
            "optin_requests_in_flight",
            "gauge",
            "Report requests being read, checked or published.",
            self.in_flight.count,
        )
        _metric(lines, "optin_store_healthy", "gauge", "1 when the stream is reachable.", 1 if self.healthy else 0)
        return "\n".join(lines) + "\n"
