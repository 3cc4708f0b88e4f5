"""The consent file is checked when read: only a file this client could have written counts. Anything else
(hand-edited, damaged, written by something else) is undecided, left as found until the user's next action
rewrites it, and can never turn feedback on."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from optin.client import AskPolicy, ManualClock, Status
from optin.contract import Registry

from .conftest import make_feedback


def written_on(registry: Registry, root: Path, clock: ManualClock) -> dict[str, Any]:
    feedback = make_feedback(registry, root, "http://127.0.0.1:9", clock)
    assert feedback.turn_on()
    assert feedback.close(5)  # the worker has stopped: nothing writes the file after the test edits it
    doc: dict[str, Any] = orjson.loads((root / "config" / "consent.json").read_bytes())
    return doc


BAD_EDITS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("on without an installation id", {"installation_id": None}, ()),
    ("on without categories", {"categories": []}, ()),
    ("an unknown field", {"enabled": True}, ()),
    ("a missing field", {}, ("dont_ask_again",)),
    ("a status in capitals", {"status": "ON"}, ()),
    ("a number as text", {"first_run": "1790000000"}, ()),
    ("a bool as a number", {"ever_sent": 1}, ()),
    ("an id that is not a random UUID", {"installation_id": str(uuid.uuid1())}, ()),
    ("an id not in canonical form", {"installation_id": "{" + str(uuid.uuid4()).upper() + "}"}, ()),
    ("categories that are not text", {"categories": [1, 2]}, ()),
    ("a prompt with extra fields", {"prompts": [{"at": 1, "answer": "yes", "by": "script"}]}, ()),
    ("an agreement recorded while off", {"status": "off", "installation_id": None, "categories": []}, ()),
]


@pytest.mark.parametrize(("what", "edit", "drop"), BAD_EDITS, ids=[b[0] for b in BAD_EDITS])
def test_a_file_the_client_could_not_have_written_is_undecided_until_the_user_acts(
    tmp_path: Path, registry: Registry, clock: ManualClock, what: str, edit: dict[str, Any], drop: tuple[str, ...]
) -> None:
    doc = written_on(registry, tmp_path, clock)
    doc.update(edit)
    for key in drop:
        del doc[key]
    path = tmp_path / "config" / "consent.json"
    bad = orjson.dumps(doc)
    path.write_bytes(bad)
    feedback = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, ask_policy=AskPolicy(grace_days=0))
    assert not feedback.is_on and feedback.state.status is Status.UNDECIDED, what
    feedback.count("toolpath.pocket")
    assert feedback.flush(1) and feedback.close(1)
    assert path.read_bytes() == bad  # left as found: no start-up rewrites it
    feedback.turn_off()  # the user's next action
    rewritten = orjson.loads(path.read_bytes())
    assert rewritten["status"] == "off" and rewritten["installation_id"] is None


def test_the_files_it_writes_are_read_back_and_a_file_from_before_the_wording_record_is_accepted(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    doc = written_on(registry, tmp_path, clock)
    again = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, ask_policy=AskPolicy(grace_days=0))
    assert again.is_on and not again.should_ask()
    again.close(0)
    del doc["wording_version"], doc["wording_hash"]  # as the previous version of the client wrote it
    (tmp_path / "config" / "consent.json").write_bytes(orjson.dumps(doc))
    older = make_feedback(registry, tmp_path, "http://127.0.0.1:9", clock, ask_policy=AskPolicy(grace_days=0))
    assert older.is_on and older.should_ask()  # on as the user chose, and shown the words once
    older.close(0)
