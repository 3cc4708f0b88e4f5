"""The durable queue: bounded in count and bytes, oldest evicted first and counted, private files."""

from __future__ import annotations

import json
from pathlib import Path

from optin.client import ManualClock
from optin.client._queue import ReportQueue, report_id_of
from optin.contract import Registry

from .conftest import make_feedback


def test_the_queue_evicts_the_oldest_first_by_count_and_by_bytes(tmp_path: Path) -> None:
    queue = ReportQueue(tmp_path / "q", max_reports=3, max_bytes=10_000)
    queue.open()
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(6)]
    evicted = [queue.put(report_id, b"x" * 100) for report_id in ids]
    assert evicted == [0, 0, 0, 1, 1, 1]
    assert [report_id_of(p) for p in queue.pending()] == ids[3:]
    big = ReportQueue(tmp_path / "b", max_reports=100, max_bytes=250)
    big.open()
    assert [big.put(report_id, b"y" * 100) for report_id in ids[:4]] == [0, 0, 1, 1]
    assert [report_id_of(p) for p in big.pending()] == ids[2:4]
    for path in big.pending():
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o700


def test_evictions_are_reported_to_the_collector_in_the_next_report(tmp_path: Path, registry: Registry, clock: ManualClock) -> None:
    queue = ReportQueue(tmp_path / "data" / "queue", max_reports=2)
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, queue=queue)  # nothing listens there
    feedback.turn_on()
    for _ in range(4):
        clock.advance(86400)
        assert feedback.flush(10)
    reports = [json.loads(p.read_bytes()) for p in queue.pending()]
    assert len(reports) == 2
    assert sum(r["client"]["evicted"] for r in reports) >= 1  # the newest report says older ones were lost
    feedback.close(0)
