"""The promises of SPEC §0 that live in the client, one named test each (plus administrative off)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from optin.client import Answer, AskPolicy, Feedback, HelpMenu, ManualClock, Status
from optin.collector import CollectorThread, Config
from optin.contract import Registry
from tests.helpers import request

from .conftest import ScriptedCollector, SocketGuard, make_feedback

DAY = 86400.0

OFF_CHILD = r"""
import json, sys, threading
events = []
sys.addaudithook(lambda event, args: events.append(event) if event.startswith("socket.") else None)
from pathlib import Path
from optin.client import AppPaths, Feedback, FeedbackOptions, HelpMenu
from optin.contract import bundled_registry_file
root = Path(sys.argv[1])
feedback = Feedback(bundled_registry_file("millwright"), app_version="2025.3.0", endpoint=sys.argv[2], options=FeedbackOptions(paths=AppPaths.under(root)))
menu = HelpMenu(feedback)
feedback.start_session()
for _ in range(1000):
    feedback.count("toolpath.pocket")
    feedback.count("file.import", 2, "step")
    feedback.choose("ui.theme", "dark")
    feedback.duration("simulation.duration", 4.0)
feedback.end_session()
item = menu.item()
asked = feedback.should_ask()
flushed = feedback.flush(1.0)
closed = feedback.close(1.0)
print(json.dumps({"socket_events": events, "threads": [t.name for t in threading.enumerate()], "checked": item.checked, "flushed": flushed, "closed": closed}))
"""


def stored_total(url: str, at_least: int = 0) -> int:
    """Reports the collector has committed, from its /metrics (its loader commits after the 202: wait for
    ``at_least`` of them, up to a minute)."""
    deadline = time.monotonic() + 60
    while True:
        status, _, body = request(url, "GET", "/metrics")
        assert status == 200
        lines = [line for line in body.decode().splitlines() if line.startswith("optin_reports_stored_total ")]
        assert lines, "optin_reports_stored_total missing"
        stored = int(float(lines[0].split()[1]))
        if stored >= at_least or time.monotonic() > deadline:
            return stored
        time.sleep(0.05)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def stored_installations(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT CAST(i.installation_id AS VARCHAR), count(r.report_key) FROM installations i LEFT JOIN reports r USING (inst_key) GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    return {iid: n for iid, n in rows}


def test_promise_1_off_by_default_writes_only_the_consent_file_starts_no_thread_and_opens_no_socket(
    tmp_path: Path, scripted: ScriptedCollector
) -> None:
    url = scripted.url
    out = subprocess.run(
        [sys.executable, "-c", OFF_CHILD, str(tmp_path), url], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["socket_events"] == []
    assert result["threads"] == ["MainThread"]
    assert result["checked"] is False and result["flushed"] is True and result["closed"] is True
    assert files_under(tmp_path) == ["config/consent.json"]
    assert json.loads((tmp_path / "config" / "consent.json").read_text())["status"] == "undecided"
    assert (tmp_path / "config" / "consent.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "config").stat().st_mode & 0o777 == 0o700
    assert scripted.seen == []


def test_promise_1_nothing_but_the_users_action_turns_it_on(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    # No constructor argument can turn it on.
    assert not {"enabled", "consent", "on", "opt_in", "default"} & set(inspect.signature(Feedback).parameters)
    # No environment variable can: only "off" values are recognised, anything else is ignored.
    environ = {"MILLWRIGHT_FEEDBACK": "on", "DO_NOT_TRACK": "0", "OPTIN_FEEDBACK": "1", "OPTIN_CONSENT": "on"}
    # No policy file can: an administrator may force it off, never on.
    site = tmp_path / "site"
    site.mkdir()
    (site / "policy.toml").write_text('feedback = "on"\n')
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, environ=environ)
    assert not feedback.is_on and feedback.state.status is Status.UNDECIDED
    # A damaged consent file means off, and is rewritten as undecided.
    feedback.close(0)
    (tmp_path / "config" / "consent.json").write_text('{"status": "on", "installation_id": ')
    again = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock)
    assert not again.is_on
    # The user's action does.
    assert HelpMenu(again).toggle() is True
    assert again.is_on and again.state.surface == "help_menu"
    again.close(0)


def test_promise_2_the_user_turns_it_off_and_on_repeatedly_from_the_help_menu(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    db = tmp_path / "collector" / "optin.duckdb"
    ids: list[str] = []
    with CollectorThread(Config(db=db, host="127.0.0.1", port=0)) as collector:
        feedback = make_feedback(registry, tmp_path / "app", collector.url, clock)
        menu = HelpMenu(feedback)
        for _round in range(3):
            assert menu.toggle() is True  # on
            installation_id = feedback.state.installation_id
            assert installation_id is not None and installation_id not in ids
            ids.append(installation_id)
            feedback.count("toolpath.pocket", 5)
            clock.advance(DAY)
            assert feedback.flush(10)
            assert feedback.queue.pending() == []
            assert menu.toggle() is False  # off: purge, forget the id, request deletion
            assert feedback.flush(10)
            assert feedback.state.installation_id is None and feedback.state.pending_deletion == ()
        assert menu.item().checked is False
        feedback.close(5)
    assert stored_installations(db) == {}  # every round's data was erased when the user turned it off
    assert len(set(ids)) == 3
    results = [entry.result for entry in feedback.history.entries()]
    assert results.count("accepted") == 3 and results.count("deletion: answered 202") == 3


def test_promise_3_the_app_may_ask_again_later_on_the_documented_schedule(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    policy = AskPolicy(grace_days=7, reask_days=180, max_prompts=3)
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, ask_policy=policy)
    assert not feedback.should_ask()  # first run: let the user get to know the app
    clock.advance(6 * DAY)
    assert not feedback.should_ask()
    clock.advance(1 * DAY)
    assert feedback.should_ask()  # grace period over
    feedback.answer_prompt(Answer.NO)
    assert not feedback.is_on and not feedback.should_ask()
    clock.advance(179 * DAY)
    assert not feedback.should_ask()
    clock.advance(1 * DAY)
    assert feedback.should_ask()  # 180 days after the decline
    feedback.answer_prompt(Answer.DISMISSED)  # closing the dialog is a decline too
    clock.advance(180 * DAY)
    assert feedback.should_ask()
    feedback.answer_prompt(Answer.NO)
    clock.advance(400 * DAY)
    assert not feedback.should_ask()  # at most three times
    # "Don't ask again" is final, and the user's own Help-menu choices restart the interval.
    other = make_feedback(registry, tmp_path / "other", "http://127.0.0.1:9", clock, ask_policy=policy)
    clock.advance(7 * DAY)
    other.answer_prompt(Answer.NEVER)
    clock.advance(1000 * DAY)
    assert not other.should_ask()
    third = make_feedback(registry, tmp_path / "third", "http://127.0.0.1:9", clock, ask_policy=policy)
    assert third.turn_on() and not third.should_ask()  # never while on
    third.turn_off()
    clock.advance(179 * DAY)
    assert not third.should_ask()
    clock.advance(8 * DAY)
    assert third.should_ask()
    for f in (feedback, other, third):
        f.close(0)


def test_promise_3_a_new_category_is_asked_about_and_stays_unsent_until_agreed(
    tmp_path: Path, registry: Registry, clock: ManualClock, scripted: ScriptedCollector
) -> None:
    feedback = make_feedback(registry, tmp_path, scripted.url, clock)
    assert feedback.turn_on(categories=("usage", "system"))  # agreed before "sessions" existed, say
    assert feedback.should_ask()  # the registry holds a category the user has not agreed to
    feedback.start_session()
    feedback.count("toolpath.pocket", 2)
    clock.advance(DAY)
    feedback.end_session()
    assert feedback.flush(10)
    sent = feedback.history.entries()[-1].content
    assert "toolpath.pocket" in sent["metrics"] and not any(name.startswith("session.") for name in sent["metrics"])
    feedback.answer_prompt(Answer.YES)
    assert not feedback.should_ask() and set(feedback.state.categories) == set(registry.categories)
    feedback.close(5)


@pytest.mark.parametrize(
    ("environ", "policy", "reason"),
    [
        ({"DO_NOT_TRACK": "1"}, None, "DO_NOT_TRACK"),
        ({"MILLWRIGHT_FEEDBACK": "off"}, None, "MILLWRIGHT_FEEDBACK"),
        ({}, 'feedback = "off"\n', "administrator"),
        ({}, "this is not toml [", "cannot be read"),
    ],
)
def test_administrative_off_forces_feedback_off_and_can_never_force_it_on(
    tmp_path: Path,
    registry: Registry,
    clock: ManualClock,
    socket_guard: SocketGuard,
    environ: dict[str, str],
    policy: str | None,
    reason: str,
) -> None:
    # The user had turned it on earlier (and closed the app).
    earlier = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock)
    assert earlier.turn_on() and earlier.close(5)
    if policy is not None:
        (tmp_path / "site").mkdir(exist_ok=True)
        (tmp_path / "site" / "policy.toml").write_text(policy)
    threads_before = set(threading.enumerate())
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, environ=environ)
    item = HelpMenu(feedback).item()
    forced = feedback.forced_off
    assert not feedback.is_on and forced is not None and reason in f"{forced.reason} ({forced.detail})"
    assert forced.reason == item.reason == "Turned off by your administrator"  # words for a person; the setting:
    assert item.detail == forced.detail and reason in f"{item.reason} ({item.detail})"
    # The user's own choice (on) still shows, and can be withdrawn; it cannot be made.
    assert item.enabled is True and item.checked is True and item.label.endswith("On, paused")
    assert feedback.turn_on() is False and not feedback.is_on
    feedback.count("toolpath.pocket")
    assert not feedback.should_ask()
    assert HelpMenu(feedback).toggle() is False and feedback.state.status is Status.OFF
    item = HelpMenu(feedback).item()
    assert item.enabled is False and item.checked is False and item.label.endswith(": Off")
    assert HelpMenu(feedback).toggle() is False and feedback.state.status is Status.OFF  # never on
    assert feedback.flush(1) and feedback.close(1)
    assert set(threading.enumerate()) == threads_before
    assert socket_guard.events == []


CANARIES = [
    "/home/alice/models/secret-bracket.step",
    "alice@example.com",
    "POLYGON((0 0, 10 0, 10 10))",
    "ghp_0123456789abcdefTOKEN",
    "C:\\Users\\alice\\part.sldprt",
]


def test_promises_4_and_5_undeclared_or_out_of_set_values_never_leave_the_process(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    db = tmp_path / "collector" / "optin.duckdb"
    with CollectorThread(Config(db=db, host="127.0.0.1", port=0)) as collector:
        feedback = make_feedback(registry, tmp_path / "app", collector.url, clock)
        feedback.turn_on()
        feedback.count("toolpath.pocket", 3)
        bad_calls = 0
        for canary in CANARIES:
            feedback.count(canary)
            feedback.count("file.import", 1, canary)
            feedback.choose("ui.theme", canary)
            feedback.choose(canary, "dark")
            feedback.flag(canary)
            feedback.quantity(canary, 3.0)
            feedback.duration(canary, 1.0)
            bad_calls += 7
        for wrong in [True, -1, 1.5, "3", None, float("nan")]:
            feedback.count("toolpath.pocket", wrong)  # type: ignore[arg-type]
            bad_calls += 1
        for wrong in [True, -1, "3", None, float("nan"), float("inf")]:
            feedback.quantity("model.part_count", wrong)  # type: ignore[arg-type]
            bad_calls += 1
        feedback.count(["unhashable"])  # type: ignore[arg-type]
        feedback.count("file.import", 1, {"a": 1})  # type: ignore[arg-type]
        feedback.flag("simulation.collision_check", "yes")  # type: ignore[arg-type]
        bad_calls += 3
        clock.advance(DAY)
        assert feedback.flush(10)
        feedback.close(5)
    sent = feedback.history.entries()
    assert [e.result for e in sent] == ["accepted"]  # the day's report; the new day's values wait on disk
    report = sent[0].content
    assert report["metrics"]["toolpath.pocket"] == 3
    assert report["client"]["dropped"] == bad_calls
    everything = json.dumps(report) + "".join(
        p.read_text(errors="replace") for p in (tmp_path / "app").rglob("*") if p.is_file()
    )
    db_bytes = b"".join(p.read_bytes() for p in (tmp_path / "collector").rglob("*") if p.is_file())
    for canary in CANARIES:
        assert canary not in everything
        assert canary.encode() not in db_bytes


def test_opting_out_purges_sends_the_deletion_request_and_then_opens_no_socket(
    tmp_path: Path, registry: Registry, clock: ManualClock, socket_guard: SocketGuard
) -> None:
    db = tmp_path / "collector" / "optin.duckdb"
    with CollectorThread(Config(db=db, host="127.0.0.1", port=0)) as collector:
        feedback = make_feedback(registry, tmp_path / "app", collector.url, clock)
        feedback.turn_on()
        old_id = feedback.state.installation_id
        assert old_id is not None
        for _day in range(3):
            feedback.count("toolpath.drill", 4)
            clock.advance(DAY)
            assert feedback.flush(10)
        assert [e.result for e in feedback.history.entries()] == ["accepted"] * 3
        assert stored_total(collector.url, at_least=3) == 3
        feedback.count("toolpath.drill", 9)  # in memory, not yet in any report
        clock.advance(DAY)
        feedback.reports.roll()  # a report persisted but not yet sent
        assert len(feedback.queue.pending()) == 1

        feedback.turn_off()
        assert feedback.queue.pending() == []
        assert feedback.flush(10)  # the deletion request goes out
        assert feedback.state.pending_deletion == ()
        consent = json.loads((tmp_path / "app" / "config" / "consent.json").read_text())
        assert consent["installation_id"] is None and consent["status"] == "off"

        socket_guard.events.clear()
        for _day in range(3):
            feedback.count("toolpath.drill", 4)
            clock.advance(DAY)
            assert feedback.flush(2)
        feedback.close(2)
        assert socket_guard.events == []  # nothing at all is sent while off
        assert feedback._worker is not None and not feedback._worker.alive  # the thread ended after the deletion
    results = [e.result for e in feedback.history.entries()]
    assert results == ["accepted"] * 3 + ["deletion: answered 202"]
    assert stored_installations(db) == {}


def test_an_app_version_the_registry_does_not_declare_records_and_sends_nothing(
    tmp_path: Path, registry: Registry, clock: ManualClock, socket_guard: SocketGuard
) -> None:
    """App versions are a closed set: the collector would answer 422 undeclared_version, so the client refuses first."""
    assert "9.9.9" not in registry.app_versions
    feedback = make_feedback(registry, tmp_path / "app", "http://127.0.0.1:9", clock, app_version="9.9.9")
    feedback.turn_on()  # the user's choice is kept; nothing is recorded under an undeclared version
    assert feedback.is_on
    assert feedback._worker is None  # no recorder, no queue, no worker thread: nothing to send
    for _day in range(2):
        feedback.count("toolpath.drill", 4)
        clock.advance(DAY)
        feedback.flush(1)
    feedback.close(1)
    assert feedback.queue.pending() == [] and socket_guard.events == []
