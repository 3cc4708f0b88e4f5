"""The recording methods per state (`_null.py` while off, `_recording.py` while on): a host thread that
records while the user turns feedback off and on again records nothing once turn_off() has returned, and
records again once turn_on() has; a method kept from the "on" state is the one that records nothing then."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from optin.client import AppPaths, Feedback, FeedbackOptions, ManualClock
from optin.client._null import NULL_TIMER, NotRecording
from optin.client._recorder import Recorder
from optin.client.testing import InMemoryTransport
from optin.contract import Registry

from .conftest import make_feedback

COUNTER, TIMED = "toolpath.pocket", "simulation.duration"


class HostThread:
    """One of the host application's own threads: records when told to, and says when it has."""

    def __init__(self, feedback: Feedback) -> None:
        self.feedback = feedback
        self.kept: Callable[..., None] | None = None  # a recording method the host kept from an earlier state
        self._todo: queue.Queue[str | None] = queue.Queue()
        self._done: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="host-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (what := self._todo.get()) is not None:
            if what == "keep":
                self.kept = self.feedback.count
            elif what == "kept":
                assert self.kept is not None
                self.kept(COUNTER)
            else:
                self.feedback.count(COUNTER)
                with self.feedback.timer(TIMED):
                    pass
            self._done.put(what)

    def do(self, what: str = "record") -> None:
        self._todo.put(what)
        assert self._done.get(timeout=10) == what

    def stop(self) -> None:
        self._todo.put(None)
        self._thread.join(10)


@pytest.fixture
def host(tmp_path: Path, registry: Registry, clock: ManualClock) -> Iterator[HostThread]:
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=InMemoryTransport())
    thread = HostThread(feedback)
    yield thread
    thread.stop()
    feedback.close(0)


def metrics(feedback: Feedback) -> dict[str, object]:
    """The usage values the next report would hold (the system facts left out)."""
    values = orjson.loads(feedback.preview())["metrics"]
    assert isinstance(values, dict)
    return {name: value for name, value in values.items() if not name.startswith("system.")}


def recorded(recorder: object) -> dict[str, object]:
    assert isinstance(recorder, Recorder)
    return dict(recorder.peek().values)


def test_after_turn_off_returns_another_threads_calls_record_nothing_and_after_turn_on_they_record(
    host: HostThread,
) -> None:
    feedback = host.feedback
    host.do()  # off from the start: nothing
    assert isinstance(feedback.recorder, NotRecording) and feedback.timer(TIMED) is NULL_TIMER
    assert feedback.turn_on()
    host.do()
    host.do("keep")
    first = feedback.recorder
    assert metrics(feedback) == {COUNTER: 1, TIMED: [1, 0, 0, 0, 0, 0]}

    feedback.turn_off()
    at_off = recorded(first)  # what the worker thread had not yet taken into the (now erased) period
    host.do()
    host.do("kept")  # the method kept from the "on" state
    assert recorded(first) == at_off  # untouched since turn_off returned
    assert isinstance(feedback.recorder, NotRecording) and type(feedback) is Feedback
    assert not feedback.paths.period_file.exists() and feedback.queue.pending() == []

    assert feedback.turn_on()
    host.do()
    host.do("kept")  # kept while on, called while on again: it reaches the live recorder
    assert metrics(feedback) == {COUNTER: 2, TIMED: [1, 0, 0, 0, 0, 0]}  # only what came after turn_on
    assert recorded(first) == at_off


def test_a_thread_recording_all_along_reaches_the_erased_recorder_at_most_once_after_turn_off(
    host: HostThread,
) -> None:
    feedback = host.feedback
    assert feedback.turn_on()
    first = feedback.recorder
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            feedback.count(COUNTER)
            with feedback.timer(TIMED):
                pass

    threads = [threading.Thread(target=hammer, name=f"host-{i}") for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        stop.wait(0.05)
        feedback.turn_off()
        at_off = recorded(first)
        stop.wait(0.2)  # the threads go on calling while feedback is off
        after = recorded(first)
        assert isinstance(feedback.recorder, NotRecording)
        # A call that had already reached the old recorder when turn_off began may finish after it: one per thread.
        counted, before = after.get(COUNTER, 0), at_off.get(COUNTER, 0)
        assert isinstance(counted, int) and isinstance(before, int) and counted - before <= len(threads)
        assert feedback.turn_on()
        stop.wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    again = metrics(feedback).get(COUNTER)
    assert isinstance(again, int) and again > 0  # recording again after turn_on
    assert recorded(first).get(COUNTER, 0) == counted  # nothing reached the erased recorder after the first 0.2 s


def test_a_class_change_keeps_every_field_and_a_hosts_subclass(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    class Host(Feedback):
        __slots__ = ()

        def pockets(self) -> None:
            self.count(COUNTER, 2)

    options = FeedbackOptions(paths=AppPaths.under(tmp_path), clock=clock, facts=dict, environ={})
    host = Host(registry, app_version="2025.3.0", endpoint="http://127.0.0.1:9", options=options)
    host.pockets()
    assert type(host) is Host and host.turn_on()
    assert isinstance(host, Host) and type(host) is not Host  # its recording class, made from the host's
    host.pockets()
    assert metrics(host) == {COUNTER: 2}
    host.turn_off()
    assert type(host) is Host and host.app_version == "2025.3.0" and host.endpoint == "http://127.0.0.1:9"
    host.pockets()
    assert host.turn_on() and metrics(host) == {}
    host.close(0)
