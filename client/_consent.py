"""Consent: one persisted state per user and application. Undecided means off.

The state changes only through `ConsentStore` methods that the user-action API calls
(`Feedback.turn_on` / `turn_off` / `answer_prompt`). Nothing read from the environment,
a configuration file or a constructor argument can produce the state "on".
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from pathlib import Path

import orjson

from ._files import private_dir, write_atomic
from ._light import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Status(StrEnum):
    UNDECIDED = "undecided"
    ON = "on"
    OFF = "off"


class Answer(StrEnum):
    """What the user answered when the app asked."""

    YES = "yes"
    NO = "no"
    NEVER = "never"  # "don't ask again"
    DISMISSED = "dismissed"  # closed the dialog without choosing: counts as a decline


# Values here are `NamedTuple` classes (see _light.py): they are defined at every app start.


class Prompt(NamedTuple):
    at: int
    answer: Answer


class ConsentState(NamedTuple):
    status: Status = Status.UNDECIDED
    first_run: int = 0
    changed_at: int | None = None
    surface: str | None = None  # where the user changed it: "help_menu", "prompt", "cli"
    categories: tuple[str, ...] = ()  # what the user agreed to
    categories_hash: str = ""  # hash of those categories' names and descriptions when agreed
    installation_id: str | None = None  # random UUIDv4, only while on; new after every off
    ever_sent: bool = False  # whether the current installation id has reached the collector
    pending_deletion: tuple[str, ...] = ()  # old installation ids whose deletion is not yet acknowledged
    prompts: tuple[Prompt, ...] = ()
    dont_ask_again: bool = False

    @property
    def is_on(self) -> bool:
        return self.status is Status.ON

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "status": self.status.value,
            "first_run": self.first_run,
            "changed_at": self.changed_at,
            "surface": self.surface,
            "categories": list(self.categories),
            "categories_hash": self.categories_hash,
            "installation_id": self.installation_id,
            "ever_sent": self.ever_sent,
            "pending_deletion": list(self.pending_deletion),
            "prompts": [{"at": p.at, "answer": p.answer.value} for p in self.prompts],
            "dont_ask_again": self.dont_ask_again,
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> ConsentState:
        doc = orjson.loads(data)
        return cls(
            status=Status(doc["status"]),
            first_run=int(doc["first_run"]),
            changed_at=doc.get("changed_at"),
            surface=doc.get("surface"),
            categories=tuple(doc.get("categories", ())),
            categories_hash=str(doc.get("categories_hash", "")),
            installation_id=doc.get("installation_id"),
            ever_sent=bool(doc.get("ever_sent", False)),
            pending_deletion=tuple(doc.get("pending_deletion", ())),
            prompts=tuple(Prompt(int(p["at"]), Answer(p["answer"])) for p in doc.get("prompts", ())),
            dont_ask_again=bool(doc.get("dont_ask_again", False)),
        )


class ConsentStore:
    """Reads and writes the consent file (atomic, 0600). An unreadable file means undecided (off)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> ConsentState | None:
        """The state on disk, or None when there is no readable file; never writes."""
        try:
            return ConsentState.from_json(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None

    def load(self, now: int) -> ConsentState:
        try:
            return ConsentState.from_json(self.path.read_bytes())
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError):
            pass  # a damaged file never turns feedback on; it is rewritten as undecided
        state = ConsentState(first_run=now)
        self.save(state)
        return state

    def save(self, state: ConsentState) -> None:
        private_dir(self.path.parent)
        write_atomic(self.path, state.to_json())

    def turn_on(
        self, state: ConsentState, now: int, surface: str, categories: tuple[str, ...], categories_hash: str
    ) -> ConsentState:
        new = state._replace(
            status=Status.ON,
            changed_at=now,
            surface=surface,
            categories=categories,
            categories_hash=categories_hash,
            installation_id=state.installation_id if state.is_on else str(uuid.uuid4()),
            ever_sent=state.ever_sent if state.is_on else False,
        )
        self.save(new)
        return new

    def turn_off(self, state: ConsentState, now: int, surface: str) -> ConsentState:
        new = self.off_state(state, now, surface)
        self.save(new)
        return new

    @staticmethod
    def off_state(state: ConsentState, now: int, surface: str) -> ConsentState:
        """Off: no categories, no installation id; the old id is queued for deletion if it may have sent."""
        pending = state.pending_deletion
        if state.installation_id and state.ever_sent:
            pending = pending + (state.installation_id,)
        return state._replace(
            status=Status.OFF,
            changed_at=now,
            surface=surface,
            categories=(),
            categories_hash="",
            installation_id=None,
            ever_sent=False,
            pending_deletion=pending,
        )

    def mark_sent(self, state: ConsentState) -> ConsentState:
        if state.ever_sent:
            return state
        new = state._replace(ever_sent=True)
        self.save(new)
        return new

    def deletion_done(self, state: ConsentState, installation_id: str) -> ConsentState:
        new = state._replace(pending_deletion=tuple(i for i in state.pending_deletion if i != installation_id))
        self.save(new)
        return new

    def record_prompt(self, state: ConsentState, now: int, answer: Answer) -> ConsentState:
        new = state._replace(
            prompts=state.prompts + (Prompt(now, answer),),
            dont_ask_again=state.dont_ask_again or answer is Answer.NEVER,
        )
        self.save(new)
        return new
