"""Turning feedback off survives a crash at every one of its steps: erased data never comes back.

For each step of `_steps.TURN_OFF_STEPS` (and for the first and the last queued report removed), a
real client process that has delivered two reports and then queued more while the collector was
unreachable (connections refused) is killed with SIGKILL the moment it reaches that step of
`turn_off()`. It is restarted against the collector (one real process on a real DuckDB file for
every step), the deletion of the old id is confirmed, the user turns feedback on again and the
client flushes. Afterwards no row of the old installation id exists, no report of it was sent
after the restart, and the collector never had to refuse one.

Before the flush, one report of the old installation is put back into the queue, standing for a
stale writer (a second instance of the app that built its report before the user turned off and
wrote it after the restart cleaned the queue): the uploader must discard it unsent and count it,
and the count must reach the collector in the new installation's next report (`client.discarded`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from optin.client._steps import TURN_OFF_STEPS
from tests.helpers import CollectorProcess, request, start_collector, stop_process
from tests.reliability.harness import Proxy

from .conftest import START

QUEUED = 30  # reports queued while the collector is down (the queue holds 20: some are evicted and counted)
QUEUE_BOUND = 20

_PRELUDE = r"""
import json, sys, time
from pathlib import Path
from optin.client import AppPaths, Feedback, FeedbackOptions, ManualClock
from optin.client._queue import ReportQueue
from optin.contract import bundled_registry
root, url, clock = Path(sys.argv[1]), sys.argv[2], ManualClock(float(sys.argv[3]))
paths = AppPaths.under(root)
feedback = Feedback(bundled_registry("millwright"), app_version="2025.3.0", endpoint=url, options=FeedbackOptions(paths=paths, clock=clock,
                    facts=lambda: {"system.os_family": "linux"}, environ={}, period_s=3600,
                    queue=ReportQueue(paths.queue_dir, max_reports=20)))
def say(**doc):
    print(json.dumps(doc), flush=True)
def period():
    feedback.count("toolpath.pocket", 3)
    feedback.count("file.import", 1, "step")
    clock.advance(3600)
    feedback.flush(30)
"""

# Phase 1: deliver two reports, queue more while the collector is down, turn off; killed at a step.
BEFORE = (
    _PRELUDE
    + r"""
from optin.client import _steps
step, occurrence = sys.argv[4], int(sys.argv[5])
feedback.turn_on()
period(); period()
say(event="delivered", installation_id=feedback.state.installation_id)
sys.stdin.readline()  # the collector is unreachable now
for _ in range(int(sys.argv[6])):
    period()
say(event="queued", files=len(feedback.queue.pending()))
sys.stdin.readline()  # the parent has copied the queue
seen = {}
def observe(name):
    seen[name] = seen.get(name, 0) + 1
    if name == step and seen[name] == occurrence:
        say(event="at", step=name)
        time.sleep(3600)  # killed here
_steps.observer = observe
feedback.turn_off()
say(event="not reached", seen=seen)
"""
)

# Phase 2: restart; the user (again, if the click was lost) turns off, the deletion is confirmed,
# then they turn feedback on and the client flushes.
AFTER = (
    _PRELUDE
    + r"""
say(event="started", on=feedback.is_on, installation_id=feedback.state.installation_id)
if feedback.is_on:
    feedback.turn_off()  # the crash came before the click took effect: the menu still shows on
for _ in range(20):
    if not feedback.state.pending_deletion:
        break
    clock.advance(7 * 86400)
    feedback.flush(30)
feedback.turn_on()
say(event="on", installation_id=feedback.state.installation_id, pending_deletion=list(feedback.state.pending_deletion))
sys.stdin.readline()  # the stale report is in the queue now
period()
period()
say(event="flushed", queued=len(feedback.queue.pending()))
feedback.close(5)
"""
)


class Child:
    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"child exited with {self.proc.wait()}"
        doc: dict[str, Any] = json.loads(line)
        return doc

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()


def _crash_points() -> list[tuple[str, int]]:
    points = [(step, 1) for step in TURN_OFF_STEPS]
    points.insert(TURN_OFF_STEPS.index("report_removed") + 1, ("report_removed", QUEUE_BOUND))  # the last one
    return points


def _metric(collector: CollectorProcess, name: str) -> int:
    status, _, body = request(collector.url, "GET", "/metrics")
    assert status == 200
    return sum(int(float(line.split()[-1])) for line in body.decode().splitlines() if line.startswith(name))


def _history(root: Path) -> list[dict[str, Any]]:
    path = root / "data" / "history.jsonl"
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()] if path.exists() else []


@dataclass
class Ran:
    """One crash point's run: the installation the user erased and the one they turned on after."""

    step: str
    occurrence: int
    old_id: str
    new_id: str


def _crash_and_restart(root: Path, collector: CollectorProcess, step: str, occurrence: int) -> Ran:
    """Deliver two reports, queue more while the collector is unreachable, turn off and be killed at
    ``step``; restart, erase, turn on, put back a stale report of the old id, flush; check the client side."""
    proxy = Proxy(collector.port)  # the way to the collector, until it is cut
    child = Child(BEFORE, str(root), proxy.url, str(START), step, str(occurrence), str(QUEUED))
    try:
        old_id = child.read()["installation_id"]
        proxy.set_mode("refuse")  # the collector is unreachable: connections are refused
        child.go()
        assert child.read() == {"event": "queued", "files": QUEUE_BOUND}
        old_reports = {p.name: p.read_bytes() for p in (root / "data" / "queue").iterdir()}
        child.go()  # only now may it turn off (and purge what was just copied)
        assert child.read() == {"event": "at", "step": step}
        child.proc.send_signal(signal.SIGKILL)
        assert child.proc.wait() == -signal.SIGKILL
    finally:
        stop_process(child.proc, signal.SIGKILL)
        proxy.close()

    # What the crash left on disk: "off" is either not written at all (as if never clicked) or whole.
    consent = json.loads((root / "config" / "consent.json").read_bytes())
    clicked = TURN_OFF_STEPS.index(step) >= TURN_OFF_STEPS.index("consent_saved")
    if clicked:
        assert consent["status"] == "off" and consent["installation_id"] is None
        assert consent["pending_deletion"] == [old_id]
    else:
        assert consent["status"] == "on" and consent["installation_id"] == old_id
    staged = list((root / "config").glob(".tmp-*"))
    assert len(staged) == (1 if step == "consent_staged" else 0)  # the "off" written but never renamed
    for leftover in staged:  # as if the crash were long ago: no other process is still writing it
        os.utime(leftover, (time.time() - 3600, time.time() - 3600))
    restarted_at = int(START + 100 * 86400)

    child = Child(AFTER, str(root), collector.url, str(restarted_at))
    try:
        assert child.read()["on"] is not clicked
        on = child.read()
        new_id = on["installation_id"]
        assert new_id not in (None, old_id) and on["pending_deletion"] == []
        # The restart and the turn-on left nothing of the old installation in the queue or the counters.
        queue = root / "data" / "queue"
        assert not any(queue.iterdir())
        assert not (root / "data" / "counters.json").exists()
        stale_name, stale = min(old_reports.items())
        assert json.loads(stale)["installation_id"] == old_id
        (queue / stale_name).write_bytes(stale)  # the stale writer's report
        child.go()
        assert child.read() == {"event": "flushed", "queued": 0}
        assert child.proc.wait(60) == 0
    finally:
        stop_process(child.proc)

    # Nothing of the old installation was sent after the restart, except what the user still
    # had on (a crash before the click took effect) and erased again before turning on anew.
    late = [
        e
        for e in _history(root)
        if e["at"] >= restarted_at
        and e["endpoint"].endswith("/v1/reports")
        and e["content"]["installation_id"] == old_id
    ]
    assert late == [] if clicked else all(e["at"] < restarted_at + 7 * 86400 for e in late)
    assert not (queue / stale_name).exists()
    assert list((root / "config").glob(".tmp-*")) == []
    return Ran(step, occurrence, old_id, new_id)


def test_a_kill_9_at_every_step_of_turning_off_never_brings_erased_data_back(tmp_path: Path) -> None:
    """Every crash point against one real collector process; its database is read once it has stopped."""
    collector = start_collector(tmp_path / "collector" / "optin.duckdb", tmp_path / "collector.log")
    runs: list[Ran] = []
    try:
        for step, occurrence in _crash_points():
            runs.append(_crash_and_restart(tmp_path / f"app-{len(runs)}", collector, step, occurrence))
        # No client even tried to send a report of an erased id: the collector's tombstones were not needed.
        assert _metric(collector, 'optin_requests_rejected_total{reason="installation_deleted"}') == 0
    finally:
        assert collector.stop() == 0  # DuckDB opens the file read-only only once the collector let go
    assert [(r.step, r.occurrence) for r in runs] == _crash_points()

    with duckdb.connect(str(collector.db), read_only=True) as con:
        for ran in runs:
            old = con.execute(
                "SELECT (SELECT count(*) FROM installations WHERE installation_id = ?),"
                " (SELECT count(*) FROM reports r JOIN installations i USING (inst_key) WHERE i.installation_id = ?)",
                [ran.old_id, ran.old_id],
            ).fetchone()
            new = con.execute(
                "SELECT count(*), sum(discarded), sum(evicted) FROM reports r JOIN installations i USING (inst_key)"
                " WHERE i.installation_id = ?",
                [ran.new_id],
            ).fetchone()
            assert old == (0, 0), ran  # no row of the erased installation
            assert new is not None and new[0] >= 2, ran
            assert new[1] == 1, ran  # the stale report: discarded unsent, counted, and the count reached the collector
            assert new[2] == 0, ran  # the old installation's evictions never travel with the new one


def test_every_step_of_turning_off_is_reached_in_order(tmp_path: Path) -> None:
    """The crash points above are all the steps there are: an uninterrupted turn-off reaches each, in order."""
    script = (
        _PRELUDE
        + r"""
from optin.client import _steps
feedback.turn_on()
for _ in range(3):
    period()
seen = []
_steps.observer = seen.append
feedback.turn_off()
say(seen=seen)
"""
    )
    child = Child(script, str(tmp_path / "app"), "http://127.0.0.1:9", str(START))
    seen = child.read()["seen"]
    assert child.proc.wait(60) == 0
    removed = seen.count("report_removed")
    assert removed == 3
    assert [s for i, s in enumerate(seen) if s != "report_removed" or i == seen.index("report_removed")] == list(
        TURN_OFF_STEPS
    )
    assert not (tmp_path / "app" / "data" / "queue").exists()
