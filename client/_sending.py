"""enqueue → upload: the background pass of one `Feedback`, on its one worker thread.

A pass adopts consent changes made elsewhere, rolls the period (`Reports.roll`), sends pending
deletion requests (also while off: the user asked for the erasure), and, only while on, sends
the queued reports of the current installation id. It returns when the next pass is due.
"""

from __future__ import annotations

from ._log import debug

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from ._feedback import Feedback
    from ._transport import Transport
    from ._upload import Uploader

POLL_S: Final = 300.0  # at most this long between passes while on (the network may have come back)
MIN_WAIT_S: Final = 0.05  # never spin


class Sending:
    """The upload stage: one uploader (created at the first pass), report passes and deletions."""

    def __init__(self, owner: Feedback, transport: Transport | None, ca_bundle: str | None, timeout_s: float) -> None:
        self._owner = owner
        self._transport = transport
        self._ca_bundle = ca_bundle
        self._timeout_s = timeout_s
        self._uploader: Uploader | None = None
        self._deletion_attempts = 0

    def uploader(self) -> Uploader:
        if self._uploader is None:
            from ._http import HttpTransport
            from ._upload import Uploader

            owner = self._owner
            transport = self._transport or HttpTransport(self._ca_bundle)
            self._uploader = Uploader(owner.endpoint, transport, owner.history, owner.clock, self._timeout_s)
        return self._uploader

    def run_pass(self) -> float | None:
        """One pass; returns seconds until the next, None when there is nothing left to do."""
        from ._upload import MAX_DELETION_ATTEMPTS

        owner = self._owner
        owner.sync_consent()
        if owner.is_on:
            owner.reports.facts()  # psutil runs here, on the worker thread, not on the UI thread
        owner.reports.roll()
        uploader = self.uploader()
        if owner.state.pending_deletion:
            self._send_deletions(uploader, MAX_DELETION_ATTEMPTS)
        now = owner.clock.now()
        if not owner.is_on:
            if owner.state.pending_deletion and self._deletion_attempts < MAX_DELETION_ATTEMPTS:
                return max(MIN_WAIT_S, uploader.backoff.next_attempt - now)
            return None
        self._send_reports(uploader)
        now = owner.clock.now()
        wait = min(POLL_S, max(0.0, owner.reports.period_end() - now))
        if owner.queue.pending():
            wait = min(wait, max(0.0, uploader.backoff.next_attempt - now))
        return max(wait, MIN_WAIT_S)

    def _send_reports(self, uploader: Uploader) -> None:
        from ._upload import Delivery

        owner = self._owner
        for path in owner.queue.pending():
            if not uploader.backoff.ready(owner.clock.now()) or not owner.is_on:
                return
            with owner.lock:
                current = owner.state.installation_id
                if not owner.is_on or current is None:
                    return
                if not owner.mark_sent():  # before the first attempt: a lost answer may hide a stored report
                    return  # unsaved, a later deletion could not know to run: do not send
            outcome = uploader.send_report(owner.queue, path, current)  # only reports of the current id leave
            if outcome in (Delivery.DROPPED, Delivery.DISCARDED):
                with owner.lock:
                    if owner.is_on and owner.state.installation_id == current:  # never into another installation
                        owner.reports.add_counters({"rejected" if outcome is Delivery.DROPPED else "discarded": 1})
            elif outcome is Delivery.RETRY:
                return

    def _send_deletions(self, uploader: Uploader, max_attempts: int) -> None:
        owner = self._owner
        for installation_id in owner.state.pending_deletion:
            if self._deletion_attempts >= max_attempts or not uploader.backoff.ready(owner.clock.now()):
                return
            self._deletion_attempts += 1
            if not uploader.send_deletion(installation_id):
                return
            try:
                owner.deletion_done(installation_id)
            except OSError:
                debug("optin: could not record the confirmed deletion; it is requested again next time")
                return
            self._deletion_attempts = 0
