"""`Feedback`: the object a host application holds. Consent decides which state it is in.

While feedback is off (the default) its recording methods are those of `NullRecorder`: they
return at once, and no thread, socket or file other than the consent file exists. The user's
explicit action (`turn_on`, from the Help menu or the ask dialog) switches it to the live
`Recorder` and starts the one background thread. `turn_off` purges everything, forgets the
installation id and asks the collector to delete what it had; a crash at any point of it
leaves nothing of the old installation that could be sent (see `turn_off`).

This module is the façade (consent, recording, lifecycle); the stages behind it are
`Reports` (record → enqueue, `_reports.py`) and `Sending` (enqueue → upload, `_sending.py`).
Everything the "on" state needs is imported when first needed, so constructing a `Feedback`
that is off costs almost nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref

from . import _log
from ._admin import EnterprisePolicy
from ._clock import SystemClock
from ._consent import Answer, ConsentState, ConsentStore
from ._housekeeping import purge, remove_stale, sweep
from ._log import debug
from ._null import NullRecorder
from ._options import FeedbackOptions
from ._paths import AppPaths
from ._policy import AdminOff, AskPolicy, admin_off
from ._wording import WORDING_VERSION, Wording

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from optin.contract import Category, Registry, RegistryFile

    from ._history import History
    from ._protocols import ChooseFn, CountFn, DurationFn, FlagFn, NumberFn, TimerFn
    from ._queue import ReportQueue
    from ._recorder import Recorder
    from ._reports import Reports
    from ._sending import Sending
    from ._worker import Worker

SESSION_STARTS: Final = "session.starts"
SESSION_LENGTH: Final = "session.length"
SESSION_USAGE: Final = "session.usage_seconds"


class Feedback:
    """The host application's handle on the Customer Feedback Program.

    Construction never turns feedback on, whatever the arguments, files or environment.
    Recording calls never raise and never block on I/O.
    """

    # The recording surface: bound to the current state's recorder (see `_apply`).
    count: CountFn
    flag: FlagFn
    choose: ChooseFn
    quantity: NumberFn
    duration: DurationFn
    timer: TimerFn

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
        self._registry_source = registry
        self._viewer = opts.viewer
        self.app = registry.app
        self.app_version = app_version
        self.endpoint = endpoint
        self.paths = opts.paths or AppPaths.for_app(self.app)
        self.clock = opts.clock or SystemClock()
        self.ask_policy = opts.ask_policy or AskPolicy()
        self.wording = opts.wording or Wording()
        self.lock = threading.RLock()  # consent transitions, report rolls, consent-file writes
        self.problems = _log.Problems()  # what the embedding developer must fix, counted (see `check`)
        self._options = opts
        self._reports: Reports | None = None  # the stages, made when first needed (feedback on, a preview)
        self._sending: Sending | None = None
        self._queue = opts.queue
        self._history: History | None = None
        self._worker: Worker | None = None
        self._store = ConsentStore(self.paths.consent_file)
        enterprise = opts.enterprise or EnterprisePolicy.for_app(self.app)
        self._admin = admin_off(self.app, self.paths.policy_file, opts.environ, enterprise, opts.admin_variable)
        self._session_started: float | None = None
        self._session_wanted = False  # the host's session is open (start_session) whether or not feedback is on
        self._closed = False
        self.recorder: Recorder | NullRecorder = NullRecorder()
        try:
            self._state = self._store.load(self.now(), save=not self._viewer)  # looking creates nothing
        except OSError:
            debug("optin: consent file unavailable; feedback stays off")
            self._state = ConsentState(first_run=self.now())
        remove_stale(self.paths)
        if not self._state.is_on:
            self._sweep(None)  # every start while off: what a crash left of an earlier installation goes
        if self._admin is not None and self._state.is_on and not self._state.admin_paused:
            try:
                self._state = self._store.pause(self._state)
            except OSError:
                debug("optin: could not record the administrative off")  # is_on is False all the same
        _LIVE.add(self)
        self._apply()

    # --- parts created when first needed ------------------------------------------------------

    @property
    def registry(self) -> Registry:
        source = self._registry_source
        return source.load() if hasattr(source, "load") else source

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

    # --- consent -------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock.now())

    @property
    def state(self) -> ConsentState:
        return self._state

    @property
    def is_on(self) -> bool:
        """Recording and sending: the user's "on", no administrative off, and none since the user last decided."""
        return self._state.is_on and self._admin is None and not self._state.admin_paused

    @property
    def paused(self) -> bool:
        """The user's choice is on, but an administrative off holds or held since: nothing is sent until the
        user has seen the decision again (`should_ask` is true) or changed it."""
        return self._state.is_on and not self.is_on

    @property
    def forced_off(self) -> AdminOff | None:
        """Why an administrator has forced feedback off, or None."""
        return self._admin

    def check(self) -> list[str]:
        """What would keep feedback from working once the user turns it on, in sentences for the embedding
        developer (its tests, its start-up log); empty when all is well. Reads the registry; creates nothing."""
        from ._diagnose import check

        return check(self)

    def _apply(self) -> None:
        """Make the recording surface and thread match the consent state."""
        if self.is_on and isinstance(self.recorder, NullRecorder):
            from ._diagnose import usable_registry, version_declared

            registry = usable_registry(self)
            if registry is not None and version_declared(self, registry):
                from ._recorder import Recorder

                try:
                    self.queue.open()
                except OSError as error:
                    reason = _log.os_reason(error)
                    message = f"the data folder of '{self.app}' cannot be written ({reason}): nothing is recorded"
                    self.problems.report(_log.DATA_FOLDER, message)
                else:
                    self.recorder = Recorder(registry)
                    self.reports.resume()
        if not self.is_on:
            self.recorder = NullRecorder()
        if not self._viewer and (self._state.pending_deletion or not isinstance(self.recorder, NullRecorder)):
            # While off only to send the deletion request(s), then it ends; also under an administrative
            # off, which stops sending usage, not the erasure the user asked for.
            self._worker_().start()
        self._bind(self.recorder)
        if self._session_wanted and self._session_started is None:
            self.start_session()  # turned on while the host's session is open: it counts from now

    def _bind(self, recorder: Recorder | NullRecorder) -> None:
        self.count, self.flag, self.choose = recorder.count, recorder.flag, recorder.choose
        self.quantity, self.duration, self.timer = recorder.quantity, recorder.duration, recorder.timer

    def sync_consent(self) -> None:
        """Adopt a change another process made to the consent file (the `optin` CLI, a second
        instance of the app), so a newer "off" is never overwritten by this process's older "on"."""
        with self.lock:
            try:
                on_disk = self._store.read()
            except OSError:
                return
            if on_disk is None or on_disk == self._state:
                return
            was_on, old_id = self.is_on, self._state.installation_id
            self._state = on_disk
            # Turned off elsewhere (perhaps on again since, under a new id): stop here too, as
            # turn_off does; values recorded here so far belong to the erased installation.
            if was_on and (not self.is_on or on_disk.installation_id != old_id):
                self._stop_recording(on_disk.installation_id if on_disk.is_on else None)
            self._apply()

    def _stop_recording(self, keep: str | None = None) -> None:
        """Drop the period's values and counters; purge what is kept on disk of every id but ``keep``."""
        self.recorder = NullRecorder()
        if self._reports is not None:
            self._reports.forget()
        self._session_started = None
        purge(self.paths, self.queue, self.history, keep)

    def _sweep(self, keep: str | None) -> None:
        sweep(self.paths, self.queue if self.paths.queue_dir.is_dir() else None, keep)

    def turn_on(self, surface: str = "help_menu", categories: tuple[str, ...] | None = None) -> bool:
        """The user's explicit action, after being shown ``categories`` (default: all) and the wording.

        Returns False (and changes nothing) when forced off, when no known category was chosen, or unsaved.
        """
        if self._admin is not None:
            return False
        from ._diagnose import usable_registry

        registry = usable_registry(self)
        if registry is None:
            return False
        known = registry.categories
        chosen = tuple(sorted(known if categories is None else set(categories) & set(known)))
        if not chosen:
            return False  # agreeing to nothing is not turning it on
        with self.lock:
            self.sync_consent()
            wording = (WORDING_VERSION, self.wording.digest(registry, chosen))
            try:
                self._state = self._store.turn_on(
                    self._state, self.now(), surface, chosen, registry.categories_hash(chosen), wording
                )
            except OSError as error:
                reason = _log.os_reason(error)
                message = f"the consent file of '{self.app}' cannot be written ({reason}): feedback stays off"
                self.problems.report(_log.CONFIG_FOLDER, message)
                return False
            self._sweep(self._state.installation_id)  # nothing of an earlier installation survives into this one
            self._apply()
        return True

    def turn_off(self, surface: str = "help_menu") -> None:
        """Stop at once: purge queue and values, forget the id, request deletion of what was sent.

        Ordered for crashes (steps in `_steps.TURN_OFF_STEPS`): values in memory go first; then
        the consent file says off (one atomic rename; before it, it is as if the user had not
        clicked); from then on no report of the old id can be sent, because only reports of the
        current id are ever sent and while off there is none. The queue, the open period and the
        counters are purged last; what a crash leaves of them is removed at the next start (or turn-on).
        """
        from ._steps import reached

        with self.lock:
            self.sync_consent()
            reached("begin")
            self.recorder = NullRecorder()
            try:
                self._state = self._store.turn_off(
                    self._state, self.now(), surface, before_replace=lambda: reached("consent_staged")
                )
            except OSError:  # off in memory at least; the file still says on only if it cannot be written
                debug("optin: could not save consent")
                self._state = ConsentStore.off_state(self._state, self.now(), surface)
            reached("consent_saved")
            self._stop_recording()
            self._apply()
            reached("done")
        if self._worker is not None:
            self._worker.wake()

    def should_ask(self) -> bool:
        """Whether the app should show the ask dialog now (never while forced off)."""
        if self._admin is not None:
            return False
        state = self._state
        if state.admin_paused:
            return True  # the administrative off was lifted: the user decides again before anything is sent
        if state.is_on:
            registry = self.registry
            agreed = tuple(c for c in state.categories if c in registry.categories)
            changed = self.wording.digest(registry, agreed) != state.wording_hash  # what the user read has changed
            return self.ask_policy.should_ask(
                state, self.now(), tuple(registry.categories), descriptions_changed=changed
            )
        return self.ask_policy.should_ask(state, self.now())

    def answer_prompt(self, answer: Answer) -> None:
        """Record the user's answer to the ask dialog; "yes" turns feedback on (all categories shown)."""
        with self.lock:
            self.sync_consent()
            try:
                self._state = self._store.record_prompt(self._state, self.now(), answer)
            except OSError:
                debug("optin: could not save the answer")
        if answer is Answer.YES:
            self.turn_on(surface="prompt")
        elif self._state.admin_paused:
            self.turn_off(surface="prompt")  # asked whether to resume after an administrative off: no

    def mark_sent(self) -> bool:
        """Record, before the first upload of this installation, that something may reach the collector."""
        if not self._state.ever_sent:
            try:
                self._state = self._store.mark_sent(self._state)
            except OSError:
                return False
        return True

    def deletion_done(self, installation_id: str) -> None:
        with self.lock:
            self.sync_consent()
            self._state = self._store.deletion_done(self._state, installation_id)

    def categories(self) -> list[Category]:
        return list(self.registry.categories.values())

    # --- recording helpers built on the swapped methods -----------------------------------

    def start_session(self) -> None:
        """The host's session begins. If feedback is off, it is counted from when the user turns it on."""
        self._session_wanted = True
        if self.is_on:
            self._session_started = self.clock.now()
            self.count(SESSION_STARTS)

    def end_session(self) -> None:
        self._session_wanted = False
        started, self._session_started = self._session_started, None
        if started is not None and self.is_on:
            length = max(0.0, self.clock.now() - started)
            self.duration(SESSION_LENGTH, length)
            self.count(SESSION_USAGE, int(length))

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
                if not self._viewer:
                    self.reports.roll(final=True)
            except Exception:
                debug("optin: could not persist the period's values")
        if self._worker is None:
            return True
        return self._worker.stop(deadline - time.monotonic())

    def _after_fork_in_child(self) -> None:
        """The parent's values are the parent's: the child records from empty (its share joins the same period
        on disk). Its thread is re-created by the next flush() or close() in this process."""
        self.lock = threading.RLock()
        if self._worker is not None:
            self._worker.after_fork()
        if not isinstance(self.recorder, NullRecorder):
            from ._recorder import Recorder

            self.recorder = Recorder(self.registry)
            self._bind(self.recorder)


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
