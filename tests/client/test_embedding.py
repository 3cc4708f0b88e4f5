"""What an embedding developer meets in a real application (issue: several windows, two exit paths,
host wording): close() from two exit paths, feedback turned on in the middle of a session, the
application's own words in the dialogs and in the consent record, its own administrative variable,
and an administrative off that still lets the user turn feedback off and have the data erased."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import orjson
import pytest

from optin.client import Answer, AskPolicy, Feedback, HelpMenu, ManualClock, Status, Wording
from optin.client.testing import InMemoryTransport
from optin.contract import Registry

from .conftest import Offline, ScriptedCollector, make_feedback

HOUR = 3600.0
DAY = 86400.0
SURVEYS = Wording(
    never_sent="Never sent: your survey data, site names or coordinates, your user or computer name.",
    privacy_policy="https://example.com/privacy",
    contact="privacy@example.com",
)


def reports(transport: InMemoryTransport) -> list[dict[str, object]]:
    return [orjson.loads(gzip.decompress(p.body)) for p in transport.posted if p.url.endswith("/v1/reports")]


def test_close_from_two_exit_paths_queues_one_report(tmp_path: Path, registry: Registry, clock: ManualClock) -> None:
    refused = InMemoryTransport(answers=[None] * 20)  # the collector cannot be reached: what is queued stays
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=refused)
    assert feedback.turn_on()
    feedback.count("toolpath.pocket")
    clock.advance(DAY)  # the period has ended: this close builds its report
    assert feedback.close(2)  # the window's close handler
    clock.advance(1)
    assert feedback.close(2)  # atexit
    assert len(feedback.queue.pending()) == 1  # the second close added no empty-period report


def test_close_twice_sends_one_report(clock: ManualClock, offline: Offline) -> None:
    feedback, transport = offline
    assert feedback.turn_on()
    feedback.count("toolpath.pocket")
    clock.advance(DAY)
    assert feedback.close(5) and feedback.close(5)
    assert [doc["metrics"].get("toolpath.pocket") for doc in reports(transport)] == [1]  # type: ignore[attr-defined]


def test_turning_it_on_in_the_middle_of_a_session_starts_the_session(clock: ManualClock, offline: Offline) -> None:
    feedback, transport = offline
    feedback.start_session()  # the host starts its session once, at start-up, feedback off
    clock.advance(HOUR)  # nothing of this hour is counted: feedback was off
    assert HelpMenu(feedback).toggle() is True  # the user turns it on from the Help menu
    clock.advance(HOUR / 2)
    feedback.end_session()
    clock.advance(DAY)
    assert feedback.close(5)
    (doc,) = reports(transport)
    metrics = doc["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["session.starts"] == 1
    assert metrics["session.usage_seconds"] == HOUR / 2  # from when it was turned on, not from start-up


def test_a_session_ended_while_off_is_not_started_by_turning_it_on(clock: ManualClock, offline: Offline) -> None:
    feedback, transport = offline
    feedback.start_session()
    feedback.end_session()
    assert feedback.turn_on()
    feedback.count("toolpath.pocket")
    clock.advance(DAY)
    assert feedback.close(5)
    (doc,) = reports(transport)
    assert "session.starts" not in doc["metrics"]  # type: ignore[operator]


def test_the_dialogs_show_the_applications_own_words(tmp_path: Path, registry: Registry, clock: ManualClock) -> None:
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, wording=SURVEYS)
    menu = HelpMenu(feedback)
    words = " ".join(text for _, text in menu.ask_paragraphs("Surveyor"))
    assert SURVEYS.never_sent in words and Wording().never_sent not in words  # the example's CAD words are gone
    assert "https://example.com/privacy" in words and "privacy@example.com" in words
    _intro, _categories, closing = menu.turn_on_paragraphs("Surveyor")
    assert ("", SURVEYS.never_sent) in closing
    assert SURVEYS.never_sent in menu.what_is_sent()


def test_the_dialogs_say_never_once(tmp_path: Path, registry: Registry, clock: ManualClock) -> None:
    """What is never sent is one paragraph (the application's), not repeated in every category."""
    menu = HelpMenu(make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock))
    intro, categories, closing = menu.turn_on_paragraphs("Millwright")
    for texts in (
        [text for _, text in menu.ask_paragraphs("Millwright")],
        [intro, *(description for _, _, description in categories), *(text for _, text in closing)],
    ):
        assert [text for text in texts if "never" in text.lower()] == [Wording().never_sent]


def test_the_wording_comes_from_the_applications_configuration(tmp_path: Path) -> None:
    config = tmp_path / "surveyor.toml"
    config.write_text(
        '[window]\nwidth = 800\n\n[feedback]\nnever_sent = """Never sent: your survey data,\n  site names."""\n'
        'privacy_policy = "https://example.com/privacy"\n'
    )
    wording = Wording.from_toml(config)
    assert wording.never_sent == "Never sent: your survey data, site names."
    assert wording.privacy_policy == "https://example.com/privacy" and wording.contact == ""
    assert Wording.from_toml("[window]\nwidth = 1\n") == Wording()  # no [feedback] table: the example's words
    for bad, named in (
        ('[feedback]\nnever_snet = "x"\n', "never_snet"),
        ("[feedback]\nnever_sent = 3\n", "never_sent"),
        ('[feedback]\nnever_sent = " "\n', "never_sent"),
        ('[feedback]\ncontact = "' + "x" * 601 + '"\n', "contact"),
        ("[feedback\n", "TOML"),
    ):
        with pytest.raises(ValueError, match=named):
            Wording.from_toml(bad)


def test_the_consent_record_covers_the_applications_words(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    policy = AskPolicy(grace_days=0)
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, wording=SURVEYS, ask_policy=policy)
    assert feedback.turn_on()
    state = feedback.state
    assert state.wording_version >= 1 and state.wording_hash == SURVEYS.digest(registry, registry.categories)
    on_disk = orjson.loads(feedback.paths.consent_file.read_bytes())
    assert on_disk["wording_hash"] == state.wording_hash and on_disk["wording_version"] == state.wording_version
    assert not feedback.should_ask()
    feedback.close(0)
    # The application changes what it says is never sent: the user is shown the new words once.
    changed = SURVEYS._replace(never_sent="Never sent: your survey data.")
    again = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, wording=changed, ask_policy=policy)
    assert again.is_on and again.should_ask()
    again.close(0)


def test_the_administrative_variable_can_be_named_by_the_application(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    # A host whose own variables use the MILLWRIGHT_ prefix picks another name for the off switch.
    own = {"MILLWRIGHT_FEEDBACK": "off"}  # here, the host's own setting that means something else
    feedback = make_feedback(
        registry, tmp_path, "http://127.0.0.1:9", clock, environ=own, admin_variable="MW_TELEMETRY"
    )
    assert feedback.forced_off is None and feedback.turn_on()
    feedback.turn_off()
    forced = make_feedback(
        registry, tmp_path, "http://127.0.0.1:9", clock, environ={"MW_TELEMETRY": "off"}, admin_variable="MW_TELEMETRY"
    )
    assert forced.forced_off is not None and "MW_TELEMETRY" in forced.forced_off.detail
    assert not forced.turn_on()


def test_under_an_administrative_off_the_user_can_still_turn_it_off_and_have_the_data_erased(
    tmp_path: Path, registry: Registry, clock: ManualClock, scripted: ScriptedCollector
) -> None:
    feedback = make_feedback(registry, tmp_path, scripted.url, clock)
    assert feedback.turn_on()
    feedback.count("toolpath.pocket")
    clock.advance(DAY)
    assert feedback.close(5)  # the period's report reaches the collector
    assert [seen.path for seen in scripted.seen] == ["/v1/reports"]
    sent_id = feedback.state.installation_id
    # Later the administrator turns feedback off on this computer; the user wants the data gone.
    forced = make_feedback(registry, tmp_path, scripted.url, clock, environ={"DO_NOT_TRACK": "1"})
    assert forced.forced_off is not None and not forced.is_on
    menu = HelpMenu(forced)
    assert menu.item().enabled
    assert menu.turn_off().startswith("The Customer Feedback Program is off. The data sent from this computer")
    assert forced.flush(5)
    assert forced.state.status is Status.OFF and forced.state.pending_deletion == ()
    assert [seen.path for seen in scripted.seen] == ["/v1/reports", "/v1/deletions"]
    assert orjson.loads(gzip.decompress(scripted.seen[-1].body)) == {"installation_id": sent_id}
    assert not forced.turn_on() and forced.close(1)


def test_turning_it_off_says_whether_anything_had_been_sent(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=InMemoryTransport())
    menu = HelpMenu(feedback)
    assert menu.turn_on(("usage",)) and feedback.state.categories == ("usage",)
    assert menu.turn_off() == "The Customer Feedback Program is off. Nothing had been sent from this computer."
    assert not menu.turn_on(())  # agreeing to nothing does not turn it on
    assert feedback.state.status is Status.OFF
    feedback.close(1)


def test_lifting_an_administrative_off_resumes_nothing_until_the_user_has_decided_again(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    transport = InMemoryTransport()
    policy = AskPolicy(grace_days=7, max_prompts=1)

    def start(environ: dict[str, str]) -> Feedback:
        return make_feedback(
            registry, tmp_path, "http://127.0.0.1:9", clock, environ=environ, transport=transport, ask_policy=policy
        )

    first = start({})
    assert first.turn_on()
    assert first.close(5)  # its thread has ended: no older process writes the consent file later
    sent_before = len(transport.posted)
    forced = start({"DO_NOT_TRACK": "1"})  # an administrator turns feedback off on this computer for a while
    assert forced.paused and not forced.should_ask()
    assert HelpMenu(forced).item().label.endswith("On, paused")
    forced.close(0)
    lifted = start({})  # ... and lifts it again: the user's old "on" alone does not resume sending
    assert lifted.state.is_on and lifted.paused and not lifted.is_on
    lifted.count("toolpath.pocket")
    clock.advance(2 * 86400)
    assert lifted.flush(2) and len(transport.posted) == sent_before
    assert lifted.should_ask()  # at once, whatever the grace period or the number of earlier prompts
    lifted.answer_prompt(Answer.YES)
    assert lifted.is_on and not lifted.paused and not lifted.should_ask()
    lifted.count("toolpath.pocket")
    assert lifted.close(5) and len(transport.posted) == sent_before + 1


def test_declining_to_resume_after_an_administrative_off_turns_it_off(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    first = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=InMemoryTransport())
    assert first.turn_on()
    assert first.close(5)
    make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, environ={"MILLWRIGHT_FEEDBACK": "off"}).close(0)
    lifted = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock)
    assert lifted.should_ask()
    lifted.answer_prompt(Answer.NO)
    assert lifted.state.status is Status.OFF and not lifted.paused and not lifted.is_on
    lifted.close(0)


def test_turning_it_off_erases_the_contents_of_the_local_history_and_keeps_the_deletion(
    tmp_path: Path, registry: Registry, clock: ManualClock, scripted: ScriptedCollector
) -> None:
    feedback = make_feedback(registry, tmp_path, scripted.url, clock)
    assert feedback.turn_on()
    feedback.count("toolpath.pocket", 7)
    clock.advance(86400)
    assert feedback.flush(5)
    assert feedback.history.entries()[0].content["metrics"]["toolpath.pocket"] == 7
    HelpMenu(feedback).turn_off()
    assert feedback.flush(5)
    entries = feedback.history.entries()
    assert [e.result for e in entries][0] == "accepted" and entries[0].content is None  # when and how, not what
    assert entries[-1].content is not None and "installation_id" in entries[-1].content  # the deletion request
    assert b"toolpath.pocket" not in feedback.paths.history_file.read_bytes()
    assert "erased from this computer" in HelpMenu(feedback).sent_data_text()
    feedback.close(1)


def test_leftovers_of_interrupted_writes_are_removed_at_start_in_every_folder(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    first = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=InMemoryTransport())
    assert first.turn_on()
    first.count("toolpath.pocket")
    assert first.close(5)
    # A crash in the middle of writes left temp files: one of the history's holds a report's content.
    old = time.time() - 3600
    leftovers = [tmp_path / "config" / ".tmp-consent", tmp_path / "data" / ".tmp-history"]
    fresh = tmp_path / "data" / ".tmp-being-written-now"  # another process's write under way: left alone
    for path in (*leftovers, fresh):
        path.write_bytes(b'{"metrics": {"toolpath.pocket": 1}}')
    for path in leftovers:
        os.utime(path, (old, old))
    second = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, environ={"DO_NOT_TRACK": "1"})
    assert [p.exists() for p in leftovers] == [False, False] and fresh.exists()  # even while forced off
    second.close(0)
