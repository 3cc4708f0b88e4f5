"""Nothing of an erased installation is ever sent or carried into the next one.

The pieces behind tests/client/test_turn_off_crash.py, each alone: the queue purges reports of
other installation ids, the uploader sends only reports of the current one (and counts the rest),
saved counters belong to one installation, every start while off removes leftovers, and a second
instance of the app adopts an off-and-on made elsewhere without carrying its values over.
"""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

from optin.client import Feedback, ManualClock
from optin.client._queue import ReportQueue
from optin.client.testing import InMemoryTransport
from optin.contract import Registry

from .conftest import Offline, ScriptedCollector, make_feedback

DAY = 86400.0


def _report(installation_id: str) -> bytes:
    return json.dumps({"report_id": str(uuid.uuid4()), "installation_id": installation_id}).encode()


def test_the_queue_purges_reports_of_other_installations_and_with_none_kept_everything_and_its_folder(
    tmp_path: Path,
) -> None:
    queue = ReportQueue(tmp_path / "queue")
    queue.open()
    mine, old = str(uuid.uuid4()), str(uuid.uuid4())
    for installation_id in (old, mine, old):
        queue.put(str(uuid.uuid4()), _report(installation_id))
    (queue.folder / ".tmp-interrupted").write_bytes(b"{")
    removed: list[int] = []
    assert queue.purge(mine, on_removed=lambda: removed.append(1)) == 2 and len(removed) == 2
    assert [json.loads(p.read_bytes())["installation_id"] for p in queue.pending()] == [mine]
    assert sorted(p.name for p in queue.folder.iterdir()) == [queue.pending()[0].name]
    assert queue.purge(None) == 1
    assert not queue.folder.exists()


def test_evicting_a_report_of_another_installation_carries_none_of_its_counts(tmp_path: Path) -> None:
    queue = ReportQueue(tmp_path / "queue", max_reports=1)
    queue.open()
    old_id = str(uuid.uuid4())
    old = {"report_id": old_id, "installation_id": str(uuid.uuid4()), "client": {"evicted": 7}}
    queue.put(old_id, json.dumps(old).encode())
    assert queue.put(str(uuid.uuid4()), _report(str(uuid.uuid4()))) == {
        "dropped": 0,
        "evicted": 1,
        "rejected": 0,
        "discarded": 0,
    }


def test_the_uploader_never_sends_a_report_of_another_installation_and_counts_it_in_the_next_report(
    clock: ManualClock, scripted: ScriptedCollector, on_feedback: Feedback
) -> None:
    stale_id = str(uuid.uuid4())
    stale = {"report_id": stale_id, "installation_id": str(uuid.uuid4()), "client": {}}
    on_feedback.queue.put(stale_id, json.dumps(stale).encode())
    on_feedback.count("toolpath.pocket")
    clock.advance(DAY)
    assert on_feedback.flush(10)
    clock.advance(DAY)
    assert on_feedback.flush(10)
    bodies = [json.loads(gzip.decompress(s.body)) for s in scripted.seen]
    assert [b["installation_id"] for b in bodies] == [on_feedback.state.installation_id] * 2
    # Counted once, and the count reached the collector (in the first report or the next: the
    # thread may meet the stale report before or after the first period closes).
    assert sum(b["client"]["discarded"] for b in bodies) == 1
    assert on_feedback.queue.pending() == []
    on_feedback.close(0)


def test_counters_saved_by_another_installation_are_never_loaded(
    tmp_path: Path, registry: Registry, clock: ManualClock, offline: Offline
) -> None:
    feedback, transport = offline
    feedback.turn_on()
    assert feedback.close(10)
    counters = tmp_path / "data" / "counters.json"
    counters.write_bytes(json.dumps({"installation_id": str(uuid.uuid4()), "evicted": 5, "rejected": 3}).encode())
    restarted = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=transport)
    assert restarted.is_on
    assert json.loads(restarted.preview())["client"] == {"discarded": 0, "dropped": 0, "evicted": 0, "rejected": 0}
    restarted.close(0)


def test_every_start_while_off_removes_what_an_interrupted_turn_off_left(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, transport=InMemoryTransport([None]))
    feedback.turn_on()
    old_id = feedback.state.installation_id
    assert old_id is not None
    clock.advance(86400)  # the period has ended: the close tries to send its report (the history holds it)
    assert feedback.close(10)  # its thread has ended: nothing else writes below
    queue = ReportQueue(tmp_path / "data" / "queue")
    queue.put(str(uuid.uuid4()), _report(old_id))
    (tmp_path / "data" / "counters.json").write_bytes(json.dumps({"installation_id": old_id, "evicted": 2}).encode())
    consent = tmp_path / "config" / "consent.json"
    doc = json.loads(consent.read_bytes())  # as a crash right after the consent file said off leaves it
    consent.write_bytes(json.dumps({**doc, "status": "off", "installation_id": None}).encode())
    restarted = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, viewer=True)
    assert not restarted.is_on
    # No queue folder, no counters; the local history of what was sent stays the user's to view or clear.
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["history.jsonl"]
    restarted.close(0)


def test_a_second_instance_adopts_an_off_and_on_made_elsewhere_and_drops_the_erased_installations_values(
    tmp_path: Path, registry: Registry, clock: ManualClock, scripted: ScriptedCollector
) -> None:
    first = make_feedback(registry, tmp_path, scripted.url, clock)
    first.turn_on()
    old_id = first.state.installation_id
    second = make_feedback(registry, tmp_path, scripted.url, clock)  # the app started twice
    assert second.state.installation_id == old_id
    second.count("toolpath.pocket", 41)  # recorded before the user turned feedback off
    first.turn_off()
    first.turn_on()
    assert second.close(10)  # at exit it would persist its period's values: not those of the erased id
    assert first.flush(10)
    clock.advance(DAY)
    assert first.flush(10)
    reports = [json.loads(gzip.decompress(s.body)) for s in scripted.seen if s.path == "/v1/reports"]
    assert reports and all(r["installation_id"] == first.state.installation_id for r in reports)
    assert all("toolpath.pocket" not in r["metrics"] for r in reports)
    first.close(0)
