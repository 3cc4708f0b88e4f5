"""Consent transitions (`_transitions.py`) and the façade's hooks: turning off stops recording before the
consent file changes, and every transition leaves the recording methods matching the state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from optin.client import Feedback, ManualClock, _steps
from optin.client._null import NotRecording
from optin.client._recorder import Recorder
from optin.client.testing import InMemoryTransport
from optin.contract import Registry

from .conftest import make_feedback


@pytest.fixture
def feedback(tmp_path: Path, registry: Registry, clock: ManualClock) -> Iterator[Feedback]:
    made = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=InMemoryTransport())
    yield made
    made.close(0)


def recording(feedback: Feedback) -> bool:
    return type(feedback) is not Feedback and isinstance(feedback.recorder, Recorder)


def test_turning_off_stops_recording_before_the_consent_file_says_off(
    feedback: Feedback, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert feedback.turn_on() and recording(feedback)
    seen: dict[str, tuple[bool, bool]] = {}

    def observe(step: str) -> None:
        on_disk = feedback.paths.consent_file.read_bytes()
        seen.setdefault(step, (recording(feedback), b'"status": "on"' in on_disk))

    monkeypatch.setattr(_steps, "observer", observe)
    feedback.turn_off()
    # (recording, the file says on) at each step: recording has stopped while the file still says on.
    assert seen["begin"] == (True, True)
    assert seen["consent_staged"] == (False, True)
    assert seen["consent_saved"] == (False, False)
    assert seen["done"] == (False, False)


def test_every_transition_leaves_the_recording_methods_matching_the_state(
    tmp_path: Path, registry: Registry, clock: ManualClock, feedback: Feedback
) -> None:
    assert not recording(feedback) and isinstance(feedback.recorder, NotRecording)
    for _ in range(2):  # on and off repeatedly, as the Help menu allows
        assert feedback.turn_on() and recording(feedback) and feedback.is_on
        feedback.turn_off()
        assert not recording(feedback) and not feedback.is_on
    assert feedback.turn_on()
    elsewhere = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock)  # the same user's second process
    elsewhere.turn_off()
    elsewhere.close(0)
    feedback.sync_consent()  # adopts the newer "off"
    assert not recording(feedback) and not feedback.is_on


def test_an_administrative_off_met_at_start_records_nothing(
    tmp_path: Path, registry: Registry, clock: ManualClock, feedback: Feedback
) -> None:
    assert feedback.turn_on()
    feedback.close(0)
    forced = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, environ={"DO_NOT_TRACK": "1"})
    assert forced.paused and not recording(forced) and forced.forced_off is not None
    assert not forced.turn_on()  # only turning on is refused
    forced.turn_off()
    assert forced.state.installation_id is None and not recording(forced)
    forced.close(0)
