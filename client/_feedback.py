"""`Feedback`: the object a host application holds. Consent decides which state it is in.

While feedback is off (the default) its recording methods are those of `NullRecorder`: they
return at once, and no thread, socket or file other than the consent file exists. The user's
explicit action (`turn_on`, from the Help menu or the ask dialog) switches it to the live
`Recorder`, starts the one background thread and the durable queue. `turn_off` purges
everything, forgets the installation id and asks the collector to delete what it had.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import orjson

from optin.contract import CLIENT_COUNTERS, Category, Registry

from ._assemble import assemble
from ._clock import Clock, SystemClock
from ._consent import Answer, ConsentState, ConsentStore
from ._facts import FactsProvider, collect_system_facts
from ._history import History
from ._paths import AppPaths
from ._policy import AdminOff, AskPolicy, admin_off
from ._queue import ReportQueue
from ._recorder import ChooseFn, CountFn, DurationFn, FlagFn, NullRecorder, NumberFn, Recorder
from ._transport import DEFAULT_TIMEOUT_S, HttpTransport, Transport
from ._upload import MAX_DELETION_ATTEMPTS, Outcome, Uploader
from ._worker import Worker

DAY_S: Final = 86400
POLL_S: Final = 300.0  # at most this long between passes while on (network may have come back)
PREVIEW_INSTALLATION_ID: Final = "00000000-0000-4000-8000-000000000000"  # shown in previews before any id exists
SESSION_STARTS: Final = "session.starts"
SESSION_LENGTH: Final = "session.length"
SESSION_USAGE: Final = "session.usage_seconds"

log = logging.getLogger(__name__)


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
        registry: Registry,
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
    ) -> None:
        self.registry = registry
        self.app_version = app_version
        self.paths = paths or AppPaths.for_app(registry.app)
        self.clock = clock or SystemClock()
        self.ask_policy = ask_policy or AskPolicy()
        self.period_s = period_s
        self._transport = transport
        self._ca_bundle = ca_bundle
        self._facts_provider = facts or collect_system_facts
        self._facts: dict[str, object] | None = None
        self._lock = threading.RLock()  # consent transitions, report rolls, consent-file writes
        self._store = ConsentStore(self.paths.consent_file)
        self._admin = admin_off(registry.app, self.paths.policy_file, environ)
        self.history = History(self.paths.history_file)
        self.queue = queue or ReportQueue(self.paths.queue_dir)
        self._uploader: Uploader | None = None
        self._endpoint = endpoint
        self._timeout_s = timeout_s
        self._worker = Worker(self._pass)
        self._counters = dict.fromkeys(CLIENT_COUNTERS, 0)
        self._deletion_attempts = 0
        self._session_started: float | None = None
        self._state = self._store.load(self._now())
        self._period_start = self._now()
        self._recorder: Recorder | NullRecorder = NullRecorder()
        self._apply()

    # --- state -------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock.now())

    @property
    def state(self) -> ConsentState:
        return self._state

    @property
    def is_on(self) -> bool:
        return self._state.is_on and self._admin is None

    @property
    def forced_off(self) -> AdminOff | None:
        """Why an administrator has forced feedback off, or None."""
        return self._admin

    def _apply(self) -> None:
        """Make the recording surface, queue and thread match the consent state."""
        if self.is_on:
            if not isinstance(self._recorder, Recorder):
                self._recorder = Recorder(self.registry)
                self._period_start = self._now()
                self.queue.open()
            self._worker.start()
        else:
            self._recorder = NullRecorder()
            if self._state.pending_deletion and self._admin is None:
                self._worker.start()  # only to send the deletion request(s), then it ends
        recorder = self._recorder
        self.count = recorder.count
        self.flag = recorder.flag
        self.choose = recorder.choose
        self.quantity = recorder.quantity
        self.duration = recorder.duration

    def turn_on(self, surface: str = "help_menu", categories: tuple[str, ...] | None = None) -> bool:
        """The user's explicit action. Returns False (and changes nothing) when forced off."""
        if self._admin is not None:
            return False
        chosen = tuple(sorted(self.registry.categories if categories is None else set(categories) & set(self.registry.categories)))
        with self._lock:
            self._state = self._store.turn_on(self._state, self._now(), surface, chosen, self.registry.categories_hash(chosen))
            self._apply()
        return True

    def turn_off(self, surface: str = "help_menu") -> None:
        """Stop at once: purge queue and values, forget the id, request deletion of what was sent."""
        with self._lock:
            self._state = self._store.turn_off(self._state, self._now(), surface)
            self._recorder = NullRecorder()
            self._counters = dict.fromkeys(CLIENT_COUNTERS, 0)
            self._session_started = None
            self.queue.purge()
            self._apply()
        self._worker.wake()

    def should_ask(self) -> bool:
        if self._admin is not None:
            return False
        return self.ask_policy.should_ask(self._state, self._now(), tuple(self.registry.categories))

    def answer_prompt(self, answer: Answer) -> None:
        """Record the user's answer to the ask dialog; "yes" turns feedback on."""
        with self._lock:
            self._state = self._store.record_prompt(self._state, self._now(), answer)
        if answer is Answer.YES:
            self.turn_on(surface="prompt")

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
        if self.is_on:
            self._session_started = self.clock.now()
            self.count(SESSION_STARTS)

    def end_session(self) -> None:
        started, self._session_started = self._session_started, None
        if started is not None and self.is_on:
            length = max(0.0, self.clock.now() - started)
            self.duration(SESSION_LENGTH, length)
            self.count(SESSION_USAGE, int(length))

    # --- reports ------------------------------------------------------------------------------

    def _system_facts(self) -> dict[str, object]:
        if self._facts is None:
            try:
                self._facts = dict(self._facts_provider())
            except Exception:
                log.debug("optin: system facts unavailable", exc_info=True)
                self._facts = {}
        return self._facts

    def _build(self, period: tuple[int, int], drain: bool) -> bytes | None:
        recorder = self._recorder
        if not isinstance(recorder, Recorder) or self._state.installation_id is None:
            return None
        taken = recorder.drain() if drain else recorder.peek()
        counters = dict(self._counters)
        counters["dropped"] += taken.dropped
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
            self._counters = dict.fromkeys(CLIENT_COUNTERS, 0)
        return report.to_json()

    def _roll(self, final: bool) -> None:
        """Record → enqueue: close the period (when due, or at clean exit) and persist its report."""
        with self._lock:
            if not self.is_on:
                return
            now = self._now()
            period_end = (self._period_start // self.period_s + 1) * self.period_s
            if not final and now < period_end:
                return
            end = now if final else period_end
            body = self._build((self._period_start, max(self._period_start, end)), drain=True)
            self._period_start = now if final else max(period_end, now // self.period_s * self.period_s)
            if body is None:
                return
            report_id = orjson.loads(body)["report_id"]
            try:
                self._counters["evicted"] += self.queue.put(report_id, body)
            except OSError:
                log.debug("optin: could not persist a report", exc_info=True)
                self._counters["dropped"] += 1

    def preview(self) -> bytes:
        """The exact JSON the next report will contain if the period ended now (indented)."""
        with self._lock:
            now = self._now()
            if isinstance(self._recorder, Recorder) and self._state.installation_id:
                body = self._build((self._period_start, now), drain=False)
                assert body is not None
                return orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            categories = tuple(self.registry.categories) if not self._state.categories else self._state.categories
            report = assemble(
                self.registry,
                installation_id=PREVIEW_INSTALLATION_ID,
                app_version=self.app_version,
                categories=categories,
                period=(now, now),
                values={},
                facts=self._system_facts(),  # type: ignore[arg-type]
                client_counters={},
                sent_at=now,
            )
            return orjson.dumps(report.to_wire(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    # --- background pass (worker thread only) ---------------------------------------------

    def _get_uploader(self) -> Uploader:
        if self._uploader is None:
            transport = self._transport or HttpTransport(self._ca_bundle)
            self._uploader = Uploader(self._endpoint, transport, self.history, self.clock, self._timeout_s)
        return self._uploader

    def _pass(self) -> float | None:
        """enqueue → upload; returns seconds until the next pass, None when there is nothing left to do."""
        self._roll(final=False)
        uploader = self._get_uploader()
        if self._state.pending_deletion and self._admin is None:
            self._send_deletions(uploader)
        if not self.is_on:
            return self._retry_delay(uploader) if self._state.pending_deletion and self._deletion_attempts < MAX_DELETION_ATTEMPTS else None
        for path in self.queue.pending():
            if not uploader.backoff.ready(self.clock.now()) or not self.is_on:
                break
            with self._lock:
                if not self._state.ever_sent:
                    self._state = self._store.mark_sent(self._state)  # before the first attempt: a lost answer may hide a stored report
            outcome = uploader.send_report(self.queue, path)
            if outcome is Outcome.DROPPED:
                self._counters["rejected"] += 1
            elif outcome is Outcome.RETRY:
                break
        period_end = (self._period_start // self.period_s + 1) * self.period_s
        wait = min(POLL_S, max(0.0, period_end - self.clock.now()))
        if self.queue.pending():
            wait = min(wait, max(0.0, uploader.backoff.next_attempt - self.clock.now()))
        return max(wait, 0.05)

    def _retry_delay(self, uploader: Uploader) -> float:
        return max(0.05, uploader.backoff.next_attempt - self.clock.now())

    def _send_deletions(self, uploader: Uploader) -> None:
        for installation_id in self._state.pending_deletion:
            if self._deletion_attempts >= MAX_DELETION_ATTEMPTS or not uploader.backoff.ready(self.clock.now()):
                return
            self._deletion_attempts += 1
            if not uploader.send_deletion(installation_id):
                return
            with self._lock:
                self._state = self._store.deletion_done(self._state, installation_id)
            self._deletion_attempts = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Run one pass now (close a due period, send what is queued); wait at most ``timeout_s``."""
        if self.is_on or self._state.pending_deletion:
            self._worker.start()
        return self._worker.flush(timeout_s)

    def close(self, timeout_s: float = 2.0) -> bool:
        """Clean exit: persist the current period's report, try to send within the budget, stop.

        Returns within ``timeout_s`` even if the network hangs; what is unsent stays on disk.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        try:
            self.end_session()
            self._roll(final=True)
        except Exception:
            log.debug("optin: could not persist the final report", exc_info=True)
        return self._worker.stop(deadline - time.monotonic())
