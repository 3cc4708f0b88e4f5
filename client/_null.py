"""The do-nothing recorder: feedback off. Every call returns at once and nothing is kept.

It imports nothing, so a host app with feedback off pays for no more than a function call: its
methods are plain functions (no bound-method object is made per call), and `timer` hands out one
shared do-nothing context manager.
"""

from __future__ import annotations


def _count(name: str, n: int = 1, label: str | None = None) -> None:
    pass


def _flag(name: str, value: bool = True) -> None:
    pass


def _choose(name: str, value: str) -> None:
    pass


def _quantity(name: str, value: float) -> None:
    pass


def _duration(name: str, seconds: float) -> None:
    pass


class NullTimer:
    """``with feedback.timer(name):`` while off: enters and exits, measures nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


NULL_TIMER = NullTimer()


def _timer(name: str) -> NullTimer:
    return NULL_TIMER


class NullRecorder:
    """Feedback off: every call returns at once, nothing is kept."""

    count = staticmethod(_count)
    flag = staticmethod(_flag)
    choose = staticmethod(_choose)
    quantity = staticmethod(_quantity)
    duration = staticmethod(_duration)
    timer = staticmethod(_timer)
