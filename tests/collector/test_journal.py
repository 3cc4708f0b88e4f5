"""The journal and the loader as units, on real files and a real DuckDB file (no HTTP)."""

from __future__ import annotations

import asyncio
import os
import random
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from optin.collector import _records as rec
from optin.collector._journal import JournalUnavailable, JournalWriter, read_segment, segment_name, segments
from optin.collector._loader import Loader
from optin.contract import CheckedReport, Registry, ReportChecker, check_report, encode_value
from tests.helpers import db_rows, make_report, random_metrics


def _checked(registry: Registry, doc: dict[str, Any]) -> CheckedReport:
    registries = {(registry.app, registry.version): registry}
    return ReportChecker(registries).from_report(check_report(doc, registries, int(time.time())))


def _writer(folder: Path, registry: Registry, segment_bytes: int = 1 << 20) -> JournalWriter:
    registries = {(registry.app, registry.version): registry}
    header = rec.encode_metrics(ReportChecker(registries).metric_names, registries)
    return JournalWriter(folder, segment_bytes, 0.0, 100_000, header)


def _journal(folder: Path, registry: Registry, payloads: list[bytes], segment_bytes: int = 1 << 20) -> None:
    """Append ``payloads`` to a new journal in ``folder`` (all acknowledged), then close it."""

    async def run() -> None:
        writer = _writer(folder, registry, segment_bytes)
        writer.open(asyncio.get_running_loop())
        await asyncio.gather(*[writer.append(p) for p in payloads])
        writer.close()

    asyncio.run(run())


def _load(tmp: Path, registry: Registry, batch_max: int = 4096, catch_up_max: int = 0) -> Loader:
    loader = Loader(
        tmp / "db" / "o.duckdb",
        tmp / "journal",
        {(registry.app, registry.version): registry},
        batch_max,
        0.01,
        catch_up_max=catch_up_max,  # 0: never more than batch_max
    )
    loader.open()
    loader.close()  # loads everything journaled, checkpoints, deletes loaded segments
    return loader


def test_the_loader_stores_every_kind_exactly_as_the_contract_encodes_it(tmp_path: Path, registry: Registry) -> None:
    rng = random.Random(6)
    docs = [make_report(registry, random_metrics(registry, rng)) for _ in range(300)]
    _journal(
        tmp_path / "journal" / "w0",
        registry,
        [rec.encode_report(_checked(registry, d), int(time.time())) for d in docs],
    )
    loader = _load(tmp_path, registry, batch_max=64)
    assert loader.stats.loaded_reports == 300 and loader.stats.batches >= 5  # 64 at a time
    db = tmp_path / "db" / "o.duckdb"
    keys = dict(db_rows(db, "SELECT name, metric_key FROM metrics"))
    by_id = dict(db_rows(db, "SELECT CAST(report_id AS VARCHAR), report_key FROM reports"))
    stored = sorted(db_rows(db, "SELECT report_key, metric_key, label_key, value FROM report_values"))
    expected = sorted(
        (by_id[doc["report_id"]], keys[name], label, count)
        for doc in docs
        for name, value in doc["metrics"].items()
        for label, count in encode_value(registry.metrics[name], value)
    )
    assert stored == expected
    assert segments(tmp_path / "journal" / "w0") == [1]  # the last segment stays (a worker may still write it)


def test_a_loader_behind_takes_bigger_transactions_up_to_its_catch_up_bound(tmp_path: Path, registry: Registry) -> None:
    """DuckDB's fixed cost per transaction is spread over more reports while the journal is ahead."""
    rng = random.Random(8)
    docs = [make_report(registry, random_metrics(registry, rng)) for _ in range(300)]
    now = int(time.time())
    _journal(tmp_path / "journal" / "w0", registry, [rec.encode_report(_checked(registry, d), now) for d in docs])
    loader = _load(tmp_path, registry, batch_max=64, catch_up_max=200)
    # 64 (the budget used up: behind), then 200 (still behind), then the 36 left
    assert (loader.stats.batches, loader.stats.batch_reports_max, loader.stats.loaded_reports) == (3, 200, 300)
    assert db_rows(tmp_path / "db" / "o.duckdb", "SELECT count(DISTINCT report_id) FROM reports") == [(300,)]


def test_a_batch_of_values_is_stored_by_metric_and_label_then_by_report(tmp_path: Path, registry: Registry) -> None:
    """The order that compresses: runs of one metric and label, report keys rising within each."""
    rng = random.Random(7)
    docs = [make_report(registry, random_metrics(registry, rng)) for _ in range(200)]
    now = int(time.time())
    _journal(tmp_path / "journal" / "w0", registry, [rec.encode_report(_checked(registry, d), now) for d in docs])
    loader = _load(tmp_path, registry)
    assert loader.stats.batches == 1
    stored = db_rows(
        tmp_path / "db" / "o.duckdb", "SELECT metric_key, label_key, report_key FROM report_values ORDER BY rowid"
    )
    assert len(stored) > 1000 and len({key for key, _, _ in stored}) > 10
    assert stored == sorted(stored)


def test_a_deletion_after_reports_of_its_installation_removes_them_in_the_same_transaction(
    tmp_path: Path, registry: Registry
) -> None:
    installation = str(uuid.uuid4())
    docs = [make_report(registry, installation_id=i) for i in (installation, installation, str(uuid.uuid4()))]
    now = int(time.time())
    payloads = [rec.encode_report(_checked(registry, d), now) for d in docs[:2]]
    payloads += [rec.encode_deletion(installation, now), rec.encode_report(_checked(registry, docs[2]), now)]
    _journal(tmp_path / "journal" / "w0", registry, payloads)
    loader = _load(tmp_path, registry)
    db = tmp_path / "db" / "o.duckdb"
    assert db_rows(db, "SELECT CAST(report_id AS VARCHAR) FROM reports") == [(docs[2]["report_id"],)]
    assert db_rows(db, "SELECT count(*) FROM installations") == [(1,)]
    assert loader.stats.deletions == 1
    assert db_rows(db, "SELECT count(*) FROM report_values v ANTI JOIN reports r USING (report_key)") == [(0,)]
    assert db_rows(db, "SELECT count(*) FROM erased_reports") == [(0,)]  # swept when the loader stopped


def _orphans(loader: Loader) -> int:
    """Value rows without their report (those of erased reports before the sweep)."""
    reader = loader.reader()
    try:
        rows = reader.execute("SELECT count(*) FROM report_values ANTI JOIN reports USING (report_key)").fetchall()
    finally:
        reader.close()
    return int(rows[0][0])


def test_erased_reports_value_rows_go_in_one_sweep_for_many_deletions_and_a_crash_before_it_is_swept_at_start(
    tmp_path: Path, registry: Registry
) -> None:
    """Reports and installations go with their deletion's transaction; their value rows with the next sweep."""
    erased = [str(uuid.uuid4()) for _ in range(3)]
    kept = make_report(registry)
    now = int(time.time())
    payloads = [rec.encode_report(_checked(registry, make_report(registry, installation_id=i)), now) for i in erased]
    payloads += [rec.encode_deletion(i, now) for i in erased]
    payloads.append(rec.encode_report(_checked(registry, kept), now))
    _journal(tmp_path / "journal" / "w0", registry, payloads)
    db = tmp_path / "db" / "o.duckdb"
    registries = {(registry.app, registry.version): registry}
    loader = Loader(db, tmp_path / "journal", registries, 4096, 0.01)
    loader.open()
    loader.caught_up().result(60)
    assert loader.stats.deletions == 3
    reader = loader.reader()
    assert reader.execute("SELECT count(*) FROM reports").fetchone() == (1,)  # out of every answer at once
    assert reader.execute("SELECT count(*) FROM erased_reports").fetchone() == (3,)
    assert _orphans(loader) > 0 and loader.stats.sweeps == 0  # value rows wait for the sweep
    loader.call(lambda running: running.sweep(force=True)).result(60)
    assert _orphans(loader) == 0 and loader.stats.sweeps == 1  # one sweep for the three deletions
    assert reader.execute("SELECT count(*) FROM erased_reports").fetchone() == (0,)
    reader.close()
    loader.close()
    # A kill between a deletion and its sweep leaves keys in erased_reports: the next start sweeps them.
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO erased_reports SELECT report_key FROM reports; DELETE FROM reports")
    again = Loader(db, tmp_path / "journal", registries, 4096, 0.01)
    again.open()
    deadline = time.monotonic() + 30
    while again.stats.sweeps == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert again.stats.sweeps == 1 and _orphans(again) == 0
    again.close()
    assert db_rows(db, "SELECT count(*) FROM report_values") == [(0,)]


def test_a_deletion_in_one_journal_waits_for_the_reports_acknowledged_before_it_in_another(
    tmp_path: Path, registry: Registry
) -> None:
    installation = str(uuid.uuid4())
    now = int(time.time())
    # w0 (read first) holds the deletion; w1 the report acknowledged before it.
    _journal(tmp_path / "journal" / "w0", registry, [rec.encode_deletion(installation, now)])
    _journal(
        tmp_path / "journal" / "w1",
        registry,
        [rec.encode_report(_checked(registry, make_report(registry, installation_id=installation)), now)],
    )
    _load(tmp_path, registry)
    assert db_rows(tmp_path / "db" / "o.duckdb", "SELECT count(*) FROM reports") == [(0,)]


def test_copies_of_a_report_in_two_journals_and_across_loads_are_stored_once(
    tmp_path: Path, registry: Registry
) -> None:
    doc = make_report(registry)
    payload = rec.encode_report(_checked(registry, doc), int(time.time()))
    for name in ("w0", "w1"):
        _journal(tmp_path / "journal" / name, registry, [payload, payload])
    first = _load(tmp_path, registry)
    _journal(tmp_path / "journal" / "w2", registry, [payload])
    second = _load(tmp_path, registry)
    assert (first.stats.loaded_reports, first.stats.duplicates, second.stats.duplicates) == (1, 3, 1)
    assert db_rows(tmp_path / "db" / "o.duckdb", "SELECT count(*) FROM reports") == [(1,)]


def test_segments_rotate_are_private_and_are_deleted_once_loaded_and_checkpointed(
    tmp_path: Path, registry: Registry
) -> None:
    folder = tmp_path / "journal" / "w0"
    payloads = [rec.encode_report(_checked(registry, make_report(registry)), int(time.time())) for _ in range(400)]
    _journal(folder, registry, payloads, segment_bytes=16 << 10)  # several records per segment, many segments
    assert len(segments(folder)) > 3
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((folder / segment_name(s)).stat().st_mode) == 0o600 for s in segments(folder))
    assert all((folder / segment_name(s)).stat().st_size == 16 << 10 for s in segments(folder))  # preallocated
    loader = _load(tmp_path, registry)
    assert loader.stats.loaded_reports == 400
    assert len(segments(folder)) == 1 and loader.stats.segments_deleted > 2
    assert db_rows(tmp_path / "db" / "o.duckdb", "SELECT count(*) FROM reports") == [(400,)]


def test_a_torn_tail_is_cut_when_the_journal_opens_and_never_loaded(tmp_path: Path, registry: Registry) -> None:
    folder = tmp_path / "journal" / "w0"
    docs = [make_report(registry) for _ in range(10)]
    _journal(folder, registry, [rec.encode_report(_checked(registry, d), int(time.time())) for d in docs])
    path = folder / segment_name(1)
    whole = read_segment(path, 0)
    cut_at = whole.end - 30  # inside the last record
    with open(path, "r+b") as f:
        f.truncate(cut_at)
    assert len(read_segment(path, 0).payloads) == len(whole.payloads) - 1
    writer = _writer(folder, registry)

    async def reopen() -> None:
        writer.open(asyncio.get_running_loop())  # cuts the tail, starts segment 2
        writer.close()

    asyncio.run(reopen())
    assert segments(folder) == [1, 2] and path.stat().st_size < cut_at
    _load(tmp_path, registry)
    stored = {r[0] for r in db_rows(tmp_path / "db" / "o.duckdb", "SELECT CAST(report_id AS VARCHAR) FROM reports")}
    assert stored == {d["report_id"] for d in docs[:-1]}


def test_garbage_after_a_record_is_detected_by_its_checksum(tmp_path: Path, registry: Registry) -> None:
    folder = tmp_path / "journal" / "w0"
    _journal(folder, registry, [rec.encode_report(_checked(registry, make_report(registry)), 1)])
    path = folder / segment_name(1)
    end = read_segment(path, 0).end
    with open(path, "r+b") as f:
        f.seek(end - 5)
        f.write(b"\xff")  # one byte of the last record's values flipped
    scan = read_segment(path, 0)
    assert scan.torn and len(scan.payloads) == 1  # only the metrics table before it


def test_a_record_appended_as_the_journal_closes_is_written_and_later_ones_refused(
    tmp_path: Path, registry: Registry
) -> None:
    async def run() -> None:
        writer = _writer(tmp_path / "journal" / "w0", registry)
        writer.open(asyncio.get_running_loop())
        future = writer.append(rec.encode_deletion(str(uuid.uuid4()), 1))
        await asyncio.to_thread(writer.close)
        await asyncio.wait_for(future, 10)  # written and synced before the writer stopped
        with pytest.raises(JournalUnavailable):
            writer.append(rec.encode_deletion(str(uuid.uuid4()), 1))

    asyncio.run(run())
    assert len(read_segment(tmp_path / "journal" / "w0" / segment_name(1), 0).payloads) == 2


def test_the_loader_position_is_committed_with_the_rows(tmp_path: Path, registry: Registry) -> None:
    folder = tmp_path / "journal" / "w0"
    _journal(folder, registry, [rec.encode_report(_checked(registry, make_report(registry)), 1) for _ in range(5)])
    _load(tmp_path, registry)
    end = read_segment(folder / segment_name(1), 0).end
    assert db_rows(tmp_path / "db" / "o.duckdb", "SELECT journal, segment, segment_offset FROM journal_positions") == [
        ("w0", 1, end)
    ]
    # A later load moves the same row on (the journal reopened: its records continue in segment 2).
    _journal(folder, registry, [rec.encode_report(_checked(registry, make_report(registry)), 1) for _ in range(3)])
    _load(tmp_path, registry)
    end = read_segment(folder / segment_name(2), 0).end
    assert db_rows(tmp_path / "db" / "o.duckdb", "SELECT journal, segment, segment_offset FROM journal_positions") == [
        ("w0", 2, end)
    ]
    assert db_rows(tmp_path / "db" / "o.duckdb", "SELECT count(*) FROM reports") == [(8,)]
    os.sync()


def _report_payload(registry: Registry, installation: str) -> tuple[str, bytes]:
    doc = make_report(registry, installation_id=installation)
    return doc["report_id"], rec.encode_report(_checked(registry, doc), int(time.time()))


def test_deletions_waiting_in_two_journals_both_run_and_loading_goes_on_after_them(
    tmp_path: Path, registry: Registry
) -> None:
    x, y, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    x1, px1 = _report_payload(registry, x)
    y1, py1 = _report_payload(registry, y)
    after0, pa0 = _report_payload(registry, other)
    after1, pa1 = _report_payload(registry, other)
    # Each journal holds a report of the other's installation, then its own deletion, then more.
    _journal(tmp_path / "journal" / "w0", registry, [py1, rec.encode_deletion(x, 1), pa0])
    _journal(tmp_path / "journal" / "w1", registry, [px1, rec.encode_deletion(y, 1), pa1])
    loader = _load(tmp_path, registry)  # returns: neither deletion waits for the other forever
    stored = {r[0] for r in db_rows(tmp_path / "db" / "o.duckdb", "SELECT CAST(report_id AS VARCHAR) FROM reports")}
    assert stored == {after0, after1}  # x1 and y1 deleted, the reports after the deletions loaded once
    assert loader.stats.deletions == 2 and loader.stats.loaded_reports == 4
