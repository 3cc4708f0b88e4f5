"""Store: the one writer thread that owns the read-write DuckDB connection.

Reports are group-committed: the thread takes what is queued (up to a batch size, waiting at
most a few milliseconds after the first), writes it in one transaction with Arrow inserts, and
only then resolves each report's future, so a 202 always means "committed". A duplicate report
id (in the batch or already stored) is stored once and answered as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import queue
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from optin.contract import REPORT_COLUMN_NAMES, CheckedReport, Registry, ReportChecker, label_names

from ._disk import log_commit_failure
from ._migrations import migrate
from ._retention import roll_up
from ._seen import SeenIds

log = logging.getLogger("optin.collector")

REJECTION_FLUSH_S: Final = 5.0  # rejection counts reach the database at most this late
REOPEN_S: Final = 1.0  # while the database cannot be opened (locked by another process), try again this often


class Outcome(Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"


class StoreUnavailable(Exception):
    """The store cannot take or commit work now (queue full, write error, shutting down)."""


@dataclass(slots=True)
class _Job:
    kind: str  # "report" | "delete" | "call" (a function run alone in its own transaction)
    report: CheckedReport | None = None
    installation_id: str = ""
    received_s: int = 0  # the receiver's clock, Unix seconds
    call: Callable[[duckdb.DuckDBPyConnection], object] | None = None
    future: asyncio.Future[object] | None = None
    loop: asyncio.AbstractEventLoop | None = None


@dataclass
class StoreStats:
    committed_reports: int = 0
    duplicates: int = 0
    batches: int = 0
    batch_seconds_sum: float = 0.0
    batch_seconds_max: float = 0.0
    write_errors: int = 0
    deletions: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    auth_failures: Counter[str] = field(default_factory=Counter)  # aggregate endpoints: unauthorized, not_found


_REPORT_SCHEMA: Final = pa.schema(
    [
        ("report_key", pa.int64()),
        ("report_id", pa.string()),
        ("inst_key", pa.int32()),
        ("app_key", pa.int16()),
        ("version_key", pa.int32()),
        ("registry_version", pa.int32()),
        ("day", pa.date32()),
        ("period_seconds", pa.int32()),
        ("dropped", pa.int32()),
        ("evicted", pa.int32()),
        ("rejected", pa.int32()),
        ("discarded", pa.int32()),
    ]
)
assert tuple(_REPORT_SCHEMA.names) == REPORT_COLUMN_NAMES
_REPORT_SELECT: Final = ", ".join("report_id::UUID" if n == "report_id" else n for n in REPORT_COLUMN_NAMES)
_VALUE_SCHEMA: Final = pa.schema(
    [("report_key", pa.int64()), ("metric_key", pa.int32()), ("label_key", pa.int16()), ("value", pa.int64())]
)


@dataclass
class _Rows:
    """Rows of a batch waiting for their insert, as columns where Arrow wants columns."""

    versions: list[tuple[int, int, str]] = field(default_factory=list)  # app versions first seen in this batch
    installations: list[tuple[int, str]] = field(default_factory=list)
    reports: list[tuple[object, ...]] = field(default_factory=list)  # in _REPORT_SCHEMA order
    # report_values, with ReportChecker ordinals where the table has metric keys (mapped per batch)
    value_reports: array[int] = field(default_factory=lambda: array("q"))
    ordinals: array[int] = field(default_factory=lambda: array("i"))
    labels: array[int] = field(default_factory=lambda: array("h"))
    values: array[int] = field(default_factory=lambda: array("q"))


def _private_file(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except FileNotFoundError:
        pass


class Store:
    def __init__(
        self,
        path: Path,
        registries: Mapping[tuple[str, int], Registry],
        batch_max: int,
        batch_wait_s: float,
        max_pending: int,
        min_free_bytes: int = 0,
    ) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes  # for the log line of a failed commit (see _disk.py)
        self.registries = registries
        self.checker = ReportChecker(
            registries
        )  # ingest checks bodies with it; its ordinals name metrics in CheckedReport rows
        self._ordinal_keys = pa.array([], pa.int32())  # ReportChecker ordinal → metric_key, set by _register_metrics
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.stats = StoreStats()
        self.max_pending = max_pending
        # The event loop hands jobs over once per turn, as one list (see _put); None stops the writer.
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._backlog: deque[_Job] = deque()  # writer thread: jobs taken from _jobs, not yet batched
        self._outboxes: dict[asyncio.AbstractEventLoop, list[_Job]] = {}  # jobs of the current loop turn
        self._pending = 0  # jobs put and not yet settled: the write queue's depth, bounded by max_pending
        self._pending_lock = threading.Lock()
        self._writer_done = False  # set once by the writer as it exits; _hand_over and _put check it
        self._handover_lock = threading.Lock()  # orders a hand-over against the writer's exit
        self._thread: threading.Thread | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._healthy = True
        self._pending_rejections: Counter[tuple[dt.date, str]] = Counter()
        self._rejection_lock = threading.Lock()
        self._last_rejection_flush = time.monotonic()
        self._wal = path.with_name(path.name + ".wal")
        self._seen = SeenIds((), 0)  # filled from the database by _load_keys
        self._ready = False  # the database is open, migrated and its keys loaded
        self._stopping = threading.Event()

    # --- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Open the database and start the writer.

        If the file cannot be opened now (another process holds it, an I/O error), the
        collector still starts: it answers 503 with Retry-After and reports itself degraded,
        while the writer tries again every REOPEN_S seconds.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._connect()
        except duckdb.IOException as error:
            self._healthy = False
            log.warning(
                "store: cannot open the database (%s); retrying",
                type(error).__name__,
                extra={"event": "store_unavailable"},
            )
        self._thread = threading.Thread(target=self._run, name="optin-store-writer", daemon=True)
        self._thread.start()

    def _connect(self) -> None:
        old_umask = os.umask(0o077)  # DuckDB creates the database and WAL files: keep them 0600
        try:
            con = duckdb.connect(str(self.path))
        finally:
            os.umask(old_umask)
        try:
            _private_file(self.path)
            con.execute("SET python_enable_replacements = true")  # _insert reads its Arrow tables by name
            migrate(con)
        except BaseException:
            con.close()
            raise
        self._con = con
        self._load_keys()
        self._register_metrics()
        self._healthy = self._ready = True

    def _reopen(self) -> bool:
        """Writer thread: wait for the database to open; False when the store is closed first."""
        while not self._ready:
            if self._stopping.wait(REOPEN_S):
                return False
            try:
                self._connect()
            except duckdb.IOException:
                continue
            log.info("store: database opened", extra={"event": "store_available"})
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Drain what is queued, commit it, checkpoint, close."""
        self._stopping.set()
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout_s)
            self._thread = None
        if self._con is not None:
            try:
                self._flush_rejections(force=True)
                self._con.execute("CHECKPOINT")
            except duckdb.Error:
                log.warning("store: final checkpoint failed")
            self._con.close()
            self._con = None
        self._ready = False

    @property
    def healthy(self) -> bool:
        return self._healthy and self._ready and self._thread is not None and self._thread.is_alive()

    @property
    def queue_depth(self) -> int:
        return self._pending

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor for read-only work on another thread (DuckDB connections are not thread-safe)."""
        if self._con is None or not self._ready:
            raise StoreUnavailable("store is not open")
        return self._con.cursor()

    # --- producers (event loop) --------------------------------------------------------------

    def submit(self, report: CheckedReport, received: dt.datetime) -> asyncio.Future[object]:
        return self._put(_Job("report", report=report, received_s=int(received.timestamp())))

    def delete(self, installation_id: str) -> asyncio.Future[object]:
        return self._put(_Job("delete", installation_id=installation_id))

    def run(self, call: Callable[[duckdb.DuckDBPyConnection], object]) -> asyncio.Future[object]:
        """Run ``call`` on the writer thread in a transaction of its own; the future holds its result."""
        return self._put(_Job("call", call=call))

    def retain(self, cutoff: dt.date) -> asyncio.Future[object]:
        """Roll raw rows of days before ``cutoff`` up into daily_rollup and delete them; result: reports removed."""
        return self.run(lambda con: self._retain(con, cutoff))

    def _put(self, job: _Job) -> asyncio.Future[object]:
        if not self._ready or self._stopping.is_set() or self._writer_done:
            raise StoreUnavailable("database not open")
        loop = asyncio.get_running_loop()
        with self._pending_lock:
            if self._pending >= self.max_pending:
                raise StoreUnavailable("write queue full")
            self._pending += 1
        job.loop, job.future = loop, loop.create_future()
        # Jobs of one loop turn go to the writer together, when the turn ends: the writer wakes
        # (and takes the GIL from the loop) once per turn, not once per report.
        outbox = self._outboxes.get(loop)
        if outbox is None:
            outbox = self._outboxes[loop] = []
            loop.call_soon(self._hand_over, loop)
        outbox.append(job)
        return job.future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._outboxes.pop(loop)
        with self._handover_lock:
            if not self._writer_done:
                self._jobs.put(jobs)
                return
        # The writer has drained and gone (closed, or failed) since these were queued: answer them here.
        self._resolve([(job, StoreUnavailable("store stopped")) for job in jobs])

    def count_rejection(self, reason: str, day: dt.date) -> None:
        with self._rejection_lock:
            self.stats.rejections[reason] += 1
            self._pending_rejections[(day, reason)] += 1

    # --- writer thread -----------------------------------------------------------------------

    def _take(self, timeout_s: float) -> _Job | None:
        """The next job in order; None once the store is closing. queue.Empty after timeout_s."""
        if not self._backlog:
            jobs = self._jobs.get(timeout=timeout_s) if timeout_s > 0 else self._jobs.get_nowait()
            if jobs is None:
                return None
            self._backlog.extend(jobs)
        return self._backlog.popleft()

    def _run(self) -> None:
        finished = False
        try:
            if self._reopen():
                self._serve()
            finished = True
        except Exception as error:  # e.g. the database could not be read back after a failed commit
            log.error("store: writer stopped (%s)", type(error).__name__, extra={"event": "store_stopped"})
        finally:
            with self._handover_lock:
                self._writer_done = True  # from here on, work handed over is answered by _hand_over
            self._drain_rest(commit=finished)

    def _serve(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._take(REJECTION_FLUSH_S)
            except queue.Empty:
                self._flush_rejections()
                continue
            batch: list[_Job] = []
            alone: _Job | None = None
            if first is None:
                stop = True
            elif first.kind == "call":
                alone = first
            else:
                batch.append(first)
                # Group commit: take what is queued (whole loop turns' worth), and wait at most
                # batch_wait_s after the first job for more.
                deadline = time.monotonic() + self.batch_wait_s
                while len(batch) < self.batch_max:
                    try:
                        job = self._take(deadline - time.monotonic())
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    if job.kind == "call":
                        alone = job
                        break
                    batch.append(job)
            if batch:
                self._commit(batch)
            if alone is not None:
                self._call(alone)
            self._flush_rejections()

    def _drain_rest(self, commit: bool) -> None:
        """Writer thread, last: commit what is still queued (on close), or refuse it (writer failed)."""
        rest: list[_Job] = []
        while True:
            try:
                job = self._take(0)
            except queue.Empty:
                break
            if job is not None and job.kind == "call":
                self._resolve([(job, StoreUnavailable("shutting down"))])
            elif job is not None:
                rest.append(job)
        if not commit or self._con is None:
            self._resolve([(job, StoreUnavailable("store stopped")) for job in rest])
            return
        for start in range(0, len(rest), self.batch_max):
            self._commit(rest[start : start + self.batch_max])

    def _commit(self, batch: list[_Job]) -> None:
        assert self._con is not None
        con = self._con
        started = time.perf_counter()
        try:
            if any(job.kind == "delete" for job in batch):
                con.execute("BEGIN TRANSACTION")
                outcomes = self._write(con, batch)
                con.execute("COMMIT")
            else:  # the common case: one call to DuckDB opens, writes and commits the transaction
                outcomes = self._write(con, batch, transaction=True)
        except Exception as error:  # disk full, I/O error, lock: refuse rather than acknowledge
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            self._healthy = False
            self.stats.write_errors += 1
            log_commit_failure(self.path, len(batch), error, self.min_free_bytes)  # "disk full" when it is
            self._resolve([(job, StoreUnavailable("write failed")) for job in batch])
            self._load_keys()  # caches may hold keys of the rolled-back transaction (if this fails, the writer stops)
            return
        self._healthy = True
        _private_file(self._wal)  # DuckDB recreates the WAL after each checkpoint, with the process umask
        elapsed = time.perf_counter() - started
        self.stats.batches += 1
        self.stats.batch_seconds_sum += elapsed
        self.stats.batch_seconds_max = max(self.stats.batch_seconds_max, elapsed)
        for job, outcome in zip(batch, outcomes, strict=False):
            if outcome is Outcome.STORED and job.kind == "report":
                self.stats.committed_reports += 1
            elif outcome is Outcome.DUPLICATE:
                self.stats.duplicates += 1
            elif job.kind == "delete":
                self.stats.deletions += 1
        self._resolve(list(zip(batch, outcomes, strict=False)))

    def _call(self, job: _Job) -> None:
        assert self._con is not None and job.call is not None
        con = self._con
        try:
            con.execute("BEGIN TRANSACTION")
            result = job.call(con)
            con.execute("COMMIT")
        except Exception as error:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            log.error("store: maintenance failed (%s)", type(error).__name__)
            self._resolve([(job, StoreUnavailable("maintenance failed"))])
            self._load_keys()
            return
        _private_file(self._wal)
        self._resolve([(job, result)])

    def _retain(self, con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> int:
        removed, gone = roll_up(con, cutoff)
        for installation_id in gone:
            self._inst_keys.pop(installation_id, None)
        return removed

    def _write(self, con: duckdb.DuckDBPyConnection, batch: list[_Job], transaction: bool = False) -> list[Outcome]:
        """Write a batch's rows; with ``transaction``, in a transaction of their own (no deletion in the batch)."""
        reports = [job.report for job in batch if job.kind == "report" and job.report is not None]
        stored_ids = self._existing_ids(con, [r.report_id for r in reports])
        outcomes: list[Outcome] = []
        rows = _Rows()
        for job in batch:
            if job.kind == "delete":
                # Rows of earlier jobs of this batch go in first, so a deletion also removes them.
                self._insert(con, rows)
                rows = _Rows()
                self._delete(con, job.installation_id)
                outcomes.append(Outcome.STORED)
                continue
            report = job.report
            assert report is not None
            if report.report_id in stored_ids:
                outcomes.append(Outcome.DUPLICATE)
                continue
            stored_ids.add(report.report_id)
            self._seen.add(report.report_id)  # before the commit: if it rolls back, a "maybe" costs only a lookup
            outcomes.append(Outcome.STORED)
            app_key = self._app_keys[report.app]
            inst_key = self._inst_keys.get(report.installation_id)
            if inst_key is None:
                self._next_inst_key += 1
                inst_key = self._inst_keys[report.installation_id] = self._next_inst_key
                rows.installations.append((inst_key, report.installation_id))
            version_key = self._version_key(app_key, report.app_version, rows)
            self._next_report_key += 1
            key = self._next_report_key
            # The day the period ended by the receiver's clock (the client's clock corrected by the
            # skew its sent_at shows), never later than the day it arrived; as days since 1970-01-01.
            day = min(report.period_end + job.received_s - report.sent_at, job.received_s) // 86400
            rows.reports.append(
                (
                    key,
                    report.report_id,
                    inst_key,
                    app_key,
                    version_key,
                    report.registry_version,
                    day,
                    report.period_end - report.period_start,
                    report.dropped,
                    report.evicted,
                    report.rejected,
                    report.discarded,
                )
            )
            rows.value_reports += array("q", (key,)) * len(report.ordinals)
            rows.ordinals += report.ordinals
            rows.labels += report.labels
            rows.values += report.values
        self._insert(con, rows, transaction)
        return outcomes

    def _insert(self, con: duckdb.DuckDBPyConnection, rows: _Rows, transaction: bool = False) -> None:
        """Append a batch's rows with one Arrow insert per table, all in one call to DuckDB.

        Inside the caller's transaction, or, with ``transaction``, in one of their own opened and
        committed by the same call. Every call into DuckDB releases and re-takes the GIL several
        times, each time waiting for the event loop when it is busy: fewer calls, shorter batches.
        """
        # The Arrow tables are local variables that DuckDB finds by name (a replacement scan):
        # cheaper per statement than register() and unregister() around each insert.
        statements = []
        if rows.versions:
            keys, apps, versions = zip(*rows.versions, strict=False)
            _batch_versions = pa.table(
                {
                    "version_key": pa.array(keys, pa.int32()),
                    "app_key": pa.array(apps, pa.int16()),
                    "version": pa.array(versions, pa.string()),
                }
            )
            statements.append("INSERT INTO app_versions SELECT * FROM _batch_versions")
        if rows.installations:
            keys, ids = zip(*rows.installations, strict=False)
            _batch_installations = pa.table(
                {"inst_key": pa.array(keys, pa.int32()), "installation_id": pa.array(ids, pa.string())}
            )
            statements.append(
                "INSERT INTO installations SELECT inst_key, installation_id::UUID FROM _batch_installations"
            )
        if rows.reports:
            _batch_reports = pa.table(
                [
                    pa.array(column, type=f.type)
                    for column, f in zip(zip(*rows.reports, strict=True), _REPORT_SCHEMA, strict=True)
                ],
                schema=_REPORT_SCHEMA,
            )
            metric_keys = pc.take(self._ordinal_keys, _arrow(rows.ordinals, pa.int32()))
            columns = [
                _arrow(rows.value_reports, pa.int64()),
                metric_keys,
                _arrow(rows.labels, pa.int16()),
                _arrow(rows.values, pa.int64()),
            ]
            _batch_values = pa.table(columns, schema=_VALUE_SCHEMA)
            statements.append(f"INSERT INTO reports SELECT {_REPORT_SELECT} FROM _batch_reports")
            statements.append("INSERT INTO report_values SELECT * FROM _batch_values")
        if statements:
            if transaction:
                statements = ["BEGIN TRANSACTION", *statements, "COMMIT"]
            con.execute(";\n".join(statements))

    def _existing_ids(self, con: duckdb.DuckDBPyConnection, ids: list[str]) -> set[str]:
        if self._seen.full:
            self._seen = self._load_seen(con)
        ids = [i for i in ids if self._seen.maybe(i)]  # almost always none: no lookup at all
        if not ids:
            return set()
        con.register("_batch_ids", pa.table({"id": pa.array(ids, pa.string())}))
        rows = con.execute(
            "SELECT CAST(r.report_id AS VARCHAR) FROM reports r JOIN _batch_ids b ON r.report_id = b.id::UUID"
        ).fetchall()
        con.unregister("_batch_ids")
        return {row[0] for row in rows}

    def _delete(self, con: duckdb.DuckDBPyConnection, installation_id: str) -> None:
        inst_key = self._inst_keys.get(installation_id)
        if inst_key is None:
            return
        con.execute(
            "DELETE FROM report_values WHERE report_key IN (SELECT report_key FROM reports WHERE inst_key = ?)",
            [inst_key],
        )
        con.execute("DELETE FROM reports WHERE inst_key = ?", [inst_key])
        con.execute("DELETE FROM installations WHERE inst_key = ?", [inst_key])
        del self._inst_keys[installation_id]

    def _version_key(self, app_key: int, version: str, rows: _Rows) -> int:
        key = self._version_keys.get((app_key, version))
        if key is None:
            key = self._version_keys[(app_key, version)] = max(self._version_keys.values(), default=0) + 1
            rows.versions.append((key, app_key, version))
        return key

    def _flush_rejections(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_rejection_flush < REJECTION_FLUSH_S:
            return
        with self._rejection_lock:
            pending, self._pending_rejections = self._pending_rejections, Counter()
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
            log.warning("store: could not record rejection counts")
            with self._rejection_lock:
                self._pending_rejections.update(pending)

    # --- keys --------------------------------------------------------------------------------

    def _load_keys(self) -> None:
        assert self._con is not None
        con = self._con
        self._app_keys = {name: key for key, name in con.execute("SELECT app_key, name FROM apps").fetchall()}
        self._version_keys = {
            (a, v): k for k, a, v in con.execute("SELECT version_key, app_key, version FROM app_versions").fetchall()
        }
        self._inst_keys = {
            str(i): k for k, i in con.execute("SELECT inst_key, installation_id FROM installations").fetchall()
        }
        row = con.execute("SELECT coalesce(max(inst_key), 0) FROM installations").fetchone()
        self._next_inst_key = int(row[0]) if row else 0
        self._metric_keys = {
            (a, n): k for k, a, n in con.execute("SELECT metric_key, app_key, name FROM metrics").fetchall()
        }
        row = con.execute("SELECT coalesce(max(report_key), 0) FROM reports").fetchone()
        self._next_report_key = int(row[0]) if row else 0
        self._seen = self._load_seen(con)

    @staticmethod
    def _load_seen(con: duckdb.DuckDBPyConnection) -> SeenIds:
        rows = con.execute("SELECT CAST(report_id AS VARCHAR) FROM reports").fetchall()
        return SeenIds((row[0] for row in rows), len(rows))

    def _register_metrics(self) -> None:
        """Give every declared app, metric and label an integer key (new ones only)."""
        assert self._con is not None
        con = self._con
        known_labels = {(k, i) for k, i in con.execute("SELECT metric_key, label_key FROM labels").fetchall()}
        con.execute("BEGIN TRANSACTION")
        for registry in self._sorted_registries(self.registries.values()):
            if registry.app not in self._app_keys:
                self._app_keys[registry.app] = max(self._app_keys.values(), default=0) + 1
                con.execute("INSERT INTO apps VALUES (?, ?)", [self._app_keys[registry.app], registry.app])
            app_key = self._app_keys[registry.app]
            for metric in registry.metrics.values():
                if (app_key, metric.name) not in self._metric_keys:
                    key = max(self._metric_keys.values(), default=0) + 1
                    self._metric_keys[(app_key, metric.name)] = key
                    con.execute(
                        "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                        [key, app_key, metric.name, metric.kind.value, metric.category],
                    )
                metric_key = self._metric_keys[(app_key, metric.name)]
                for index, label in enumerate(label_names(metric), start=1):
                    if (metric_key, index) not in known_labels:  # only new ones: a restart runs no statement here
                        con.execute(
                            "INSERT INTO labels VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [metric_key, index, label]
                        )
        con.execute("COMMIT")
        self._ordinal_keys = pa.array(
            [self._metric_keys[(self._app_keys[app], name)] for app, name in self.checker.metric_names], pa.int32()
        )

    def _resolve(self, results: list[tuple[_Job, object]]) -> None:
        with self._pending_lock:
            self._pending -= len(results)
        _resolve_all(results)

    @staticmethod
    def _sorted_registries(registries: Iterable[Registry]) -> list[Registry]:
        return sorted(registries, key=lambda r: (r.app, r.version))


def _arrow(column: array[int], kind: pa.DataType) -> pa.Array:
    """An Arrow view of a machine-typed column (no copy, no per-value conversion)."""
    return pa.Array.from_buffers(kind, len(column), [None, pa.py_buffer(column)])


def _resolve_all(results: list[tuple[_Job, object]]) -> None:
    """Settle a batch's futures with one wake-up of each event loop (not one per report)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[object], object]]] = {}
    for job, result in results:
        if job.loop is not None and job.future is not None:
            by_loop.setdefault(job.loop, []).append((job.future, result))
    for loop, settled in by_loop.items():
        # RuntimeError: the loop is closed; the requests are gone, what was committed stays committed.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[object], object]]) -> None:
    for future, result in settled:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
