"""Clocks: the client reads time through one (see `Clock` in _protocols.py), so tests and simulations can move it."""

from __future__ import annotations

import time


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to; thread-safe. For tests and simulated fleets."""

    def __init__(self, start: float) -> None:
        import threading  # tests and simulations only: the start-up path imports no threading

        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when
