"""A retry storm: copies of stored reports are answered 200 with one lookup per batch of questions, then from memory."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

from optin.contract import Registry
from tests.helpers import CollectorProcess, db_rows, make_report, post_json, request, start_collector


def _counter(collector: CollectorProcess, name: str) -> int:
    _, _, body = request(collector.url, "GET", "/metrics")
    lines = [line for line in body.decode().splitlines() if line.startswith(f"{name} ")]
    assert len(lines) == 1, name
    return int(float(lines[0].split()[1]))


def test_a_storm_of_copies_of_stored_reports_is_answered_together_then_from_memory(
    tmp_path: Path, registry: Registry
) -> None:
    db = tmp_path / "db" / "optin.duckdb"
    reports = [make_report(registry) for _ in range(240)]
    first = start_collector(db, tmp_path / "first.log", "--workers", "2")
    try:
        assert {post_json(first.url, doc)[0] for doc in reports} == {202}
    finally:
        first.stop()
    # Started again, no worker remembers an id: every copy is a "maybe" of the loader's filter.
    again = start_collector(db, tmp_path / "again.log", "--workers", "2")
    try:
        with concurrent.futures.ThreadPoolExecutor(48) as pool:
            answers = list(pool.map(lambda doc: post_json(again.url, doc), reports))
        assert answers == [(200, {"status": "duplicate"})] * len(reports)
        questions = _counter(again, "optin_stored_questions_total")
        lookups = _counter(again, "optin_stored_lookups_total")
        assert questions == len(reports)  # each copy asked the loader once
        assert 1 <= lookups <= questions // 2  # questions arriving together share one lookup
        with concurrent.futures.ThreadPoolExecutor(48) as pool:
            answers = list(pool.map(lambda doc: post_json(again.url, doc), reports))
        assert answers == [(200, {"status": "duplicate"})] * len(reports)
        assert _counter(again, "optin_stored_questions_total") == 2 * len(reports)
        assert _counter(again, "optin_stored_lookups_total") == lookups  # found before: answered from memory
    finally:
        again.stop()
    assert db_rows(db, "SELECT count(*), count(DISTINCT report_id) FROM reports") == [(240, 240)]


def test_a_copy_at_another_worker_is_answered_200_before_the_first_is_loaded_and_stored_once(
    tmp_path: Path, registry: Registry
) -> None:
    db = tmp_path / "db" / "optin.duckdb"
    reports = [make_report(registry) for _ in range(40)]
    running = start_collector(db, tmp_path / "c.log", "--workers", "2", "--load-interval-ms", "3000")
    try:
        assert [post_json(running.url, doc)[0] for doc in reports] == [202] * len(reports)
        # Each request is a new connection, spread over both workers, while the loader waits 3 s:
        # a copy at the worker that journaled the report is found in its memory, a copy at the other
        # in the first worker's filter, then by the loader's lookup (which loads what is journaled).
        copies = [post_json(running.url, doc)[0] for doc in reports]
        assert copies == [200] * len(reports)
        assert _counter(running, "optin_reports_stored_total") == len(reports)
    finally:
        running.stop()
    assert db_rows(db, "SELECT count(*), count(DISTINCT report_id) FROM reports") == [(40, 40)]
