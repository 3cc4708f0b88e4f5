"""Housekeeping (issue 14 item 10): every folder the client makes is 0700 from the start, parents
included; `timer()` while off hands out one shared do-nothing context manager, as the other calls
do nothing; leftovers of interrupted writes go in every folder (test_embedding.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from optin.client import ManualClock
from optin.client._null import NULL_TIMER
from optin.client.testing import InMemoryTransport
from optin.contract import Registry

from .conftest import make_feedback


def modes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root.parent)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in (root, *root.rglob("*"))
        if p.is_dir()
    }


def test_every_folder_the_client_makes_is_0700_from_the_start(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    old = os.umask(0o022)  # the usual umask: mkdir(parents=True) would leave the parents 0755
    try:
        root = tmp_path / "portable" / "millwright"  # none of it exists yet
        feedback = make_feedback(registry, root, "http://127.0.0.1:9", clock, transport=InMemoryTransport())
        assert feedback.turn_on()
        feedback.count("toolpath.pocket")
        clock.advance(86400)
        assert feedback.flush(5) and feedback.close(5)
    finally:
        os.umask(old)
    made = modes(tmp_path / "portable")
    assert {"portable/millwright/config", "portable/millwright/data", "portable/millwright/data/queue"} <= set(made)
    assert set(made.values()) == {"0o700"}, made


def test_timer_while_off_is_a_shared_do_nothing(tmp_path: Path, registry: Registry, clock: ManualClock) -> None:
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock)
    assert feedback.timer("simulation.duration") is NULL_TIMER  # no generator, no clock read, nothing kept
    with feedback.timer("simulation.duration"):
        pass
    assert feedback.turn_on()
    with feedback.timer("simulation.duration"):
        pass
    report = feedback.preview()
    assert b'"simulation.duration"' in report  # on: the block's duration is recorded
    feedback.close(0)
