"""The recording surface while feedback is on: each call goes to the live `Recorder`.

A `Feedback` whose user has turned feedback on (and nothing forces it off) is an instance of
`recording_class(Feedback)`, a subclass whose recording methods are `Recording`'s instead of the
do-nothing ones of `NotRecording` (`_null.py`). The class is swapped under the consent lock, after the
recorder is set when recording starts and before it is dropped when it stops, so a call that
races a transition reaches either the live recorder or the do-nothing one, never a missing one.
Imported when feedback is first turned on.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from ._null import NotRecording
    from ._protocols import Clock, TimerContext
    from ._recorder import Recorder

SESSION_STARTS: Final = "session.starts"
SESSION_LENGTH: Final = "session.length"
SESSION_USAGE: Final = "session.usage_seconds"


class Recording:
    """Feedback on: the recording methods of `NotRecording`, recorded (see their docstrings there).

    Not a base class: `recording_class` puts these methods into a `Feedback` subclass."""

    recorder: Recorder | NotRecording
    clock: Clock
    _session_started: float | None
    _session_wanted: bool

    def count(self, name: str, n: int = 1, label: str | None = None) -> None:
        self.recorder.count(name, n, label)

    def flag(self, name: str, value: bool = True) -> None:
        self.recorder.flag(name, value)

    def choose(self, name: str, value: str) -> None:
        self.recorder.choose(name, value)

    def quantity(self, name: str, value: float) -> None:
        self.recorder.quantity(name, value)

    def duration(self, name: str, seconds: float) -> None:
        self.recorder.duration(name, seconds)

    def timer(self, name: str) -> TimerContext:
        return self.recorder.timer(name)

    def start_session(self) -> None:
        self._session_wanted = True
        self._session_started = self.clock.now()
        self.count(SESSION_STARTS)

    def end_session(self) -> None:
        self._session_wanted = False
        started, self._session_started = self._session_started, None
        if started is not None:
            length = max(0.0, self.clock.now() - started)
            self.duration(SESSION_LENGTH, length)
            self.count(SESSION_USAGE, int(length))


_CLASSES: dict[type, type] = {}


def recording_class(cls: type) -> type:
    """``cls`` (a `Feedback` class, the host's subclass included) with `Recording`'s methods; made once per class.

    The methods go into the subclass's own namespace rather than a mixin base ahead of ``cls``: an object
    can change class (``__class__ = ...``) only to one whose first base is its own class.
    """
    made = _CLASSES.get(cls)
    if made is None:
        methods = {name: value for name, value in vars(Recording).items() if callable(value) and name[0] != "_"}
        namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__slots__": (), **methods}
        made = _CLASSES.setdefault(cls, type(cls.__name__, (cls,), namespace))
    return made
