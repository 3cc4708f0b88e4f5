"""One report per period (SPEC §2, issue 14 item 7): however often the app starts and stops in a day,
and however it ends (a clean close, or kill -9 mid-session), the day's values reach the collector in
exactly one report, sent by the first start after the day ends; nothing kept is lost or counted twice."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from optin.client import AppPaths, ManualClock
from optin.collector import CollectorThread, Config
from optin.contract import Registry

from .conftest import START, make_feedback

DAY = 86400.0
STARTS = 10
KILLS = 7  # of the ten starts; the other three close cleanly

SESSION = r"""
import sys
from pathlib import Path
from optin.client import AppPaths, Feedback, FeedbackOptions, ManualClock
from optin.contract import bundled_registry
clock = ManualClock(float(sys.argv[2]))
options = FeedbackOptions(paths=AppPaths.under(Path(sys.argv[1])), clock=clock, facts=lambda: {"system.os_family": "linux"}, environ={})
feedback = Feedback(bundled_registry("millwright"), app_version="2025.3.0", endpoint="http://127.0.0.1:9", options=options)
assert feedback.is_on
feedback.start_session()
n = 0
while True:  # use the app until killed: after each roll, every count so far is on disk
    n += 1
    feedback.count("toolpath.pocket")
    feedback.reports.roll()
    print(n, flush=True)
"""


def stored_reports(db: Path) -> list[tuple[str, int, int, int]]:
    """(report id, its day (Unix seconds), toolpath.pocket, session.starts) of every stored report."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            """SELECT r.report_id, epoch(r.day)::BIGINT,
                      coalesce(sum(v.value) FILTER (WHERE m.name = 'toolpath.pocket'), 0),
                      coalesce(sum(v.value) FILTER (WHERE m.name = 'session.starts'), 0)
               FROM reports r LEFT JOIN report_values v USING (report_key) LEFT JOIN metrics m USING (metric_key)
               GROUP BY ALL ORDER BY 2"""
        ).fetchall()
    finally:
        con.close()
    return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]


def kept_on_disk(root: Path) -> int:
    return int(json.loads((root / "data" / "period.json").read_bytes())["values"].get("toolpath.pocket", 0))


def test_ten_starts_in_a_day_send_one_report_at_the_next_days_first_start(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    root = tmp_path / "app"
    db = tmp_path / "collector" / "optin.duckdb"
    with CollectorThread(Config(db=db, host="127.0.0.1", port=0), clock=clock.now) as collector:
        first = make_feedback(registry, root, collector.url, clock)
        assert first.turn_on()
        first.close(5)
        for start in range(STARTS):
            app = make_feedback(registry, root, collector.url, clock)
            app.start_session()
            app.count("toolpath.pocket", start + 1)
            clock.advance(1800)  # half an hour of use
            app.end_session()
            assert app.close(5)
            clock.advance(1800)
        assert [e.result for e in app.history.entries()] == []  # ten closes, nothing sent: the day is not over
        clock.set(START + DAY + 8 * 3600)  # the next morning
        app = make_feedback(registry, root, collector.url, clock)
        assert app.flush(10) and app.close(5)
        assert [e.result for e in app.history.entries()] == ["accepted"]
        clock.advance(DAY)  # and the morning after: the second day (one start) has its own report
        again = make_feedback(registry, root, collector.url, clock)
        assert again.flush(10) and again.close(5)
    reports = stored_reports(db)
    assert len(reports) == 2 and len({r[0] for r in reports}) == 2
    (_, day_start, pockets, starts), (_, next_start, next_pockets, _) = reports
    # The collector files a report under the day its period ends (midnight after the day it covers).
    assert day_start == START + DAY and pockets == sum(range(1, STARTS + 1)) and starts == STARTS
    assert next_start == START + 2 * DAY and next_pockets == 0


def test_kill_9_mid_session_loses_nothing_kept_and_counts_nothing_twice(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    rng = random.Random(14)
    root = tmp_path / "app"
    setup = make_feedback(registry, root, "http://127.0.0.1:9", clock)
    assert setup.turn_on()
    setup.close(0)
    kept = 0  # counts the killed sessions reported as on disk
    in_flight = 0  # a count being rolled when the kill came may or may not be on disk
    for start in range(STARTS):
        at = START + 600 + start * 3600
        if start < KILLS:
            child = subprocess.Popen([sys.executable, "-c", SESSION, str(root), str(at)], stdout=subprocess.PIPE)
            assert child.stdout is not None
            target = rng.randint(1, 200)
            last = 0
            while last < target:  # let it use the app for a while, then kill it wherever it is
                line = child.stdout.readline()
                assert line, "the session child died early"
                last = int(line)
            child.send_signal(signal.SIGKILL)
            child.wait(60)
            printed = child.stdout.read().split()  # what it printed before the kill that was not read yet
            last = int(printed[-1]) if printed else last
            kept += last
            in_flight += 1
            assert kept <= kept_on_disk(root) <= kept + in_flight
        else:
            clock.set(at)
            app = make_feedback(registry, root, "http://127.0.0.1:9", clock)
            app.start_session()
            app.count("toolpath.pocket", 5)
            assert app.close(5)
            kept += 5
        assert not list((root / "data" / "queue").glob("*.json"))  # the day is not over: no report yet
    on_disk = kept_on_disk(root)
    db = tmp_path / "collector" / "optin.duckdb"
    clock.set(START + DAY + 3600)
    with CollectorThread(Config(db=db, host="127.0.0.1", port=0), clock=clock.now) as collector:
        for _restart in range(2):  # two starts on the next day: the first sends the day's report, the second not again
            app = make_feedback(registry, root, collector.url, clock)
            assert app.flush(10) and app.close(5)
    reports = stored_reports(db)
    assert len(reports) == 1
    (_, day_start, pockets, starts) = reports[0]
    assert day_start == START + DAY and pockets == on_disk and starts == STARTS  # every session's start, once
    assert json.loads((root / "data" / "period.json").read_bytes())["closed_until"] == START + DAY
    assert AppPaths.under(root).period_file.exists()


@pytest.mark.parametrize("sent_before_the_crash", [False, True])
def test_a_crash_between_queueing_the_days_report_and_closing_the_day_sends_it_once(
    tmp_path: Path, registry: Registry, clock: ManualClock, sent_before_the_crash: bool
) -> None:
    """The day's report is queued, then the period file is rewritten: a crash between the two leaves the old
    period file beside the queued report (or, if the thread had sent it already, beside nothing). The next
    start finds the report's reserved id in the queue, or sends the same id again (the collector's duplicate)."""
    root = tmp_path / "app"
    db = tmp_path / "collector" / "optin.duckdb"
    period_file = AppPaths.under(root).period_file
    with CollectorThread(Config(db=db, host="127.0.0.1", port=0), clock=clock.now) as collector:
        refused = "http://127.0.0.1:9"
        app = make_feedback(registry, root, refused, clock)
        assert app.turn_on()
        app.count("toolpath.pocket", 7)
        assert app.close(5)
        open_day = period_file.read_bytes()  # what a crash right after queueing leaves on disk
        clock.advance(DAY)
        app = make_feedback(registry, root, collector.url if sent_before_the_crash else refused, clock)
        assert app.flush(10) and app.close(5)
        assert len(app.queue.pending()) == (0 if sent_before_the_crash else 1)
        period_file.write_bytes(open_day)  # the crash: the period file was never rewritten
        for _start in range(2):
            app = make_feedback(registry, root, collector.url, clock)
            assert app.flush(10) and app.close(5)
        assert app.queue.pending() == []
    reports = stored_reports(db)
    assert [(pockets, starts) for _, _, pockets, starts in reports] == [(7, 0)]  # one report, counted once


def test_turning_off_erases_the_values_kept_on_disk_for_the_open_period(tmp_path: Path, registry: Registry) -> None:
    """SPEC §0: turning feedback off erases what was recorded; the period file holds recorded values too."""
    clock = ManualClock(START)
    root = tmp_path / "app"
    app = make_feedback(registry, root, "http://127.0.0.1:9", clock)
    assert app.turn_on()
    app.count("toolpath.pocket", 3)
    assert app.close(5)
    period_file = AppPaths.under(root).period_file
    assert json.loads(period_file.read_bytes())["values"]  # the session's values wait on disk for the day's end
    app = make_feedback(registry, root, "http://127.0.0.1:9", clock)
    app.turn_off()
    assert app.close(5)
    assert not period_file.exists()
    assert not period_file.with_name(period_file.name + ".lock").exists()
