"""The loader: the one owner of the read-write DuckDB connection, filling it from the workers' journals.

A round reads every journal from the position the database records for it, turns the reports
into rows and writes them, with the new positions, in one transaction: each record is loaded
exactly once, whatever crashes when. Report ids already stored (retries, copies that reached
two workers) are stored once. Segments the positions have left behind are deleted after the
next checkpoint.

Deletions are ordered after every report acknowledged before them: a report acknowledged
before a deletion was on disk (in some journal) before the deletion was, so a journal stops at
its deletion until every other journal has been read to its end by a read that started after
the deletion was seen; then the deletion runs in the same transaction, after those rows.

Between rounds the loader runs what must run where the read-write connection is: calls queued
by the control endpoints (retention, snapshots) and the periodic jobs of `_jobs`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from optin.contract import Registry, ReportChecker

from . import _records as rec
from ._config import Config
from ._disk import log_commit_failure
from ._journal import Segment, segment_name, segments, walk
from ._migrations import migrate
from ._rows import Batch, Rows, decode, insert, rows as to_rows
from ._seen import SEEN_FILE, SeenIds
from ._stats import LoaderStats, WorkerStats
from ._surrogates import Keys
from ._tombstones import Tombstones, tombstones_path

log = logging.getLogger("optin.collector")

REOPEN_S: Final = 1.0  # while the database cannot be opened (locked by another process), try again this often
CHECKPOINT_S: Final = (
    60.0  # loaded segments are deleted after a checkpoint, at most this often (each rewrites row groups)
)
REJECTION_FLUSH_S: Final = 5.0
SWEEP_S: Final = 10.0  # the value rows of erased reports are deleted at most this long after their deletion
# Behind (a round used its whole budget), the next transaction may hold up to catch_up_max reports
# and this many bytes of records: DuckDB's fixed cost per transaction is then spread thin.
CATCH_UP_BYTES: Final = 64 << 20
REPORT, METRICS, DELETION = rec.REPORT[0], rec.METRICS[0], rec.DELETION[0]  # a payload's first byte


@dataclass
class _Cursor:
    """The loader's place in one journal."""

    name: str
    seq: int = 0
    offset: int = 0
    keys_of: pa.Array | None = None  # the current segment's ordinal → metric_key map
    caught_up_at: float = -1.0  # start of the last read that reached this journal's end
    deletion: rec.Deletion | None = None  # the journal waits at this deletion (at offset) ...
    deletion_seen_at: float = 0.0  # ... seen by a read that started then
    deletion_end: int = 0


@dataclass
class _Read:
    """Report records read from one journal: their bytes in parts, and where each record lies in the parts joined."""

    cursor: _Cursor
    seq: int
    offset: int
    keys_of: pa.Array | None
    parts: list[bytes] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # each report record's payload, in the parts joined
    ends: list[int] = field(default_factory=list)
    size: int = 0  # bytes in parts
    maps: list[tuple[int, pa.Array]] = field(default_factory=list)  # (first report, its ordinal → metric_key map)
    segments_done: list[int] = field(default_factory=list)
    deletion: rec.Deletion | None = None

    @property
    def count(self) -> int:
        return len(self.starts)

    def add(self, payload: bytes, keys_of: pa.Array) -> None:
        """A report record, read where ``keys_of`` maps its metric ordinals."""
        self._mapped(keys_of)
        self.parts.append(payload)
        self.starts.append(self.size)
        self.size += len(payload)
        self.ends.append(self.size)

    def add_run(self, data: bytes, base: int, starts: list[int], ends: list[int], keys_of: pa.Array) -> None:
        """Report records in ``data`` (a segment copied from ``base``), at ``starts``…``ends`` of the segment."""
        self._mapped(keys_of)
        shift = self.size - base
        self.parts.append(data)
        self.starts += [start + shift for start in starts]
        self.ends += [end + shift for end in ends]
        self.size += len(data)

    def payloads(self) -> list[bytes]:
        data = b"".join(self.parts)
        return [data[start:end] for start, end in zip(self.starts, self.ends, strict=True)]

    def _mapped(self, keys_of: pa.Array) -> None:
        if not self.maps or self.maps[-1][1] is not keys_of:
            self.maps.append((self.count, keys_of))


Call = Callable[[duckdb.DuckDBPyConnection], Any]


def loader_settings(config: Config) -> dict[str, Any]:
    """The `Loader` arguments a configuration decides (either journal: files or the stream)."""
    return {
        "db": config.resolved_db(),
        "journal_root": config.journal_dir(),
        "batch_max": config.batch_max_reports,
        "catch_up_max": config.catch_up_max_reports,
        "interval_s": config.load_interval_ms / 1000,
        "min_free_bytes": config.min_free_bytes,
    }


class Loader:
    def __init__(
        self,
        db: Path,
        journal_root: Path,
        registries: Mapping[tuple[str, int], Registry],
        batch_max: int,
        interval_s: float,
        clock: Callable[[], float] = time.time,
        min_free_bytes: int = 0,
        catch_up_max: int = 65536,
    ) -> None:
        self.db = db
        self.min_free_bytes = min_free_bytes  # the reserve below which the disk counts as full (see _disk.py)
        self.root = journal_root
        self.registries = registries
        self.batch_max = batch_max
        self.catch_up_max = max(batch_max, catch_up_max)
        self._budget = batch_max  # reports the next round may read (more while behind)
        self.interval_s = interval_s
        self.clock = clock
        self.stats = LoaderStats()
        self.workers: dict[str, WorkerStats] = {}  # per worker instance ("name pid"): its last heartbeat
        self.keys = Keys()
        self.ready = False
        self.healthy = True
        self.started = time.monotonic()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cursors: dict[str, _Cursor] = {}
        self._positioned: set[str] = set()
        self._maps: dict[bytes, pa.Array] = {}
        self._seen = SeenIds((), 0)
        self._erased: tuple[int, pa.Array] = (0, pa.array([], pa.string()))  # the tombstones as an array, by count
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._calls: list[tuple[Callable[[Loader], Any], concurrent.futures.Future[Any]]] = []
        self._waiters: list[concurrent.futures.Future[None]] = []
        self._lock = threading.Lock()
        self._again: list[tuple[rec.Deletion, float]] = []  # deletions to run once more (see _round)
        self._behind = True  # segments may lie behind the positions (also those a crash left): check after a checkpoint
        self._last_checkpoint = time.monotonic()
        self._erased_at: float | None = None  # since when value rows of erased reports wait for the sweep
        self._rejections: Counter[tuple[dt.date, str]] = Counter()
        self._last_rejection_flush = time.monotonic()
        self._thread: threading.Thread | None = None
        self.periodic: list[Callable[[Loader], None]] = []  # run between rounds, on the loader thread
        # Confirmed deletions (written by the workers before their 202): a report of such an id that
        # passed a worker before it saw a sibling's tombstone is never loaded (see _tombstones.py).
        self.tombstones = Tombstones(tombstones_path(db))

    # --- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        self.db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.tombstones.load()
        try:
            self._connect()
        except duckdb.IOException as error:
            self.healthy = False
            log.warning(
                "loader: cannot open the database (%s); retrying",
                type(error).__name__,
                extra={"event": "store_unavailable"},
            )
        self._thread = threading.Thread(target=self._run, name="optin-loader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Load everything journaled so far, checkpoint, delete loaded segments, close."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(120)
            self._thread = None
        if self._con is not None:
            try:
                self._flush_rejections(force=True)
                self.sweep(force=True)
                self._checkpoint()
            except duckdb.Error:
                log.warning("loader: final checkpoint failed")
            self._con.close()
            self._con = None
            self._seen.close()
        self.ready = False

    @property
    def alive(self) -> bool:
        """The loading thread runs (it stops only on close or on an unexpected error)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self.ready and self.healthy and self._thread is not None and self._thread.is_alive()

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor for read-only work on another thread."""
        if self._con is None or not self.ready:
            raise LoaderUnavailable("database not open")
        return self._con.cursor()

    def stored_among(self, report_ids: list[str]) -> set[str]:
        """Another thread: which of ``report_ids`` are in the database (the workers ask this for "maybe"s)."""
        maybe = [report_id for report_id in report_ids if self._seen.maybe(report_id)]
        if not maybe:
            return set()
        cursor = self.reader()
        try:
            return _stored_among(cursor, maybe)
        finally:
            cursor.close()

    def positions(self) -> dict[str, tuple[int, int]]:
        return {name: (c.seq, c.offset) for name, c in list(self._cursors.items())}

    def lag_seconds(self) -> float:
        cursors = list(self._cursors.values())
        if not cursors or not self.ready:
            return time.monotonic() - self.started
        return max(0.0, time.monotonic() - min(c.caught_up_at for c in cursors))

    # --- requests from other threads ---------------------------------------------------------

    def call(self, work: Callable[[Loader], Any]) -> concurrent.futures.Future[Any]:
        """Run ``work(loader)`` on the loader thread between rounds (it may use `transaction`)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            self._calls.append((work, future))
        self._wake.set()
        return future

    def caught_up(self) -> concurrent.futures.Future[None]:
        """Settles once everything journaled before this call is loaded (read-your-writes for aggregates)."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._waiters.append(future)
        self._wake.set()
        return future

    def count_rejections(self, day: dt.date, counts: Mapping[str, int]) -> None:
        with self._lock:
            for reason, count in counts.items():
                self._rejections[(day, reason)] += count

    # --- loader thread -----------------------------------------------------------------------

    def _connect(self) -> None:
        old_umask = os.umask(0o077)  # DuckDB creates the database and WAL files: keep them 0600
        try:
            con = duckdb.connect(str(self.db))
        finally:
            os.umask(old_umask)
        try:
            _private_file(self.db)
            con.execute("SET python_enable_replacements = true")  # _rows.insert reads its Arrow tables by name
            migrate(con)
            self.keys.load(con)
            con.execute("BEGIN TRANSACTION")
            infos = rec.decode_metrics(
                rec.encode_metrics(ReportChecker(self.registries).metric_names, dict(self.registries))
            )
            self.keys.register(con, infos)
            con.execute("COMMIT")
            rows = con.execute("SELECT journal, segment, segment_offset FROM journal_positions").fetchall()
            ((waiting,),) = con.execute("SELECT count(*) FROM erased_reports").fetchall()
            ids = _stored_ids(con)
        except BaseException:
            con.close()
            raise
        self._cursors = {name: _Cursor(name, seq, offset) for name, seq, offset in rows}
        self._positioned = set(self._cursors)  # journals with a row in journal_positions
        self._seen = SeenIds(ids, len(ids), self.root / SEEN_FILE)
        self._con = con
        self._erased_at = time.monotonic() - SWEEP_S if waiting else None  # (a crash before a sweep)
        self.healthy = self.ready = True

    def _run(self) -> None:
        try:
            while not self.ready:
                if self._stop.wait(REOPEN_S):
                    return
                try:
                    self._connect()
                except duckdb.IOException:
                    continue
                log.info("loader: database opened", extra={"event": "store_available"})
            self._serve()
        except Exception as error:  # the process exits (see `alive`) and the supervisor starts it again
            self.healthy = False
            log.error("loader: stopped (%s)", type(error).__name__, extra={"event": "store_stopped"})

    def _serve(self) -> None:
        while True:
            started = time.monotonic()
            stopping = self._stop.is_set()
            with self._lock:
                waiters, self._waiters = self._waiters, []
            loaded, complete = self._round()
            if complete:
                for waiter in waiters:
                    if waiter.set_running_or_notify_cancel():  # False: its caller gave up waiting
                        waiter.set_result(None)
            else:
                with self._lock:
                    self._waiters[:0] = waiters
            self._run_calls()
            for job in self.periodic:
                job(self)
            self._flush_rejections()
            self.sweep(force=stopping)
            if self._behind and (stopping or time.monotonic() - self._last_checkpoint > CHECKPOINT_S):
                self._checkpoint()
            if stopping and (complete or not self.healthy):
                return
            if complete or not loaded:
                # A partial batch: let the next one grow for the rest of the interval.
                self._wake.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
                self._wake.clear()

    def _journals(self) -> list[str]:
        try:
            names = sorted(n for n in os.listdir(self.root) if (self.root / n).is_dir())
        except FileNotFoundError:
            return []
        for name in names:
            self._cursors.setdefault(name, _Cursor(name))
        return names

    def _round(self) -> tuple[int, bool]:
        """Read and load one batch; returns (records loaded, whether every journal was read to its end)."""
        started = time.monotonic()
        budget = self._budget
        reads: list[_Read] = []
        for name in self._journals():
            cursor = self._cursors[name]
            read = self._read(cursor, budget)
            budget -= read.count
            reads.append(read)
        if budget <= 0:  # behind: the next transaction takes more (cheaper per report), as far as memory allows
            count = sum(r.count for r in reads)
            mean = max(1, sum(r.size for r in reads) // max(1, count))
            self._budget = max(self.batch_max, min(self.catch_up_max, CATCH_UP_BYTES // mean))
        else:
            self._budget = self.batch_max
        # A deletion runs once every other journal has been read to its end after it was seen.
        deletions: list[_Read] = []
        for read in reads:
            cursor = read.cursor
            if cursor.deletion is not None and all(
                c.caught_up_at >= cursor.deletion_seen_at for c in self._cursors.values() if c is not cursor
            ):
                deletions.append(read)
        blocked = [r for r in reads if r.cursor.deletion is not None]
        if blocked and not deletions:
            # Journals waiting at deletions wait for each other: run them all now, and each once more
            # when every journal has been read to its end after this moment (deleting is idempotent).
            latest = max(r.cursor.deletion_seen_at for r in blocked)
            if all(c.deletion is not None or c.caught_up_at >= latest for c in self._cursors.values()):
                deletions = blocked
                now = time.monotonic()
                self._again += [(r.cursor.deletion, now) for r in blocked if r.cursor.deletion is not None]
        again = [d for d, seen in self._again if all(c.caught_up_at >= seen for c in self._cursors.values())]
        if deletions or again or any((r.seq, r.offset) != (r.cursor.seq, r.cursor.offset) for r in reads):
            count = sum(r.count for r in reads) + len(deletions)
            if not self._write(reads, deletions, again):
                return 0, False
            self._again = [(d, seen) for d, seen in self._again if d not in again]
        else:
            count = 0
        # Complete: every journal was read to its end in this round, and none waits at a deletion.
        complete = all(c.caught_up_at >= started and c.deletion is None for c in self._cursors.values())
        return count, complete

    def _read(self, cursor: _Cursor, budget: int) -> _Read:
        read = _Read(cursor, cursor.seq, cursor.offset, cursor.keys_of)
        if cursor.deletion is not None:
            return read  # waits at its deletion
        started = time.monotonic()
        folder = self.root / cursor.name
        while True:
            known = segments(folder)  # listed before reading: a newer segment means this one is complete
            later = [s for s in known if s > read.seq]
            if read.seq not in known:
                if not later:
                    cursor.caught_up_at = started
                    return read
                if read.seq:
                    read.segments_done.append(read.seq)
                read.seq, read.offset, read.keys_of = later[0], 0, None
                continue
            with Segment(folder / segment_name(read.seq)) as segment:
                if self._read_segment(read, segment, budget, started):
                    return read
            if not later:
                cursor.caught_up_at = started  # read to the end (a torn tail of a live segment is its end for now)
                return read
            read.segments_done.append(read.seq)  # complete: anything after a torn tail is never loaded
            read.seq, read.offset, read.keys_of = later[0], 0, None

    def _read_segment(self, read: _Read, segment: Segment, budget: int, started: float) -> bool:
        """Read runs of reports from ``read.offset``; True: the read is done (budget reached or a deletion)."""
        data = segment.data
        if read.keys_of is None and read.offset > 0:
            head = walk(data, 0, limit=1)
            read.keys_of = self._map(bytes(data[head.starts[0] : head.ends[0]])) if head.starts else None
        while True:
            if read.count >= budget:
                return True
            run = walk(data, read.offset, budget - read.count, REPORT)
            if run.starts:
                assert read.keys_of is not None
                first, last = run.starts[0], run.ends[-1]
                read.add_run(data[first:last], first, run.starts, run.ends, read.keys_of)
                read.offset = run.end
            if not run.other:
                return read.count >= budget and bool(run.starts)
            record = walk(data, run.end, limit=1)  # the record of another kind after the run
            payload = bytes(data[record.starts[0] : record.ends[0]])
            if payload[0] == METRICS:
                read.keys_of = self._map(payload)
            elif payload[0] == DELETION:
                cursor = read.cursor
                cursor.deletion = rec.decode_deletion(payload)
                cursor.deletion_seen_at = started
                cursor.deletion_end = record.end
                return True
            read.offset = record.end

    def _map(self, payload: bytes) -> pa.Array:
        keys_of = self._maps.get(payload)
        if keys_of is None:
            infos = rec.decode_metrics(payload)
            assert self._con is not None
            missing = [i for i in infos if (self.keys.apps.get(i.app), i.name) not in self.keys.metrics]
            if missing:
                self._con.execute("BEGIN TRANSACTION")
                self.keys.register(self._con, missing)
                self._con.execute("COMMIT")
            keys_of = self._maps[payload] = self.keys.ordinal_keys(infos)
        return keys_of

    def _write(self, reads: list[_Read], deletions: list[_Read], again: list[rec.Deletion]) -> bool:
        assert self._con is not None
        con = self._con
        started = time.perf_counter()
        count = sum(read.count for read in reads)
        rows: Rows | None = None
        duplicates = erased = 0
        if count:
            maps, starts, before, size = [], [], 0, 0
            for read in reads:
                maps += [(first + before, keys_of) for first, keys_of in read.maps]
                starts.append(np.asarray(read.starts, np.int64) + size)
                before += read.count
                size += read.size
            batch = decode(b"".join(part for read in reads for part in read.parts), np.concatenate(starts), maps)
            keep, duplicates, erased = self._keep(batch)
            rows = to_rows(batch if keep is None else batch.take(keep), self.keys)
        after: list[str] = []
        gone: list[str] = []
        for deletion in [*(r.cursor.deletion for r in deletions), *again]:
            assert deletion is not None
            inst_key = self.keys.installations.get(deletion.installation_id)
            if inst_key is not None:
                after += [
                    f"INSERT INTO erased_reports SELECT report_key FROM reports WHERE inst_key = {inst_key:d}",
                    f"DELETE FROM reports WHERE inst_key = {inst_key:d}",
                    f"DELETE FROM installations WHERE inst_key = {inst_key:d}",
                ]
                gone.append(deletion.installation_id)
        for read in deletions:
            read.offset = read.cursor.deletion_end  # (the read of a later round starts at the deletion)
        for read in reads:
            if (read.seq, read.offset) != (read.cursor.seq, read.cursor.offset):
                name = _safe(read.cursor.name)
                if name in self._positioned:  # an UPDATE in place costs a few ms less per transaction than an upsert
                    after.append(
                        f"UPDATE journal_positions SET segment = {read.seq:d}, segment_offset = {read.offset:d}"
                        f" WHERE journal = '{name}'"
                    )
                else:
                    after.append(f"INSERT INTO journal_positions VALUES ('{name}', {read.seq:d}, {read.offset:d})")
        try:
            insert(con, rows, after, transaction=True)
        except Exception as error:  # disk full, I/O error: nothing of the batch is kept; the journal still has it
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            self.healthy = False
            self.stats.write_errors += 1
            log_commit_failure(self.db, count, error, self.min_free_bytes)  # "disk full" when it is
            with contextlib.suppress(duckdb.Error):
                self.keys.load(con)
            for cursor in self._cursors.values():
                cursor.deletion = None  # read again from the committed positions
            self._stop.wait(0.5)
            return False
        self.healthy = True
        _private_file(self.db.with_name(self.db.name + ".wal"))
        if self._seen.full:  # a bigger filter, from what is stored now
            ids = _stored_ids(con)
            old, self._seen = self._seen, SeenIds(ids, len(ids), self.root / SEEN_FILE)
            old.close()
        for installation_id in gone:
            self.keys.installations.pop(installation_id, None)
        if gone and self._erased_at is None:
            self._erased_at = time.monotonic()  # value rows to sweep
        for read in reads:
            cursor = read.cursor
            cursor.seq, cursor.offset, cursor.keys_of = read.seq, read.offset, read.keys_of
            if (cursor.seq, cursor.offset) != (0, 0):
                self._positioned.add(cursor.name)
            if read.segments_done:
                self._behind = True  # segments to delete after the next checkpoint
        for read in deletions:
            read.cursor.deletion = None
        elapsed = time.perf_counter() - started
        stats = self.stats
        stats.loaded_reports += len(rows) if rows is not None else 0
        stats.duplicates += duplicates
        stats.deletions += len(deletions)
        if erased:
            today = dt.datetime.fromtimestamp(self.clock(), dt.UTC).date()
            self.count_rejections(today, {"installation_deleted": erased})
        stats.batches += 1
        stats.batch_reports_max = max(stats.batch_reports_max, count)
        stats.batch_seconds_sum += elapsed
        stats.batch_seconds_max = max(stats.batch_seconds_max, elapsed)
        return True

    def _keep(self, batch: Batch) -> tuple[pa.Array | None, int, int]:
        """Which reports of ``batch`` to store (None: all), and how many are copies and how many erased.

        A report is erased when its installation's data was erased (refused for good, as a worker
        would), and a copy when its id is stored or came earlier in the batch. The Bloom filter is
        tested and set for the whole batch at once; only an id it may have seen is looked up. Set
        before the commit: if that rolls back, the ids read again are "maybe" and cost a lookup.
        """
        ids = batch.report_ids
        drop = np.zeros(len(ids), np.bool_)
        self.tombstones.refresh()
        if len(self.tombstones):
            if self._erased[0] != len(self.tombstones):
                self._erased = (len(self.tombstones), pa.array(self.tombstones.ids(), pa.string()))
            drop = pc.is_in(batch.installation_ids, value_set=self._erased[1]).to_numpy(zero_copy_only=False)
        erased = int(drop.sum())
        maybe = self._seen.check_and_add_many(ids)
        stored = self._existing(ids.take(pa.array(np.flatnonzero(maybe & ~drop))).to_pylist())
        copy = np.zeros(len(ids), np.bool_)
        if stored:
            copy |= pc.is_in(batch.report_ids, value_set=pa.array(list(stored), pa.string())).to_numpy(
                zero_copy_only=False
            )
        if len(pc.unique(batch.report_ids)) < len(ids):  # copies within the batch (rare): each after its first
            first: set[str] = set()
            for i, report_id in enumerate(ids.to_pylist()):
                if not drop[i]:
                    copy[i] |= report_id in first
                    first.add(report_id)
        copy &= ~drop
        drop |= copy
        if not drop.any():
            return None, 0, erased
        return pa.array(np.flatnonzero(~drop)), int(copy.sum()), erased

    def _existing(self, maybe: list[str]) -> set[str]:
        """Which of the ids the filter could not rule out are stored (almost always none: no lookup)."""
        assert self._con is not None
        return _stored_among(self._con, maybe) if maybe else set()

    def _run_calls(self) -> None:
        with self._lock:
            calls, self._calls = self._calls, []
        for work, future in calls:
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = work(self)
            except Exception as error:
                future.set_exception(error)
            else:
                future.set_result(result)

    def transaction(self, work: Call) -> Any:
        """Loader thread (periodic jobs, queued calls): run ``work`` in a transaction of its own.

        On failure the transaction is rolled back, the key caches are read again, and
        LoaderUnavailable is raised.
        """
        assert self._con is not None
        con = self._con
        try:
            con.execute("BEGIN TRANSACTION")
            result = work(con)
            con.execute("COMMIT")
        except Exception as error:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            log.error("loader: job failed (%s)", type(error).__name__, extra={"event": "maintenance_failed"})
            with contextlib.suppress(duckdb.Error):
                self.keys.load(con)
            raise LoaderUnavailable("job failed") from None
        _private_file(self.db.with_name(self.db.name + ".wal"))
        return result

    def sweep(self, force: bool = False) -> None:
        """Loader thread: delete the value rows of erased reports, every deletion since the last sweep at once.

        A deletion removes the installation and its reports in its own transaction; no query
        reads value rows without their report, so what waits here is already out of every answer.
        The sweep runs at most `SWEEP_S` after the first deletion it covers (and when the loader
        stops): one scan of report_values for all of them, not one per deletion.
        """
        if self._erased_at is None or self._con is None:
            return
        if not force and time.monotonic() - self._erased_at < SWEEP_S:
            return
        try:
            self.transaction(
                lambda con: con.execute(
                    "DELETE FROM report_values WHERE report_key IN (SELECT report_key FROM erased_reports);"
                    " DELETE FROM erased_reports"
                )
            )
        except LoaderUnavailable:
            self._erased_at = time.monotonic()  # logged; tried again after SWEEP_S
            return
        self._erased_at = None
        self.stats.sweeps += 1

    def _checkpoint(self) -> None:
        assert self._con is not None
        self._con.execute("CHECKPOINT")
        self._last_checkpoint = time.monotonic()
        self.stats.checkpoints += 1
        # The positions are in the database file now: every segment before a journal's position goes.
        for cursor in list(self._cursors.values()):
            folder = self.root / cursor.name
            for seq in segments(folder):
                if seq >= cursor.seq:
                    break
                with contextlib.suppress(FileNotFoundError):
                    (folder / segment_name(seq)).unlink()
                    self.stats.segments_deleted += 1
        self._behind = False

    def _flush_rejections(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_rejection_flush < REJECTION_FLUSH_S:
            return
        with self._lock:
            pending, self._rejections = self._rejections, Counter()
        self._last_rejection_flush = time.monotonic()
        if not pending or self._con is None:
            return
        try:
            for (day, reason), count in pending.items():
                self._con.execute(
                    "INSERT INTO rejections VALUES (?, ?, ?)"
                    " ON CONFLICT (day, reason) DO UPDATE SET count = count + excluded.count",
                    [day, reason, count],
                )
        except duckdb.Error:
            log.warning("loader: could not record rejection counts")
            with self._lock:
                self._rejections.update(pending)


class LoaderUnavailable(Exception):
    """The database is not open (locked by another process, failing) or the loader is stopping."""


def _stored_among(con: duckdb.DuckDBPyConnection, report_ids: list[str]) -> set[str]:
    """Which of ``report_ids`` are stored: one scan of the stored ids for all of them."""
    _asked_ids = pa.table({"id": pa.array(report_ids, pa.string())})  # found by name (a replacement scan)
    rows = con.execute(
        "SELECT DISTINCT CAST(r.report_id AS VARCHAR) FROM reports r JOIN _asked_ids a ON r.report_id = a.id::UUID"
    ).fetchall()
    return {row[0] for row in rows}


def _stored_ids(con: duckdb.DuckDBPyConnection) -> pa.Array:
    return con.sql("SELECT CAST(report_id AS VARCHAR) AS id FROM reports").to_arrow_table()["id"].combine_chunks()


def _safe(name: str) -> str:
    if not name.replace("-", "").isalnum():
        raise ValueError("journal names are letters, digits and dashes")
    return name


def _private_file(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except FileNotFoundError:
        pass
