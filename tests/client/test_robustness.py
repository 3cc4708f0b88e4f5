"""Findings of a review, kept fixed: another process's "off" wins, redirects are not success,
an unusable data folder or absurd values never raise into the host app."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from optin.client import Feedback, ManualClock
from optin.contract import Registry

from .conftest import ScriptedCollector, make_feedback

DAY = 86400.0


def test_off_from_another_process_stops_this_one_and_is_never_overwritten(
    tmp_path: Path, registry: Registry, clock: ManualClock, scripted: ScriptedCollector, on_feedback: Feedback
) -> None:
    on_feedback.count("toolpath.pocket", 3)
    clock.advance(DAY)
    assert on_feedback.flush(10)  # one report sent under this installation id
    on_feedback.count("toolpath.pocket", 5)
    # The user runs `optin disable` (a second process on the same files) while the app keeps running.
    cli = make_feedback(registry, tmp_path, scripted.url, clock, viewer=True)
    cli.turn_off(surface="cli")
    clock.advance(DAY)
    assert on_feedback.flush(10)
    assert not on_feedback.is_on
    paths = [s.path for s in scripted.seen]
    assert paths == ["/v1/reports", "/v1/deletions"]  # nothing more was sent under the old id; it was deleted
    consent = json.loads((tmp_path / "config" / "consent.json").read_text())
    assert consent["status"] == "off" and consent["surface"] == "cli" and consent["pending_deletion"] == []
    on_feedback.close(5)
    assert json.loads((tmp_path / "config" / "consent.json").read_text())["status"] == "off"


def test_a_redirect_is_not_success_for_reports_or_deletions(
    clock: ManualClock, scripted: ScriptedCollector, on_feedback: Feedback
) -> None:
    portal = {"Location": "http://portal.example/login"}
    scripted.script = [(302, portal)]
    clock.advance(DAY)
    assert on_feedback.flush(10)
    assert len(on_feedback.queue.pending()) == 1  # kept for a later try, not dropped and not counted as sent
    clock.advance(7 * 3600)
    assert on_feedback.flush(10)
    assert on_feedback.queue.pending() == [] and [s.path for s in scripted.seen] == ["/v1/reports", "/v1/reports"]
    scripted.script = [(302, portal), (404, {})]
    on_feedback.turn_off()
    assert on_feedback.flush(10)
    assert on_feedback.state.pending_deletion  # a redirect is no acknowledgement
    clock.advance(7 * 3600)
    assert on_feedback.flush(10)
    assert on_feedback.state.pending_deletion  # nor is a 404
    clock.advance(7 * 3600)
    assert on_feedback.flush(10)
    assert on_feedback.state.pending_deletion == ()
    assert [s.path for s in scripted.seen][-3:] == ["/v1/deletions"] * 3
    on_feedback.close(1)


def test_an_unusable_data_folder_never_raises_into_the_app(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    (tmp_path / "data").write_text("not a folder")
    app = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock)
    app.turn_on()
    app.count("toolpath.pocket")
    assert app.flush(1) and app.close(1)
    again = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock)  # the next start too
    again.count("toolpath.pocket")
    again.close(1)


def test_absurd_values_are_dropped_and_the_report_still_checks(
    registry: Registry, clock: ManualClock, scripted: ScriptedCollector, on_feedback: Feedback
) -> None:
    on_feedback.quantity("model.part_count", 10**400)  # a huge int lands in the last bucket
    on_feedback.duration("simulation.duration", 10**400)
    on_feedback.count("sketch.line", 2**40)  # over the declared maximum: capped, one value dropped
    assert json.loads(on_feedback.preview())["metrics"]["model.part_count"] == 10000
    clock.advance(DAY)
    assert on_feedback.flush(10)
    sent = json.loads(gzip.decompress(scripted.seen[0].body))
    assert sent["metrics"]["sketch.line"] == registry.metrics["sketch.line"].max
    assert sent["client"]["dropped"] == 1
    on_feedback.close(1)
