"""Consent transitions: what the user's actions, another process and an administrator do to the consent state.

`Consent` is the base of `Feedback`. It holds the state (`ConsentState`), its file (`ConsentStore`),
the administrative off and the lock, and makes every transition under that lock: the new state is
saved before it takes effect. What the process then does about it (the recorder, the recording
methods, the thread, the files of an erased installation) is the façade's (`_feedback.py`), through
four hooks: `_idle`, `_stop_recording`, `_sweep` and `_apply`. Nothing here records or sends.
"""

from __future__ import annotations

try:
    from _thread import RLock  # what threading.RLock() returns; importing threading costs ~1 ms of start-up
except ImportError:  # pragma: no cover - an interpreter without the C lock
    from threading import RLock

from . import _log
from ._consent import Answer, ConsentState, ConsentStore
from ._log import debug
from ._policy import AdminOff, admin_off

TYPE_CHECKING = False
if TYPE_CHECKING:
    from optin.contract import Registry, RegistryFile

    from ._options import FeedbackOptions
    from ._paths import AppPaths
    from ._policy import AskPolicy
    from ._protocols import Clock
    from ._wording import Wording
    from ._worker import Worker


class Consent:
    """The consent state of one application for this user, and its transitions (see the module docstring)."""

    __slots__ = ("_admin", "_ask_policy", "_registry_source", "_state", "_store", "_wording", "app", "lock", "problems")
    clock: Clock
    _worker: Worker | None

    def __init__(self, registry: Registry | RegistryFile, paths: AppPaths, opts: FeedbackOptions) -> None:
        self._registry_source = registry
        self.app = registry.app
        self.lock = RLock()  # consent transitions, report rolls, consent-file writes
        self.problems = _log.Problems()  # what the embedding developer must fix, counted (see `check`)
        self._ask_policy = opts.ask_policy
        self._wording = opts.wording
        self._store = ConsentStore(paths.consent_file)
        self._admin = admin_off(self.app, paths.policy_file, opts.environ, opts.enterprise, opts.admin_variable)
        try:
            self._state = self._store.load(self.now(), save=not opts.viewer)  # looking creates nothing
        except OSError:
            debug("optin: consent file unavailable; feedback stays off")
            self._state = ConsentState(first_run=self.now())

    def _pause_if_forced_off(self) -> None:
        """An administrative off met the user's "on": remembered, so that lifting it never resumes unasked."""
        if self._admin is not None and self._state.is_on and not self._state.admin_paused:
            try:
                self._state = self._store.pause(self._state)
            except OSError:
                debug("optin: could not record the administrative off")  # is_on is False all the same

    def _after_fork_in_child(self) -> None:
        self.lock = RLock()  # the parent's may be held by one of its threads, which the child does not have

    # --- the façade's hooks (`Feedback`) ------------------------------------------------------------

    def _idle(self) -> None:
        """Recording stops at once: the recording methods do nothing from here on."""
        raise NotImplementedError

    def _stop_recording(self, keep: str | None = None) -> None:
        """Drop the period's values and counters; purge what is kept on disk of every id but ``keep``."""
        raise NotImplementedError

    def _sweep(self, keep: str | None) -> None:
        """Remove what an earlier installation than ``keep`` left on disk."""
        raise NotImplementedError

    def _apply(self) -> None:
        """Make the recording methods and the thread match the consent state."""
        raise NotImplementedError

    # --- reading the state -----------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock.now())

    @property
    def registry(self) -> Registry:
        source = self._registry_source
        return source.load() if hasattr(source, "load") else source

    @property
    def ask_policy(self) -> AskPolicy:
        if self._ask_policy is None:
            from ._policy import AskPolicy

            self._ask_policy = AskPolicy()
        return self._ask_policy

    @property
    def wording(self) -> Wording:
        """The application's sentences in the dialogs (default: Millwright's example)."""
        if self._wording is None:
            from ._wording import Wording

            self._wording = Wording()
        return self._wording

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

    # --- transitions -----------------------------------------------------------------------------

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

    def turn_on(self, surface: str = "help_menu", categories: tuple[str, ...] | None = None) -> bool:
        """The user's explicit action, after being shown ``categories`` (default: all) and the wording.

        Returns False (and changes nothing) when forced off, when no known category was chosen, or unsaved.
        """
        if self._admin is not None:
            return False
        from ._diagnose import usable_registry
        from ._wording import WORDING_VERSION

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
            self._idle()
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
