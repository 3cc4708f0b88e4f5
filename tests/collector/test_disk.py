"""The disk under the database: /healthz tells a full one from the first request after a start (not
from the first failed write), and a commit that fails for lack of space is logged as "disk full"
with the room left and the device, never with a path."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from optin.contract import Registry
from tests.collector.disks import MIB, fill, small_disk
from tests.helpers import launch_collector, make_report, post_json, request, start_collector, stop_process


def _health(url: str) -> tuple[int, dict[str, object]]:
    status, _, body = request(url, "GET", "/healthz")
    return status, json.loads(body)


def _events(log: Path, event: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def test_a_start_on_a_disk_below_the_reserve_is_not_ready_from_the_first_request(tmp_path: Path) -> None:
    db, log = tmp_path / "db" / "optin.duckdb", tmp_path / "collector.log"
    db.parent.mkdir()
    free = os.statvfs(db.parent).f_bavail * os.statvfs(db.parent).f_frsize
    collector = start_collector(db, log, "--min-free-bytes", str(free + 1024 * MIB))  # this disk is "full"
    try:
        status, body = _health(collector.url)
        assert status == 503 and body["reason"] == "disk_full" and body["status"] == "not_ready"
        device = os.stat(db.parent).st_dev
        assert isinstance(body["free_bytes"], int) and body["device"] == f"{os.major(device)}:{os.minor(device)}"
    finally:
        assert collector.stop() == 0
    at_start = _events(log, "disk_full")[0]  # logged at start (by the supervisor and the loader)
    assert "free_bytes" in at_start and str(tmp_path) not in log.read_text()

    collector = start_collector(db, tmp_path / "collector-2.log")  # the default reserve: this disk has room
    try:
        assert _health(collector.url)[0] == 200
    finally:
        assert collector.stop() == 0


def _stored_ids(db: Path) -> list[tuple[str]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return [(str(row[0]),) for row in con.execute("SELECT report_id FROM reports").fetchall()]
    finally:
        con.close()


def test_a_really_full_disk_is_reported_refused_with_503_and_logged_as_disk_full(
    tmp_path: Path, registry: Registry
) -> None:
    with small_disk(tmp_path / "small", 48) as disk:
        db, log = disk / "db" / "optin.duckdb", tmp_path / "collector.log"
        # One worker, small journal segments: each is preallocated, and the disk has 48 MiB.
        flags = ("--min-free-bytes", str(MIB), "--workers", "1", "--segment-bytes", str(2 * MIB))
        collector = start_collector(db, log, *flags)
        try:
            assert _health(collector.url)[0] == 200
            assert post_json(collector.url, make_report(registry))[0] == 202
            fill(disk / "filler")
            assert _health(collector.url)[1]["reason"] == "disk_full"
            sent = [make_report(registry, installation_id=str(uuid.uuid4())) for _ in range(20)]
            answers = [post_json(collector.url, report)[0] for report in sent]
            # The journal takes what fits in its preallocated segment (durable: 202); past that, or
            # when the loader cannot write, 503. Never anything else, and never a lost 202.
            assert set(answers) <= {202, 503}, answers
            acknowledged = [r["report_id"] for r, status in zip(sent, answers, strict=True) if status == 202]
            deadline = time.monotonic() + 15
            while not _events(log, "disk_full") and time.monotonic() < deadline:
                time.sleep(0.2)
            (full,) = _events(log, "disk_full")[:1]
            assert "disk full" in str(full["message"]) and isinstance(full["free_bytes"], int) and full["device"]
            (disk / "filler").unlink()  # space freed: the journal tries a new segment within a second or so
            deadline = time.monotonic() + 15
            while post_json(collector.url, make_report(registry))[0] != 202 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert post_json(collector.url, make_report(registry))[0] == 202
            while _health(collector.url)[0] != 200 and time.monotonic() < deadline + 15:
                time.sleep(0.2)  # the loader's next commit succeeds, and /healthz says so
            assert _health(collector.url)[0] == 200
        finally:
            collector.stop()
        stored = {row[0] for row in _stored_ids(db)}
        assert set(acknowledged) <= stored, "a report answered 202 was lost"
        # A restart on a full disk: a worker cannot preallocate its journal, so the collector never
        # says ready (no port is opened to take reports it could not keep), and the log says why.
        fill(disk / "filler")
        second = tmp_path / "collector-2.log"
        collector = launch_collector(db, second, *flags)
        try:
            deadline = time.monotonic() + 20
            while not _events(second, "disk_full") and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _events(second, "disk_full"), second.read_text()[-2000:]
            assert '"event":"ready"' not in second.read_text()
        finally:
            stop_process(collector.proc)
            (disk / "filler").unlink()
    assert str(tmp_path) not in log.read_text()
