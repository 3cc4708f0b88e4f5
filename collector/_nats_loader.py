"""The loader of a NATS JetStream journal: one durable pull consumer, one DuckDB file, exactly once.

The stream's sequence is the journal position: the loader records the last sequence it loaded
in the same DuckDB transaction as the rows (`journal_positions`, journal `nats-<stream>`), and
acknowledges the messages only after that commit. Whatever dies when, a message is loaded once:

- the loader dies after the commit, before the acks: the messages come again and are at or
  below the recorded position, so they are only acknowledged;
- it dies before the commit: nothing of the batch is kept, and the messages come again;
- a report id already stored (a retry outside JetStream's duplicate window, or one that
  reached two collectors) is stored once, as with the file journal.

Messages are loaded in stream order. Deletions are in the same stream, so a deletion runs
after every report acknowledged before it (a batch is cut at each deletion and the deletion
runs in its transaction, after those rows; reports of its installation in that batch are
erased with it, never written). As in the single-machine layout, the loader keeps tombstones
beside the database (`_tombstones`), written before the deletion's transaction commits: a report
of the installation later in the stream (one a collector took before it saw the deletion) is
dropped and counted `installation_deleted`, as the file journal's loader does.

Should the consumer ever hand over a message past a gap (messages delivered to an earlier loader
life and not acknowledged come again only after their ack wait), the loader recreates the
consumer, which then starts again at the oldest message still in the stream: the work queue
holds only what was never acknowledged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final, TypeVar

import nats.errors
import nats.js.errors
import pyarrow as pa
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api as js_api
from nats.js.kv import KeyValue

from optin.contract import Registry

from . import _nats as nt, _records as rec
from ._config import Config
from ._loader import Loader, _Cursor, _Read, loader_settings

log = logging.getLogger("optin.collector")

T = TypeVar("T")
DURABLE: Final = "optin-loader"
ACK_WAIT_S: Final = 60.0
CALL_TIMEOUT_S: Final = 30.0
NATS_ERRORS: Final = (nats.errors.Error, OSError, TimeoutError, asyncio.TimeoutError)


class StreamSource:
    """The durable pull consumer, driven on the event loop; the loader thread calls it through `Loader.run`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.tables: KeyValue | None = None
        self.pending = -1  # messages in the stream not yet acknowledged (as last seen)
        self._sub: JetStreamContext.PullSubscription | None = None

    async def open(self) -> None:
        """Connect (waiting for the stream as long as it takes), create what is missing, bind the consumer."""
        while self._sub is None:
            try:
                if self.nc is None:
                    self.nc = await nt.connect(self.config, "optin-loader")
                    self.js = self.nc.jetstream(timeout=10)
                assert self.js is not None
                await nt.ensure_stream(self.js, self.config)
                self.tables = await self.js.key_value(nt.table_bucket(self.config))
                await self.bind(fresh=False)
            except NATS_ERRORS as error:
                log.warning("nats: stream not ready (%s); retrying", nt.describe(error), extra={"event": "nats_down"})
                await asyncio.sleep(0.5)

    async def bind(self, fresh: bool) -> None:
        """Bind to the durable consumer; recreate it (from the oldest message) if asked or if it holds unacked ones."""
        js, stream = self.js, self.config.nats_stream
        assert js is not None
        try:
            info = await js.consumer_info(stream, DURABLE)
        except nats.js.errors.NotFoundError:
            info = None
        if info is not None and (fresh or (info.num_ack_pending or 0) > 0):
            await js.delete_consumer(stream, DURABLE)
            info = None
        if info is None:
            await js.add_consumer(
                stream,
                js_api.ConsumerConfig(
                    durable_name=DURABLE,
                    deliver_policy=js_api.DeliverPolicy.ALL,
                    ack_policy=js_api.AckPolicy.EXPLICIT,
                    ack_wait=ACK_WAIT_S,
                    max_ack_pending=max(1024, 2 * self.config.batch_max_reports),
                    num_replicas=self.config.nats_replicas,
                ),
            )
        if self._sub is not None:
            await self._sub.unsubscribe()
        self._sub = await js.pull_subscribe_bind(DURABLE, stream)

    async def fetch(self, count: int, timeout_s: float) -> list[Msg]:
        assert self._sub is not None
        try:
            return await self._sub.fetch(count, timeout=max(timeout_s, 0.05))
        except (TimeoutError, nats.errors.TimeoutError):
            return []

    async def ack(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            await msg.ack()
        assert self.nc is not None
        await self.nc.flush(timeout=10)

    async def first_seq(self) -> int:
        assert self.js is not None
        return int((await self.js.stream_info(self.config.nats_stream)).state.first_seq)

    async def table(self, table_id: str) -> bytes:
        assert self.tables is not None
        entry = await self.tables.get(table_id)
        if entry.value is None:
            raise LookupError("metrics table missing")
        return entry.value

    async def refresh(self) -> None:
        """How far behind the loader is (for /metrics); run now and then on the loop."""
        assert self.js is not None
        try:
            info = await self.js.consumer_info(self.config.nats_stream, DURABLE)
            self.pending = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        except (*NATS_ERRORS, nats.js.errors.Error):
            self.pending = -1

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def close(self) -> None:
        """Close without draining: every ack was flushed after its commit, and a drain would wait for the open pull."""
        if self.nc is not None:
            await self.nc.close()


class NatsLoader(Loader):
    """The file journal's loader with the stream as its only journal (rows, keys, jobs and transactions shared)."""

    def __init__(
        self,
        config: Config,
        registries: Mapping[tuple[str, int], Registry],
        source: StreamSource,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(registries=registries, clock=clock, **loader_settings(config))
        self.source = source
        self.loop = loop
        self.name = f"nats-{config.nats_stream}"
        self.stream_errors = 0
        self.rewinds = 0
        self._tables: dict[str, pa.Array] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Loader thread: run a call of the source on the event loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT_S)

    def _journals(self) -> list[str]:
        self._cursors.setdefault(self.name, _Cursor(self.name))
        return [self.name]

    def lag_seconds(self) -> float:
        cursor = self._cursors.get(self.name)
        if cursor is None or not self.ready:
            return time.monotonic() - self.started
        return max(0.0, time.monotonic() - cursor.caught_up_at)

    def _round(self) -> tuple[int, bool]:
        started = time.monotonic()
        cursor = self._cursors[self._journals()[0]]
        try:
            msgs = self.run(self.source.fetch(self.batch_max, self.interval_s))
        except NATS_ERRORS:
            self.stream_errors += 1
            # Stopping with the stream out of reach: what it holds waits there for the next start.
            return 0, self._stop.is_set()
        if not msgs:
            cursor.caught_up_at = started
            return 0, True
        msgs.sort(key=lambda m: m.metadata.sequence.stream)
        try:
            loaded, done, rewind = self._load(cursor, msgs)
        except (*NATS_ERRORS, LookupError) as error:  # a table not readable now: nothing acknowledged, all again
            log.warning("loader: batch not loaded (%s)", type(error).__name__, extra={"event": "load_failed"})
            self.stream_errors += 1
            cursor.deletion = None
            loaded, done, rewind = 0, [], True
        try:
            self.run(self.source.ack(done))
            if rewind:
                self.rewinds += 1
                self.run(self.source.bind(fresh=True))
        except NATS_ERRORS:
            self.stream_errors += 1  # unacknowledged messages come again and are skipped then
        if len(msgs) < self.batch_max and not rewind:
            cursor.caught_up_at = started
            return loaded, True
        return loaded, False

    def _load(self, cursor: _Cursor, msgs: list[Msg]) -> tuple[int, list[Msg], bool]:
        """Load ``msgs`` (in stream order) in transactions cut at deletions; returns (loaded, to ack, rewind)."""
        done: list[Msg] = []
        taken: list[Msg] = []
        counts: list[dict[str, dict[str, int]]] = []
        read = _Read(cursor, 0, cursor.offset, None)
        loaded = 0
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            if seq <= read.offset:
                done.append(msg)  # loaded before; its acknowledgement was lost
                continue
            if seq != read.offset + 1 and not self._gone_before(read.offset, seq):
                break  # an earlier message is still in the stream: take it first (rewind)
            payload = msg.data
            kind = payload[:1]
            if kind == rec.REPORT:
                read.add(payload, self._keys(msg))
            elif kind == nt.COUNTS:
                counts.append(nt.decode_counts(payload))
            elif kind == rec.DELETION:
                deletion = cursor.deletion = rec.decode_deletion(payload)
                cursor.deletion_end = seq
                taken.append(msg)
                erased = deletion.installation_id
                kept = dataclasses.replace(read, parts=[], starts=[], ends=[], size=0, maps=[])
                payloads = read.payloads()
                for i, (first, keys_of) in enumerate(read.maps):  # reports of the installation are never written
                    end = read.maps[i + 1][0] if i + 1 < len(read.maps) else read.count
                    for report in payloads[first:end]:
                        if rec.decode_record(report).installation_id != erased:
                            kept.add(report, keys_of)
                read = kept
                self.tombstones.add(erased)  # durable before the commit: what follows in the stream is dropped
                if not self._commit(read, counts, deletion=True):
                    return loaded, done, True
                loaded += read.count + 1
                done += taken
                taken, counts = [], []
                read = _Read(cursor, 0, cursor.offset, None)
                continue
            read.offset = seq
            taken.append(msg)
        else:
            if taken and not self._commit(read, counts, deletion=False):
                return loaded, done, True
            return loaded + read.count, done + taken, False
        if taken and not self._commit(read, counts, deletion=False):
            return loaded, done, True
        return loaded + read.count, done + taken, True

    def _commit(self, read: _Read, counts: list[dict[str, dict[str, int]]], deletion: bool) -> bool:
        if not self._write([read], [read] if deletion else [], []):
            return False
        for by_day in counts:  # counted once the position that covers them is committed
            for day, reasons in by_day.items():
                self.count_rejections(dt.date.fromisoformat(day), reasons)
        if counts or self._rejections:
            # Written at once, not within REJECTION_FLUSH_S: the stream will not bring these records again,
            # so only a kill in the moment between the two commits loses counts (never reports).
            self._flush_rejections(force=True)
        return True

    def _gone_before(self, position: int, seq: int) -> bool:
        """True when nothing between ``position`` and ``seq`` is left in the stream (removed outside the loader)."""
        first = self.run(self.source.first_seq())
        if first < seq:
            return False
        log.warning(
            "loader: the stream no longer holds messages %d to %d",
            position + 1,
            seq - 1,
            extra={"event": "stream_gap", "count": seq - 1 - position},
        )
        return True

    def _keys(self, msg: Msg) -> pa.Array:
        table_id = (msg.headers or {}).get(nt.TABLE_HEADER, "")
        keys_of = self._tables.get(table_id)
        if keys_of is None:
            keys_of = self._tables[table_id] = self._map(self.run(self.source.table(table_id)))
        return keys_of
