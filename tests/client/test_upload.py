"""Upload: durable queue, retry rule, Retry-After, bounded close, fork; against real servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
from pathlib import Path

import duckdb
import pytest

from optin.client import Feedback, ManualClock
from optin.collector import CollectorThread, Config
from optin.contract import Registry

from .conftest import ScriptedCollector, SilentServer, make_feedback

DAY = 86400.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stored_report_ids(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(str(row[0]) for row in con.execute("SELECT report_id FROM reports").fetchall())
    finally:
        con.close()


def test_with_the_collector_down_reports_wait_on_disk_and_are_delivered_later_exactly_once(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    port = free_port()  # nothing listens here yet: connection refused
    feedback = make_feedback(registry, tmp_path / "app", f"http://127.0.0.1:{port}", clock)
    feedback.turn_on()
    for day in range(5):
        feedback.count("toolpath.face", day + 1)
        clock.advance(DAY)
        assert feedback.flush(10)
    queued = feedback.queue.pending()
    assert len(queued) == 5
    queued_ids = sorted(json.loads(p.read_bytes())["report_id"] for p in queued)
    assert all(e.result == "no answer" for e in feedback.history.entries())

    db = tmp_path / "collector" / "optin.duckdb"
    with CollectorThread(Config(db=db, host="127.0.0.1", port=port)):
        clock.advance(7 * 3600)  # past any backoff (capped at 6 h)
        assert feedback.flush(20)
        while feedback.queue.pending():  # the collector answers one report per request
            assert feedback.flush(20)
        assert feedback.flush(20)  # a further pass sends nothing twice
    assert stored_report_ids(db) == queued_ids
    assert [e.result for e in feedback.history.entries()].count("accepted") == 5
    feedback.close(0)


def test_retry_after_is_honoured(clock: ManualClock, scripted: ScriptedCollector, on_feedback: Feedback) -> None:
    scripted.script = [(503, {"Retry-After": "3600"})]
    on_feedback.count("toolpath.pocket")
    clock.advance(DAY)
    assert on_feedback.flush(10)
    assert len(scripted.seen) == 1 and len(on_feedback.queue.pending()) == 1
    clock.advance(3599)
    assert on_feedback.flush(10)
    assert len(scripted.seen) == 1  # not before the server said
    clock.advance(2)
    assert on_feedback.flush(10)
    assert len(scripted.seen) == 2 and on_feedback.queue.pending() == []
    first, second = (json.loads(gzip.decompress(s.body)) for s in scripted.seen)
    assert first["report_id"] == second["report_id"]  # the retry is the same report: stored once
    on_feedback.close(0)


@pytest.mark.parametrize(
    ("status", "retried"),
    [(400, False), (413, False), (422, False), (408, True), (429, True), (500, True), (502, True)],
)
def test_the_retry_rule_drops_permanent_rejections_and_counts_them(
    clock: ManualClock, scripted: ScriptedCollector, status: int, retried: bool, on_feedback: Feedback
) -> None:
    scripted.script = [(status, {})]
    on_feedback.count("toolpath.pocket")
    clock.advance(DAY)
    assert on_feedback.flush(10)
    assert len(on_feedback.queue.pending()) == (1 if retried else 0)
    clock.advance(DAY)  # next period; any backoff is over
    assert on_feedback.flush(10)
    assert on_feedback.flush(10)
    bodies = [json.loads(gzip.decompress(s.body)) for s in scripted.seen]
    if retried:
        assert bodies[0]["report_id"] == bodies[1]["report_id"]
    else:
        assert bodies[1]["client"]["rejected"] == 1  # the next report tells the collector one was lost
    on_feedback.close(0)


def test_uploads_are_gzipped_json_without_identifying_headers(
    clock: ManualClock, scripted: ScriptedCollector, on_feedback: Feedback
) -> None:
    clock.advance(DAY)
    assert on_feedback.flush(10)
    seen = scripted.seen[0]
    assert seen.path == "/v1/reports"
    assert seen.headers["Content-Encoding"] == "gzip" and seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == "optin"
    assert not {"Cookie", "Authorization", "X-Forwarded-For", "Referer"} & set(seen.headers)
    on_feedback.close(0)


def test_close_returns_within_its_budget_against_a_server_that_never_answers(
    tmp_path: Path, registry: Registry, clock: ManualClock, silent: SilentServer
) -> None:
    # The transport would wait 120 s for an answer; close(0.5) must not.
    feedback = make_feedback(registry, tmp_path, f"http://127.0.0.1:{silent.port}", clock, timeout_s=120.0)
    feedback.turn_on()
    feedback.count("toolpath.pocket", 7)
    clock.advance(DAY)
    feedback.flush(0.2)  # the upload is now stuck waiting on the silent server
    result: list[bool] = []
    closer = threading.Thread(target=lambda: result.append(feedback.close(0.5)))
    closer.start()
    closer.join(30)  # far below the transport's 120 s: only a bounded close() finishes here
    assert not closer.is_alive() and result == [False]
    pending = [json.loads(p.read_bytes()) for p in feedback.queue.pending()]
    assert [r["metrics"].get("toolpath.pocket") for r in pending][:1] == [7]  # still on disk for next time
    assert silent.accepted  # it really was connected and waiting


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_records_into_the_same_period_and_nothing_is_sent_twice(
    clock: ManualClock, scripted: ScriptedCollector, on_feedback: Feedback
) -> None:
    assert on_feedback.flush(10)  # the parent's first pass has opened the period on disk
    on_feedback.count("toolpath.pocket", 5)  # the parent's, in its memory
    pid = os.fork()
    if pid == 0:  # child: records from empty; its own thread sends the period's report once it has ended
        code = 1
        try:
            on_feedback.count("toolpath.drill", 2)
            clock.advance(DAY)
            code = 0 if on_feedback.flush(10) and not on_feedback.queue.pending() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    (child_report,) = [json.loads(gzip.decompress(seen.body)) for seen in scripted.seen]
    assert child_report["metrics"].get("toolpath.drill") == 2  # the parent's 5 too, if its thread kept it before
    for _day in range(2):  # the parent's values join the next period (the child reported this one)
        clock.advance(DAY)
        assert on_feedback.flush(10)
    sent = {doc["report_id"]: doc for doc in (json.loads(gzip.decompress(seen.body)) for seen in scripted.seen)}
    assert len({doc["period"]["start"] for doc in sent.values()}) == len(sent)  # one report per period
    assert sum(doc["metrics"].get("toolpath.pocket", 0) for doc in sent.values()) == 5
    assert sum(doc["metrics"].get("toolpath.drill", 0) for doc in sent.values()) == 2
    on_feedback.close(0)
