"""`Feedback`: the object a host application holds. Consent decides which class it is.

While feedback is off (the default) a `Feedback`'s recording methods are those of `NotRecording`
(`_null.py`): each is one method call that returns at once, and no thread, socket or file other
than the consent file exists. The user's explicit action (`turn_on`, from the Help menu or the ask
dialog) gives it the live `Recorder`, makes it an instance of its recording class (`_recording.py`)
and starts the one background thread. `turn_off` makes it a do-nothing `Feedback` again before
anything else, purges everything, forgets the installation id and asks the collector to delete what
it had (`_transitions.py`). A host calls ``feedback.count(...)`` each time; a method kept for later
(``record = feedback.count``) is the method of the state it was taken in.

This module is the façade: construction, what the process does when the consent state changes (the
hooks of its base `Consent`, `_transitions.py`), sessions and lifecycle. The stages behind it are
`Reports` (record → enqueue, `_reports.py`) and `Sending` (enqueue → upload, `_sending.py`).
Everything the "on" state needs is imported when first needed, so constructing a `Feedback` that is
off costs almost nothing: not even `threading` is imported.
"""

from __future__ import annotations

import os
import sys
import time
import weakref

from . import _log
from ._clock import SystemClock
from ._housekeeping import purge, remove_stale, sweep
from ._log import debug
from ._null import NotRecording
from ._options import FeedbackOptions
from ._paths import AppPaths
from ._transitions import Consent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from optin.contract import Category, Registry, RegistryFile

    from ._history import History
    from ._queue import ReportQueue
    from ._recorder import Recorder
    from ._reports import Reports
    from ._sending import Sending
    from ._worker import Worker


class Feedback(NotRecording, Consent):
    """The host application's handle on the Customer Feedback Program.

    Construction never turns feedback on, whatever the arguments, files or environment.
    Recording calls never raise and never block on I/O.
    """

    # Fields in slots, not a __dict__: the recording methods are found on the class in one step in either
    # state, and changing class (turning on or off) leaves the fields where they are.
    __slots__ = (
        "__weakref__",
        "_closed",
        "_history",
        "_off_class",
        "_options",
        "_queue",
        "_reports",
        "_sending",
        "_session_started",
        "_session_wanted",
        "_viewer",
        "_worker",
        "app_version",
        "clock",
        "endpoint",
        "paths",
        "recorder",
    )

    def __init__(
        self,
        registry: Registry | RegistryFile,
        *,
        app_version: str,
        endpoint: str,
        options: FeedbackOptions | None = None,
    ) -> None:
        """``options``: folders, wording, administrative variable, clock... (`FeedbackOptions`; defaults suit an
        installed application). With ``viewer`` (the CLI) no thread runs unless flushed and nothing is recorded."""
        opts = options or FeedbackOptions()
        self.app_version = app_version
        self.endpoint = endpoint
        self.paths = opts.paths or AppPaths.for_app(registry.app)
        self.clock = opts.clock or SystemClock()
        self._viewer = opts.viewer
        self._options = opts
        self._off_class = type(self)  # the class while not recording; `_recording.recording_class` while recording
        self.recorder: Recorder | NotRecording = NotRecording()
        self._reports: Reports | None = None  # the stages, made when first needed (feedback on, a preview)
        self._sending: Sending | None = None
        self._queue = opts.queue
        self._history: History | None = None
        self._worker: Worker | None = None
        self._session_started: float | None = None
        self._session_wanted = False  # the host's session is open (start_session) whether or not feedback is on
        self._closed = False
        Consent.__init__(self, registry, self.paths, opts)  # the consent state and any administrative off
        remove_stale(self.paths)
        if not self._state.is_on:
            self._sweep(None)  # every start while off: what a crash left of an earlier installation goes
        self._pause_if_forced_off()
        _LIVE.add(self)
        self._apply()

    # --- parts created when first needed ------------------------------------------------------

    @property
    def queue(self) -> ReportQueue:
        if self._queue is None:
            from ._queue import ReportQueue

            self._queue = ReportQueue(self.paths.queue_dir)
        return self._queue

    @property
    def history(self) -> History:
        if self._history is None:
            from ._history import History

            self._history = History(self.paths.history_file)
        return self._history

    @property
    def reports(self) -> Reports:
        """The report-building stage (record → enqueue)."""
        if self._reports is None:
            from ._reports import Reports

            self._reports = Reports(self, self._options.facts, self._options.period_s)
        return self._reports

    @property
    def sending(self) -> Sending:
        """The upload stage (enqueue → upload), run by the worker thread."""
        if self._sending is None:
            from ._sending import Sending

            opts = self._options
            self._sending = Sending(self, opts.transport, opts.ca_bundle, opts.timeout_s)
        return self._sending

    def _worker_(self) -> Worker:
        if self._worker is None:
            from ._worker import Worker

            self._worker = Worker(self.sending.run_pass)
        return self._worker

    def check(self) -> list[str]:
        """What would keep feedback from working once the user turns it on, in sentences for the embedding
        developer (its tests, its start-up log); empty when all is well. Reads the registry; creates nothing."""
        from ._diagnose import check

        return check(self)

    def categories(self) -> list[Category]:
        return list(self.registry.categories.values())

    # --- what the process does when the consent state changes (`Consent`'s hooks) ------------------

    @property
    def _is_recording(self) -> bool:
        """Whether calls are recorded now: feedback is on and the registry and data folder are usable."""
        return not isinstance(self.recorder, NotRecording)

    def _apply(self) -> None:
        if self.is_on and not self._is_recording:
            from ._diagnose import usable_registry, version_declared

            registry = usable_registry(self)
            if registry is not None and version_declared(self, registry):
                try:
                    self.queue.open()
                except OSError as error:
                    reason = _log.os_reason(error)
                    message = f"the data folder of '{self.app}' cannot be written ({reason}): nothing is recorded"
                    self.problems.report(_log.DATA_FOLDER, message)
                else:
                    from ._recorder import Recorder
                    from ._recording import recording_class

                    self.recorder = Recorder(registry)  # first the recorder, then the methods that reach it
                    self.__class__ = recording_class(self._off_class)
                    self.reports.resume()
        if not self.is_on:
            self._idle()
        if not self._viewer and (self._state.pending_deletion or self._is_recording):
            # While off only to send the deletion request(s), then it ends; also under an administrative
            # off, which stops sending usage, not the erasure the user asked for.
            self._worker_().start()
        if self._session_wanted and self._session_started is None:
            self.start_session()  # turned on while the host's session is open: it counts from now

    def _idle(self) -> None:
        if type(self) is not self._off_class:  # (assigning even the same class would cost every later call)
            self.__class__ = self._off_class  # first the methods (they do nothing now), then the recorder they reached
            self.recorder = NotRecording()
            self._session_started = None

    def _stop_recording(self, keep: str | None = None) -> None:
        self._idle()
        if self._reports is not None:
            self._reports.forget()
        purge(self.paths, self.queue, self.history, keep)

    def _sweep(self, keep: str | None) -> None:
        sweep(self.paths, self.queue if self.paths.queue_dir.is_dir() else None, keep)

    # --- sessions (recorded by the recording class's own `start_session`/`end_session`) -----------

    def start_session(self) -> None:
        """The host's session begins. While feedback is off, it is counted from when the user turns it on."""
        self._session_wanted = True

    def end_session(self) -> None:
        """The host's session ends: its length and usage time are recorded (feedback on)."""
        self._session_wanted = False

    def preview(self) -> bytes:
        """The exact JSON the next report will contain if the period ended now (indented)."""
        return self.reports.preview()

    # --- lifecycle -----------------------------------------------------------------------------

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Run one pass now (keep what was recorded, send what is due); wait at most ``timeout_s``."""
        if not (self.is_on or self._state.pending_deletion):
            return True
        worker = self._worker_()
        worker.start()
        return worker.flush(timeout_s)

    def close(self, timeout_s: float = 2.0) -> bool:
        """Clean exit: keep the period's values on disk, send what is due within the budget, stop.

        The period's report is built at the first start or close after the period ends, however often
        the app started in it. Returns within ``timeout_s`` even if the network hangs; what is unsent
        stays on disk. Idempotent: a host with several exit paths (window close, ``atexit``) may call it
        from each; a later call only waits (within its own budget) for the thread the first one stopped.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self.lock:
            first, self._closed = not self._closed, True
        if first:
            try:
                self.end_session()
                if not self._viewer and self._is_recording:  # (off: nothing to keep, and nothing to import)
                    self.reports.roll(final=True)
            except Exception:
                debug("optin: could not persist the period's values")
        if self._worker is None:
            return True
        return self._worker.stop(deadline - time.monotonic())

    def _after_fork_in_child(self) -> None:
        """The parent's values are the parent's: the child records from empty (its share joins the same period
        on disk). Its thread is re-created by the next flush() or close() in this process."""
        Consent._after_fork_in_child(self)
        if self._worker is not None:
            self._worker.after_fork()
        if self._is_recording:
            from ._recorder import Recorder

            self.recorder = Recorder(self.registry)


_LIVE: weakref.WeakSet[Feedback] = weakref.WeakSet()


def _after_fork() -> None:
    """The one at-fork hook of the client: the period lock, and every live `Feedback` (and its worker), in the child."""
    period = sys.modules.get(f"{__package__}._period")
    if period is not None:
        period.after_fork()
    for feedback in list(_LIVE):
        feedback._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
