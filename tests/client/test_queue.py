"""The durable queue: bounded in count and bytes, oldest evicted first and counted, private files."""

from __future__ import annotations

import socket
from pathlib import Path

import duckdb

from optin.client import ManualClock
from optin.client._queue import ReportQueue, report_id_of
from optin.collector import CollectorThread, Config
from optin.contract import Registry

from .conftest import make_feedback


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_queue_evicts_the_oldest_first_by_count_and_by_bytes(tmp_path: Path) -> None:
    queue = ReportQueue(tmp_path / "q", max_reports=3, max_bytes=10_000)
    queue.open()
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(6)]
    evicted = [queue.put(report_id, b"x" * 100)["evicted"] for report_id in ids]
    assert evicted == [0, 0, 0, 1, 1, 1]
    assert [report_id_of(p) for p in queue.pending()] == ids[3:]
    big = ReportQueue(tmp_path / "b", max_reports=100, max_bytes=250)
    big.open()
    assert [big.put(report_id, b"y" * 100)["evicted"] for report_id in ids[:4]] == [0, 0, 1, 1]
    assert [report_id_of(p) for p in big.pending()] == ids[2:4]
    for path in big.pending():
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o700


def test_every_eviction_reaches_the_collector_in_the_counters_of_a_later_report(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    port = free_port()  # the collector is down for a while
    queue = ReportQueue(tmp_path / "app" / "data" / "queue", max_reports=2)
    feedback = make_feedback(registry, tmp_path / "app", f"http://127.0.0.1:{port}", clock, queue=queue)
    feedback.turn_on()
    built: set[str] = set()
    for _ in range(6):
        clock.advance(86400)
        assert feedback.flush(10)
        built |= {report_id_of(p) for p in queue.pending()}
    feedback.close(0)  # the app exits during the outage: what it knows about losses must survive
    built |= {report_id_of(p) for p in queue.pending()}
    assert len(queue.pending()) == 2
    db = tmp_path / "collector" / "optin.duckdb"
    with CollectorThread(Config(db=db, host="127.0.0.1", port=port)):
        again = make_feedback(
            registry,
            tmp_path / "app",
            f"http://127.0.0.1:{port}",
            clock,
            queue=ReportQueue(queue.folder, max_reports=2),
        )
        clock.advance(7 * 3600)
        for _ in range(4):
            assert again.flush(10)
        clock.advance(86400)
        assert again.flush(10)  # one more report: it carries the evictions of the last put
        assert again.close(10)
    assert queue.pending() == []
    con = duckdb.connect(str(db), read_only=True)
    stored_ids = {str(r[0]) for r in con.execute("SELECT report_id FROM reports").fetchall()}
    row = con.execute("SELECT sum(evicted) FROM reports").fetchone()
    con.close()
    evicted = len(built | stored_ids) - len(stored_ids)  # every report built was either stored or evicted
    assert evicted >= 4 and row is not None and row[0] == evicted
