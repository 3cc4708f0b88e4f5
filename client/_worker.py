"""The one background thread: woken by an Event, runs a job, sleeps until the job's next deadline.

`flush(timeout)` and `stop(timeout)` always return within their budget, whatever the job is
doing (for example waiting on a server that never answers). The thread is a daemon so it
never holds the host app open; in a forked child its owner calls `after_fork` and `start` makes a new one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Final

THREAD_NAME: Final = "optin-uploader"
ERROR_RETRY_S: Final = 60.0  # after an unexpected error in the job, try again in a minute

log = logging.getLogger(__name__)

Job = Callable[[], float | None]  # does one pass; returns seconds until the next pass, None when done


class Worker:
    def __init__(self, job: Job, name: str = THREAD_NAME) -> None:
        self._job = job
        self._name = name
        self._reset()

    def _reset(self) -> None:
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._requested = 0
        self._done = 0
        self._stopping = False
        self._pid = os.getpid()

    def after_fork(self) -> None:
        """In a forked child: the parent's thread does not exist here; `start` makes a new one."""
        self._reset()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread if it is not running (also after a fork or after it finished)."""
        with self._cond:
            if self._pid != os.getpid():
                self._reset()
            self._stopping = False
            if self._thread is not None:
                return  # running, and now told to keep running
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def flush(self, timeout_s: float) -> bool:
        """Ask for one full pass and wait for it; False if it did not finish within the budget."""
        with self._cond:
            if not self.alive:
                return True
            self._requested += 1
            target = self._requested
            self._wake.set()
            return self._cond.wait_for(lambda: self._done >= target or not self.alive, timeout=max(0.0, timeout_s))

    def stop(self, timeout_s: float) -> bool:
        """Let the thread do one last pass and end; False if it is still busy when the budget ends."""
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._requested += 1
            self._wake.set()
        if thread is None:
            return True
        thread.join(max(0.0, timeout_s))
        return not thread.is_alive()

    def _run(self) -> None:
        delay: float | None = 0.0
        while True:
            self._wake.wait(timeout=delay)
            self._wake.clear()
            with self._cond:
                generation = self._requested
            try:
                delay = self._job()
            except Exception:  # the host app must never see our failures
                log.debug("optin: background pass failed", exc_info=True)
                delay = ERROR_RETRY_S
            with self._cond:
                self._done = generation
                self._cond.notify_all()
                if self._stopping or delay is None:
                    self._thread = None
                    return
