"""A progress line on stderr for questions that take a while (large databases and snapshots)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, TextIO

SHOW_AFTER_S: Final = 1.0  # quick questions print nothing
POLL_S: Final = 0.25


class Progress:
    """While a question runs, a daemon thread shows how far DuckDB says it is."""

    def __init__(
        self, out: TextIO, percent: Callable[[], float | None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.out = out
        self.percent = percent
        self.clock = clock
        self.tty = out.isatty()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False

    def run(self, label: str, work: Callable[[], object]) -> None:
        """Run ``work`` with a progress line for ``label`` shown if it takes longer than SHOW_AFTER_S."""
        self._done.clear()
        self._shown = False
        started = self.clock()
        self._thread = threading.Thread(
            target=self._watch, args=(label, started), name="optin-analysis-progress", daemon=True
        )
        self._thread.start()
        try:
            work()
        finally:
            self._done.set()
            self._thread.join()
            if self._shown:
                end = "\r" if self.tty else ""
                self.out.write(
                    f"{end}{label}: done in {self.clock() - started:.1f} s\033[K\n"
                    if self.tty
                    else f"{label}: done in {self.clock() - started:.1f} s\n"
                )
                self.out.flush()

    def _watch(self, label: str, started: float) -> None:
        while not self._done.wait(POLL_S):
            if self.clock() - started < SHOW_AFTER_S:
                continue
            try:
                percent = self.percent()
            except Exception:  # a source that cannot tell: keep quiet rather than fail the question
                percent = None
            if self.tty:
                done = f"{percent:.0f}%" if percent is not None else "running"
                self.out.write(f"\r{label}: {done}\033[K")
                self.out.flush()
            elif not self._shown:
                self.out.write(f"{label}: running...\n")
                self.out.flush()
            self._shown = True
