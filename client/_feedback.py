"""`Feedback`: the object a host application holds. Consent decides which state it is in.

While feedback is off (the default) its recording methods are those of `NullRecorder`: they
return at once, and no thread, socket or file other than the consent file exists. The user's
explicit action (`turn_on`, from the Help menu or the ask dialog) switches it to the live
`Recorder`, starts the one background thread and the durable queue. `turn_off` purges
everything, forgets the installation id and asks the collector to delete what it had; a crash
at any point of it leaves nothing of the old installation that could be sent (see `turn_off`).

Everything the "on" state needs (registry parsing, queue, uploader, thread, system facts) is
imported when first needed, so constructing a `Feedback` that is off costs almost nothing.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from contextlib import contextmanager

import orjson

from optin.contract import CLIENT_COUNTERS, MAX_COUNTER

from ._admin import EnterprisePolicy
from ._clock import SystemClock
from ._consent import Answer, ConsentState, ConsentStore
from ._null import NullRecorder
from ._paths import AppPaths
from ._policy import AdminOff, AskPolicy, admin_off
from ._wording import WORDING_VERSION, Wording

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Final

    from optin.contract import Category, Registry, RegistryFile

    from ._facts import FactsProvider
    from ._history import History
    from ._protocols import ChooseFn, Clock, CountFn, DurationFn, FlagFn, NumberFn
    from ._queue import ReportQueue
    from ._recorder import Recorder
    from ._transport import Transport
    from ._upload import Uploader
    from ._worker import Worker

DAY_S: Final = 86400
POLL_S: Final = 300.0  # at most this long between passes while on (the network may have come back)
DEFAULT_TIMEOUT_S: Final = 10.0  # connect and read timeout of one upload
PREVIEW_INSTALLATION_ID: Final = "00000000-0000-4000-8000-000000000000"  # shown in previews before any id exists
SESSION_STARTS: Final = "session.starts"
SESSION_LENGTH: Final = "session.length"
SESSION_USAGE: Final = "session.usage_seconds"
STALE_TEMP_S: Final = 60.0  # a temp file in the consent folder this old is no other process's write in progress


def _debug(message: str) -> None:
    import logging  # only on the rare failure path

    logging.getLogger("optin.client").debug(message, exc_info=True)


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

    def __init__(
        self,
        registry: Registry | RegistryFile,
        *,
        app_version: str,
        endpoint: str,
        paths: AppPaths | None = None,
        clock: Clock | None = None,
        transport: Transport | None = None,
        facts: FactsProvider | None = None,
        ask_policy: AskPolicy | None = None,
        period_s: int = DAY_S,
        environ: dict[str, str] | None = None,
        ca_bundle: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        queue: ReportQueue | None = None,
        viewer: bool = False,
        wording: Wording | None = None,
        admin_variable: str | None = None,
        enterprise: EnterprisePolicy | None = None,
    ) -> None:
        """``viewer``: a tool looking at the state (the CLI): no thread unless flushed, no report at close.

        ``wording``: the application's own sentences in the dialogs (what is never sent, privacy
        policy, contact), from its configuration. ``admin_variable``: the environment variable an
        administrator sets to ``off`` (default ``<APP>_FEEDBACK``). ``enterprise``: the names IT uses
        for this app in Windows policy keys and macOS managed preferences (default `EnterprisePolicy.for_app`).
        """
        self._registry_source = registry
        self._viewer = viewer
        self.app = registry.app
        self.app_version = app_version
        self.endpoint = endpoint
        self.paths = paths or AppPaths.for_app(self.app)
        self.clock = clock or SystemClock()
        self.ask_policy = ask_policy or AskPolicy()
        self.wording = wording or Wording()
        self.period_s = period_s
        self._transport = transport
        self._ca_bundle = ca_bundle
        self._timeout_s = timeout_s
        self._facts_provider = facts
        self._facts: dict[str, object] | None = None
        self._queue = queue
        self._history: History | None = None
        self._uploader: Uploader | None = None
        self._worker: Worker | None = None
        self._lock = threading.RLock()  # consent transitions, report rolls, consent-file writes
        self._store = ConsentStore(self.paths.consent_file)
        self._admin = admin_off(
            self.app,
            self.paths.policy_file,
            environ,
            enterprise or EnterprisePolicy.for_app(self.app),
            admin_variable,
        )
        self._counters = dict.fromkeys(CLIENT_COUNTERS, 0)
        self._deletion_attempts = 0
        self._session_started: float | None = None
        self._session_wanted = False  # the host's session is open (start_session) whether or not feedback is on
        self._closed = False
        self._period_start = self._now()
        self._recorder: Recorder | NullRecorder = NullRecorder()
        try:
            self._state = self._store.load(self._now(), save=not viewer)  # looking creates nothing
        except OSError:
            _debug("optin: consent file unavailable; feedback stays off")
            self._state = ConsentState(first_run=self._now())
        self._remove_leftovers()
        if not self._state.is_on:
            self._sweep(None)  # every start while off: what a crash left of an earlier installation goes
        if self._admin is not None and self._state.is_on and not self._state.admin_paused:
            try:
                self._state = self._store.pause(self._state)
            except OSError:
                _debug("optin: could not record the administrative off")  # is_on is False all the same
        _LIVE.add(self)
        self._apply()

    def _remove_leftovers(self) -> None:
        """Temp files of writes a crash interrupted (a history's can hold a report) go at start, in every folder."""
        from ._files import remove_leftovers

        for folder in (self.paths.config_dir, self.paths.data_dir):
            try:
                remove_leftovers(folder, min_age_s=STALE_TEMP_S)
            except OSError:
                _debug("optin: could not remove leftovers of interrupted writes")

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

    def _worker_(self) -> Worker:
        if self._worker is None:
            from ._worker import Worker

            self._worker = Worker(self._pass)
        return self._worker

    # --- state -------------------------------------------------------------------------------

    def _now(self) -> int:
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

    def _apply(self) -> None:
        """Make the recording surface, queue and thread match the consent state."""
        if self.is_on and isinstance(self._recorder, NullRecorder):
            try:
                from ._recorder import Recorder

                if self.app_version not in self.registry.app_versions:
                    # The collector would refuse every report (422 undeclared_version): record nothing.
                    raise ValueError("app version not declared in the registry")
                live = Recorder(self.registry)
                self.queue.open()
            except (OSError, ValueError):  # an unusable data folder or registry: nothing runs, nothing raises
                _debug("optin: cannot record (data folder or registry unusable, or app version undeclared)")
            else:
                self._recorder = live
                self._period_start = self._now()
                self._load_counters()
        if not self.is_on:
            self._recorder = NullRecorder()
            if self._state.pending_deletion and not self._viewer:
                # only to send the deletion request(s), then it ends; also under an administrative off,
                # which stops sending usage, not the erasure the user asked for
                self._worker_().start()
        elif not isinstance(self._recorder, NullRecorder) and not self._viewer:
            self._worker_().start()
        recorder = self._recorder
        self.count = recorder.count
        self.flag = recorder.flag
        self.choose = recorder.choose
        self.quantity = recorder.quantity
        self.duration = recorder.duration
        if self._session_wanted and self._session_started is None:
            self.start_session()  # turned on while the host's session is open: it counts from now

    def _sync_consent(self) -> None:
        """Adopt a change another process made to the consent file (the `optin` CLI, a second
        instance of the app), so a newer "off" is never overwritten by this process's older "on"."""
        with self._lock:
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
        """Drop the period's values and counters; purge queued reports of every id but ``keep``."""
        from . import _counts
        from ._steps import reached

        self._recorder = NullRecorder()
        self._counters = dict.fromkeys(CLIENT_COUNTERS, 0)
        self._session_started = None
        try:
            self.queue.purge(keep, on_removed=lambda: reached("report_removed"))
            reached("queue_purged")
            _counts.drop_unless(self.paths.counters_file, keep)
            reached("counters_removed")
            self.history.erase_contents()  # "turning it off erases what was sent": here too
        except OSError:
            _debug("optin: could not purge the queue")

    def _sweep(self, keep: str | None) -> None:
        """Remove what an earlier installation left behind (a purge a crash interrupted): queued
        reports and counters of any id but ``keep``, and a consent file a crash left unrenamed.
        Costs three file lookups when there is none."""
        from ._files import remove_leftovers

        try:
            if self.paths.queue_dir.is_dir():
                self.queue.purge(keep)
            if self.paths.counters_file.exists():
                from . import _counts

                _counts.drop_unless(self.paths.counters_file, keep)
            remove_leftovers(self.paths.config_dir, min_age_s=STALE_TEMP_S)
        except OSError:
            _debug("optin: could not remove what an earlier installation left")

    def turn_on(self, surface: str = "help_menu", categories: tuple[str, ...] | None = None) -> bool:
        """The user's explicit action, after being shown ``categories`` (default: all) and the wording.

        Returns False (and changes nothing) when forced off, when no known category was chosen, or unsaved.
        """
        if self._admin is not None:
            return False
        try:
            registry = self.registry
        except (OSError, ValueError):
            _debug("optin: the registry cannot be read; feedback stays off")
            return False
        chosen = tuple(
            sorted(registry.categories if categories is None else set(categories) & set(registry.categories))
        )
        if not chosen:
            return False  # agreeing to nothing is not turning it on
        with self._lock:
            self._sync_consent()
            try:
                self._state = self._store.turn_on(
                    self._state,
                    self._now(),
                    surface,
                    chosen,
                    registry.categories_hash(chosen),
                    (WORDING_VERSION, self.wording.digest(registry, chosen)),
                )
            except OSError:
                _debug("optin: could not save consent; feedback stays off")
                return False
            self._sweep(self._state.installation_id)  # nothing of an earlier installation survives into this one
            self._apply()
        return True

    def turn_off(self, surface: str = "help_menu") -> None:
        """Stop at once: purge queue and values, forget the id, request deletion of what was sent.

        Ordered for crashes (steps in `_steps.TURN_OFF_STEPS`): values in memory go first; then
        the consent file says off (one atomic rename; before it, it is as if the user had not
        clicked); from then on no report of the old id can be sent, because only reports of the
        current id are ever sent and while off there is none. The queue and counters are purged
        last; what a crash leaves of them is removed at the next start (or turn-on).
        """
        from ._steps import reached

        with self._lock:
            self._sync_consent()
            reached("begin")
            self._recorder = NullRecorder()
            try:
                self._state = self._store.turn_off(
                    self._state, self._now(), surface, before_replace=lambda: reached("consent_staged")
                )
            except OSError:  # off in memory at least; the file still says on only if it cannot be written
                _debug("optin: could not save consent")
                self._state = ConsentStore.off_state(self._state, self._now(), surface)
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
                state, self._now(), tuple(registry.categories), descriptions_changed=changed
            )
        return self.ask_policy.should_ask(state, self._now())

    def answer_prompt(self, answer: Answer) -> None:
        """Record the user's answer to the ask dialog; "yes" turns feedback on (all categories shown)."""
        with self._lock:
            self._sync_consent()
            try:
                self._state = self._store.record_prompt(self._state, self._now(), answer)
            except OSError:
                _debug("optin: could not save the answer")
        if answer is Answer.YES:
            self.turn_on(surface="prompt")
        elif self._state.admin_paused:
            self.turn_off(surface="prompt")  # asked whether to resume after an administrative off: no

    def categories(self) -> list[Category]:
        return list(self.registry.categories.values())

    # --- recording helpers built on the swapped methods -----------------------------------

    @contextmanager
    def timer(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.duration(name, time.perf_counter() - start)

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

    # --- reports (record → enqueue) ----------------------------------------------------------

    def _system_facts(self) -> dict[str, object]:
        if self._facts is None:
            try:
                if self._facts_provider is None:
                    from ._facts import collect_system_facts

                    self._facts = dict(collect_system_facts())
                else:
                    self._facts = dict(self._facts_provider())
            except Exception:
                _debug("optin: system facts unavailable")
                self._facts = {}
        return self._facts

    def _build(self, period: tuple[int, int], drain: bool) -> bytes | None:
        from ._assemble import assemble
        from ._recorder import Recorder

        recorder = self._recorder
        if not isinstance(recorder, Recorder) or self._state.installation_id is None:
            return None
        taken = recorder.drain() if drain else recorder.peek()
        counters = dict(self._counters)
        counters["dropped"] += taken.dropped
        # Capped at the contract's MAX_COUNTER: a report never fails its own check.
        counters = {name: min(count, MAX_COUNTER) for name, count in counters.items()}
        report = assemble(
            self.registry,
            installation_id=self._state.installation_id,
            app_version=self.app_version,
            categories=self._state.categories,
            period=period,
            values=taken.values,
            facts=self._system_facts(),  # type: ignore[arg-type]
            client_counters=counters,
            sent_at=period[1],
        )
        if drain:
            self._counters = dict.fromkeys(CLIENT_COUNTERS, 0)  # now carried by the report (and by its eviction)
            self._save_counters()
        return report.to_json()

    def _add_counters(self, increments: dict[str, int]) -> None:
        """Losses not yet in any report; kept on disk so that they reach the collector across restarts."""
        for name, count in increments.items():
            self._counters[name] += count
        self._save_counters()

    def _save_counters(self) -> None:
        from . import _counts

        try:
            _counts.save(self.paths.counters_file, self._state.installation_id, self._counters)
        except OSError:
            _debug("optin: could not save the client counters")

    def _load_counters(self) -> None:
        from . import _counts

        self._counters = _counts.load(self.paths.counters_file, self._state.installation_id) or self._counters

    def _period_end(self) -> int:
        return (self._period_start // self.period_s + 1) * self.period_s

    def _roll(self, final: bool) -> None:
        """Close the period (when due, or at clean exit) and persist its report durably."""
        with self._lock:
            if final:  # at exit: never persist values of an installation erased meanwhile in another process
                self._sync_consent()
            if not self.is_on:
                return
            now = self._now()
            period_end = self._period_end()
            if not final and now < period_end:
                return
            end = now if final else period_end
            try:
                body = self._build((self._period_start, max(self._period_start, end)), drain=True)
            except ValueError:  # cannot happen with checked values; never let it stop the thread
                _debug("optin: a report failed its own check")
                body = None
            self._period_start = now if final else max(period_end, now // self.period_s * self.period_s)
            if body is None:
                return
            try:
                self._add_counters(self.queue.put(orjson.loads(body)["report_id"], body))
            except OSError:
                _debug("optin: could not persist a report")
                self._add_counters({"dropped": 1})

    def preview(self) -> bytes:
        """The exact JSON the next report will contain if the period ended now (indented)."""
        from ._assemble import assemble

        with self._lock:
            now = self._now()
            body = self._build((self._period_start, now), drain=False) if self.is_on else None
            if body is None:
                registry = self.registry
                body = assemble(
                    registry,
                    installation_id=PREVIEW_INSTALLATION_ID,
                    app_version=self.app_version,
                    categories=self._state.categories or tuple(registry.categories),
                    period=(now, now),
                    values={},
                    facts=self._system_facts(),  # type: ignore[arg-type]
                    client_counters={},
                    sent_at=now,
                ).to_json()
            return orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    # --- background pass (worker thread only): enqueue → upload -------------------------------

    def _get_uploader(self) -> Uploader:
        if self._uploader is None:
            from ._http import HttpTransport
            from ._upload import Uploader

            transport = self._transport or HttpTransport(self._ca_bundle)
            self._uploader = Uploader(self.endpoint, transport, self.history, self.clock, self._timeout_s)
        return self._uploader

    def _pass(self) -> float | None:
        """One pass; returns seconds until the next, None when there is nothing left to do."""
        from ._upload import MAX_DELETION_ATTEMPTS, Delivery

        self._sync_consent()
        if self.is_on:
            self._system_facts()  # psutil runs here, on the worker thread, not on the UI thread
        self._roll(final=False)
        uploader = self._get_uploader()
        if self._state.pending_deletion:
            self._send_deletions(uploader, MAX_DELETION_ATTEMPTS)
        if not self.is_on:
            if self._state.pending_deletion and self._deletion_attempts < MAX_DELETION_ATTEMPTS:
                return max(0.05, uploader.backoff.next_attempt - self.clock.now())
            return None
        for path in self.queue.pending():
            if not uploader.backoff.ready(self.clock.now()) or not self.is_on:
                break
            with self._lock:
                current = self._state.installation_id
                if not self.is_on or current is None:
                    break
                if not self._state.ever_sent:  # before the first attempt: a lost answer may hide a stored report
                    try:
                        self._state = self._store.mark_sent(self._state)
                    except OSError:
                        break  # unsaved, a later deletion could not know to run: do not send
            outcome = uploader.send_report(self.queue, path, current)  # only reports of the current id leave
            if outcome in (Delivery.DROPPED, Delivery.DISCARDED):
                with self._lock:
                    if self.is_on and self._state.installation_id == current:  # never into another installation
                        self._add_counters({"rejected" if outcome is Delivery.DROPPED else "discarded": 1})
            elif outcome is Delivery.RETRY:
                break
        wait = min(POLL_S, max(0.0, self._period_end() - self.clock.now()))
        if self.queue.pending():
            wait = min(wait, max(0.0, uploader.backoff.next_attempt - self.clock.now()))
        return max(wait, 0.05)

    def _send_deletions(self, uploader: Uploader, max_attempts: int) -> None:
        for installation_id in self._state.pending_deletion:
            if self._deletion_attempts >= max_attempts or not uploader.backoff.ready(self.clock.now()):
                return
            self._deletion_attempts += 1
            if not uploader.send_deletion(installation_id):
                return
            with self._lock:
                self._sync_consent()
                self._state = self._store.deletion_done(self._state, installation_id)
            self._deletion_attempts = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Run one pass now (close a due period, send what is queued); wait at most ``timeout_s``."""
        if not (self.is_on or self._state.pending_deletion):
            return True
        worker = self._worker_()
        worker.start()
        return worker.flush(timeout_s)

    def close(self, timeout_s: float = 2.0) -> bool:
        """Clean exit: persist the current period's report, try to send within the budget, stop.

        Returns within ``timeout_s`` even if the network hangs; what is unsent stays on disk.
        Idempotent: a host with several exit paths (window close, ``atexit``) may call it from each;
        a later call only waits (within its own budget) for the thread the first one stopped.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._lock:
            first, self._closed = not self._closed, True
        if first:
            try:
                self.end_session()
                if not self._viewer:
                    self._roll(final=True)
            except Exception:
                _debug("optin: could not persist the final report")
        if self._worker is None:
            return True
        return self._worker.stop(deadline - time.monotonic())

    def _after_fork_in_child(self) -> None:
        """The parent's values are the parent's to send: the child starts an empty period."""
        self._lock = threading.RLock()
        if not isinstance(self._recorder, NullRecorder):
            from ._recorder import Recorder

            recorder = self._recorder = Recorder(self.registry)
            self._period_start = self._now()
            self.count, self.flag, self.choose = recorder.count, recorder.flag, recorder.choose
            self.quantity, self.duration = recorder.quantity, recorder.duration
            # The thread itself is re-created by the next flush() or close() in this process.


_LIVE: weakref.WeakSet[Feedback] = weakref.WeakSet()


def _after_fork() -> None:
    for feedback in list(_LIVE):
        feedback._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
