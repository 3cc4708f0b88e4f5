"""The do-nothing recorder: feedback off. Every call returns at once and nothing is kept.

It imports nothing, so a host app with feedback off pays for no more than a function call.
"""

from __future__ import annotations


class NullRecorder:
    """Feedback off: every call returns at once, nothing is kept."""

    def count(self, name: str, n: int = 1, label: str | None = None) -> None:
        pass

    def flag(self, name: str, value: bool = True) -> None:
        pass

    def choose(self, name: str, value: str) -> None:
        pass

    def quantity(self, name: str, value: float) -> None:
        pass

    def duration(self, name: str, seconds: float) -> None:
        pass
