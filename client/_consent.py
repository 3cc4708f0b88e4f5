"""Consent: one persisted state per user and application. Undecided means off.

The state changes only through `ConsentStore` methods that the user-action API calls
(`Feedback.turn_on` / `turn_off` / `answer_prompt`). Nothing read from the environment,
a configuration file or a constructor argument can produce the state "on".
"""

from __future__ import annotations

from pathlib import Path

import orjson

from ._files import private_dir, write_atomic
from ._light import NamedTuple, StrEnum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
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


# Values here are `_light` classes (`StrEnum`, `NamedTuple`): they are defined at every app start.


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
    wording_version: int = 0  # the client's dialog sentences the user read (`WORDING_VERSION`)
    wording_hash: str = ""  # hash of everything the user read when agreeing (`Wording.digest`)
    installation_id: str | None = None  # random UUIDv4, only while on; new after every off
    ever_sent: bool = False  # whether the current installation id has reached the collector
    pending_deletion: tuple[str, ...] = ()  # old installation ids whose deletion is not yet acknowledged
    prompts: tuple[Prompt, ...] = ()
    dont_ask_again: bool = False
    # On, but an administrator turned feedback off since: nothing is sent, even once the administrative
    # off is lifted, until the user has been shown the decision again (ask dialog) or changed it.
    admin_paused: bool = False

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
            "wording_version": self.wording_version,
            "wording_hash": self.wording_hash,
            "installation_id": self.installation_id,
            "ever_sent": self.ever_sent,
            "pending_deletion": list(self.pending_deletion),
            "prompts": [{"at": p.at, "answer": p.answer.value} for p in self.prompts],
            "dont_ask_again": self.dont_ask_again,
            "admin_paused": self.admin_paused,
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> ConsentState:
        """Parse a consent file; ValueError unless it is one this client could have written."""
        doc = orjson.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        unknown = set(doc) - _FIELDS
        missing = _REQUIRED - set(doc)
        if unknown or missing:
            raise ValueError(f"unknown fields {sorted(unknown)}, missing fields {sorted(missing)}")
        prompts = _list(doc["prompts"], dict)
        for prompt in prompts:
            if set(prompt) != {"at", "answer"}:
                raise ValueError("a prompt must have exactly 'at' and 'answer'")
        state = cls(
            status=Status(_typed(doc["status"], str)),
            first_run=_typed(doc["first_run"], int),
            changed_at=_typed(doc["changed_at"], int, optional=True),
            surface=_typed(doc["surface"], str, optional=True),
            categories=tuple(_list(doc["categories"], str)),
            categories_hash=_typed(doc["categories_hash"], str),
            wording_version=_typed(doc.get("wording_version", 0), int),
            wording_hash=_typed(doc.get("wording_hash", ""), str),
            installation_id=_uuid4(doc["installation_id"], optional=True),
            ever_sent=_typed(doc["ever_sent"], bool),
            pending_deletion=tuple(_uuid4(i) for i in _list(doc["pending_deletion"], str)),
            prompts=tuple(Prompt(_typed(p["at"], int), Answer(_typed(p["answer"], str))) for p in prompts),
            dont_ask_again=_typed(doc["dont_ask_again"], bool),
            admin_paused=_typed(doc.get("admin_paused", False), bool),
        )
        if state.is_on != (state.installation_id is not None) or state.is_on != bool(state.categories):
            raise ValueError("on exactly when there is an installation id and agreed categories")
        if not state.is_on and (state.ever_sent or state.categories_hash or state.wording_hash or state.admin_paused):
            raise ValueError("an agreement recorded while not on")
        return state


# Fields written by every version of this client; the wording record came later (missing = agreed before it).
_REQUIRED = frozenset(ConsentState._fields) - {"wording_version", "wording_hash", "admin_paused"}
_FIELDS = frozenset(ConsentState._fields)


def _typed(value: Any, kind: type, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if type(value) is not kind:  # exact: a bool is not an int here, nor an int a bool
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _list(value: Any, kind: type) -> list[Any]:
    if type(value) is not list:
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return [_typed(item, kind) for item in value]


def _uuid4(value: Any, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    text = _typed(value, str)
    import uuid  # only when a file names an id: `import uuid` (and `platform`) stays off the start-up path

    if str(uuid.UUID(text)) != text or uuid.UUID(text).version != 4:
        raise ValueError("not a random (version 4) UUID in canonical form")
    return str(text)


class ConsentStore:
    """Reads and writes the consent file (atomic, 0600). An unreadable file means undecided (off)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.invalid = False  # the file on disk was not one this client writes; the next save replaces it

    def read(self) -> ConsentState | None:
        """The state on disk, or None when there is no valid file; never writes."""
        try:
            return ConsentState.from_json(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            self.invalid = True
            return None

    def load(self, now: int, save: bool = True) -> ConsentState:
        """The state on disk; a new undecided state on first run (saved, unless ``save`` is false: a viewer).

        A file this client could not have written (damaged, edited, from elsewhere) counts as
        undecided and is left as it is until the user's next action rewrites it (`invalid`).
        """
        state = self.read()
        if state is None:
            state = ConsentState(first_run=now)
            if save and not self.invalid:
                self.save(state)
        return state

    def save(self, state: ConsentState, before_replace: Callable[[], None] | None = None) -> None:
        private_dir(self.path.parent)
        write_atomic(self.path, state.to_json(), before_replace)
        self.invalid = False

    def turn_on(
        self,
        state: ConsentState,
        now: int,
        surface: str,
        categories: tuple[str, ...],
        categories_hash: str,
        wording: tuple[int, str] = (0, ""),
    ) -> ConsentState:
        """``wording``: the version of the client's sentences and the hash of all the words the user read."""
        new = state._replace(
            status=Status.ON,
            changed_at=now,
            surface=surface,
            categories=categories,
            categories_hash=categories_hash,
            wording_version=wording[0],
            wording_hash=wording[1],
            admin_paused=False,
            installation_id=state.installation_id if state.is_on else _new_installation_id(),
            ever_sent=state.ever_sent if state.is_on else False,
        )
        self.save(new)
        return new

    def turn_off(
        self, state: ConsentState, now: int, surface: str, before_replace: Callable[[], None] | None = None
    ) -> ConsentState:
        new = self.off_state(state, now, surface)
        self.save(new, before_replace)
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
            wording_version=0,
            wording_hash="",
            admin_paused=False,
            installation_id=None,
            ever_sent=False,
            pending_deletion=pending,
        )

    def pause(self, state: ConsentState) -> ConsentState:
        """An administrative off met the user's "on": remember it, so that lifting it does not resume unasked."""
        new = state._replace(admin_paused=True)
        self.save(new)
        return new

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


def _new_installation_id() -> str:
    """A random UUIDv4, never derived from the hardware."""
    import uuid

    return str(uuid.uuid4())
