"""Protocols: the clock seam, and the recording surface both the live and the do-nothing recorder satisfy.

Imported for type checking and on request (`optin.client.Clock`); never on the start-up path."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class Recording(Protocol):
    """What the host app calls; both states implement it."""

    def count(self, name: str, n: int = 1, label: str | None = None) -> None: ...
    def flag(self, name: str, value: bool = True) -> None: ...
    def choose(self, name: str, value: str) -> None: ...
    def quantity(self, name: str, value: float) -> None: ...
    def duration(self, name: str, seconds: float) -> None: ...
    def timer(self, name: str) -> TimerContext: ...


class TimerContext(Protocol):
    def __enter__(self) -> None: ...
    def __exit__(self, *exc: object) -> None: ...


class TimerFn(Protocol):
    def __call__(self, name: str) -> TimerContext: ...


class CountFn(Protocol):
    def __call__(self, name: str, n: int = 1, label: str | None = None) -> None: ...


class FlagFn(Protocol):
    def __call__(self, name: str, value: bool = True) -> None: ...


class ChooseFn(Protocol):
    def __call__(self, name: str, value: str) -> None: ...


class NumberFn(Protocol):
    def __call__(self, name: str, value: float) -> None: ...


class DurationFn(Protocol):
    def __call__(self, name: str, seconds: float) -> None: ...
