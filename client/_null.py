"""The recording surface while feedback is off: every call returns at once and nothing is kept.

`Feedback` is a `NotRecording` while feedback is off, so ``feedback.count(...)`` is one method
call that does nothing: no state check, no lookup of a recorder. When recording starts, the
object's class becomes its recording subclass (`_recording.py`), whose methods hand each call to
the live `Recorder`; when it stops, the class is this one again. A `NotRecording()` is also the
``recorder`` a `Feedback` holds while off, so a call that raced a turn-off lands nowhere.

It imports nothing, and `timer` hands out one shared do-nothing context manager.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._protocols import TimerContext


class NullTimer:
    """``with feedback.timer(name):`` while off: enters and exits, measures nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


NULL_TIMER = NullTimer()


class NotRecording:
    """The recording API (see the method docstrings); while feedback is off, each call does nothing."""

    __slots__ = ()

    def count(self, name: str, n: int = 1, label: str | None = None) -> None:
        """Count ``n`` uses of the counter ``name`` (of its ``label``, for a labelled counter)."""

    def flag(self, name: str, value: bool = True) -> None:
        """Set the boolean ``name`` (true once set in the period)."""

    def choose(self, name: str, value: str) -> None:
        """Set the enumerated ``name`` to ``value``, one of its declared values."""

    def quantity(self, name: str, value: float) -> None:
        """Record the quantity ``name`` (snapped to its declared buckets; the largest in the period is kept)."""

    def duration(self, name: str, seconds: float) -> None:
        """Add one duration of ``seconds`` to the histogram ``name``."""

    def timer(self, name: str) -> TimerContext:
        """``with feedback.timer(name):`` records the block's duration into ``name`` (off: one shared no-op)."""
        return NULL_TIMER
