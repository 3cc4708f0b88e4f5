"""An interrupted queue write (kill -9 of a real child at random moments, repeated) never yields a
corrupt or partial report upload: after each kill, every report left in the queue is whole and valid,
and a real collector accepts every one of them."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from optin.client import ManualClock
from optin.collector import CollectorThread, Config
from optin.contract import Registry, check_report

from .conftest import START, make_feedback

KILLS = 20

WRITER = r"""
import sys
from pathlib import Path
from optin.client import AppPaths, Feedback, FeedbackOptions, ManualClock
from optin.contract import bundled_registry
clock = ManualClock(float(sys.argv[2]))
feedback = Feedback(bundled_registry("millwright"), app_version="2025.3.0", endpoint="http://127.0.0.1:9", options=FeedbackOptions(paths=AppPaths.under(Path(sys.argv[1])), clock=clock, facts=lambda: {"system.os_family": "linux"}, environ={}, period_s=3600))
feedback.turn_on()
feedback._worker.stop(0)  # this child only writes; uploading is the parent's job below
print("ready", flush=True)
n = 0
while True:  # record and persist report after report until killed
    n += 1
    for i in range(40):
        feedback.count("sketch.line", n)
        feedback.count("file.import", 1, "step")
    clock.advance(3600)
    feedback.reports.roll()
"""


def test_kill_9_during_queue_writes_never_leaves_a_corrupt_or_partial_report(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    rng = random.Random(7)
    root = tmp_path / "app"
    queue_dir = root / "data" / "queue"
    registries = {(registry.app, registry.version): registry}
    for kill in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(START + kill * 7 * 86400)], stdout=subprocess.PIPE
        )
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        # Kill once this run has persisted a random number of reports: the child is writing
        # continuously, so the kill lands at an arbitrary point of some write.
        target = len(list(queue_dir.glob("*.json"))) + rng.randint(1, 6) if queue_dir.is_dir() else rng.randint(1, 6)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not queue_dir.is_dir() or len(list(queue_dir.glob("*.json"))) < target):
            time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
        child.wait()
        feedback = make_feedback(registry, root, "http://127.0.0.1:9", clock, viewer=True)
        feedback.queue.open()  # what every start-up does: leftovers of interrupted writes are removed
        assert not [p for p in (root / "data" / "queue").iterdir() if p.name.startswith(".tmp-")]
        for path in feedback.queue.pending():
            check_report(json.loads(path.read_bytes()), registries)  # whole and valid, or it would raise
        feedback.close(0)

    db = tmp_path / "collector" / "optin.duckdb"
    with CollectorThread(Config(db=db, host="127.0.0.1", port=0, max_pending_reports=100_000)) as collector:
        feedback = make_feedback(registry, root, collector.url, ManualClock(START + KILLS * 7 * 86400), period_s=3600)
        pending = len(feedback.queue.pending())
        assert pending > KILLS
        for _ in range(pending):
            if not feedback.queue.pending():
                break
            assert feedback.flush(30)
        results = [e.result for e in feedback.history.entries()]
        assert feedback.queue.pending() == []
        assert results.count("accepted") == pending, results
        assert not [r for r in results if r.startswith("answered 4")]  # nothing corrupt or partial was ever sent
        feedback.close(0)
