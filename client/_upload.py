"""Upload: queued reports and deletion requests to the collector, with the retry rule.

Network errors, 5xx, 408 and 429 are retried with capped, jittered exponential backoff that
honours Retry-After; any other 4xx is permanent: the report is dropped and counted. A report
file is removed only after a 2xx answer.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final

import orjson

from ._history import History, Sent
from ._protocols import Clock
from ._queue import ReportQueue
from ._transport import Response, Transport

BACKOFF_BASE_S: Final = 2.0
BACKOFF_CAP_S: Final = 6 * 3600.0  # a collector down for days is retried a few times a day, not hammered
RETRY_AFTER_CAP_S: Final = 7 * 86400.0  # a hostile or broken header cannot silence a client forever
REPORTS_PATH: Final = "/v1/reports"
DELETIONS_PATH: Final = "/v1/deletions"
MAX_DELETION_ATTEMPTS: Final = 8  # per process; an unacknowledged deletion stays pending in the consent file


class Delivery(Enum):
    SENT = "sent"  # acknowledged (2xx): file removed
    DROPPED = "dropped"  # permanent rejection (4xx): file removed and counted
    RETRY = "retry"  # try again after the backoff
    GONE = "gone"  # the file vanished (purged by turning feedback off)
    DISCARDED = "discarded"  # of another installation id than the current one: removed unsent, counted


def is_retryable(status: int) -> bool:
    """5xx, 408, 429, and anything that is not an answer from the collector itself: a redirect
    (captive portal, misconfigured proxy) or 407 proxy authentication. Other 4xx are final."""
    return status >= 500 or status in (407, 408, 429) or 300 <= status < 400 or status < 200


@dataclass
class Backoff:
    failures: int = 0
    next_attempt: float = 0.0

    def ready(self, now: float) -> bool:
        return now >= self.next_attempt

    def failed(self, now: float, retry_after_s: float | None, rng: random.Random) -> None:
        self.failures += 1
        wait = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(self.failures - 1, 30)) * rng.uniform(0.5, 1.0)
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, RETRY_AFTER_CAP_S))
        self.next_attempt = now + wait

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt = 0.0


class Uploader:
    def __init__(self, endpoint: str, transport: Transport, history: History, clock: Clock, timeout_s: float) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.transport = transport
        self.history = history
        self.clock = clock
        self.timeout_s = timeout_s
        self.backoff = Backoff()
        self._rng = random.Random()

    def _post(self, path: str, document: dict[str, object]) -> tuple[Response | None, int]:
        body = gzip.compress(orjson.dumps(document), compresslevel=6, mtime=0)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        try:
            return self.transport.post(self.endpoint + path, body, headers, self.timeout_s), len(body)
        except OSError:
            return None, len(body)

    def _result(self, response: Response | None, now: float) -> Delivery:
        if response is None or is_retryable(response.status):
            self.backoff.failed(now, response.retry_after_s if response else None, self._rng)
            return Delivery.RETRY
        self.backoff.succeeded()
        return Delivery.SENT if 200 <= response.status < 300 else Delivery.DROPPED

    def send_report(self, queue: ReportQueue, path: Path, installation_id: str) -> Delivery:
        """Send one queued report, if it is of ``installation_id`` (the current one); a report of
        any other id is never sent: the user erased that installation (DISCARDED)."""
        data = queue.read(path)
        if data is None:
            return Delivery.GONE
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            queue.remove(path)  # cannot happen through our own atomic writes; never send a damaged file
            return Delivery.DROPPED
        if not isinstance(document, dict) or document.get("installation_id") != installation_id:
            queue.remove(path)
            return Delivery.DISCARDED
        now = self.clock.now()
        document["sent_at"] = max(int(now), int(document["period"]["end"]))
        response, size = self._post(REPORTS_PATH, document)
        outcome = self._result(response, now)
        if outcome is not Delivery.RETRY:
            queue.remove(path)
        status = response.status if response else 0
        result = {200: "duplicate (already stored)", 202: "accepted"}.get(
            status, f"answered {status}" if status else "no answer"
        )
        self.history.add(Sent(int(now), self.endpoint + REPORTS_PATH, size, result, document))
        return outcome

    def send_deletion(self, installation_id: str) -> bool:
        """True once the collector acknowledged the deletion (2xx); anything else is tried again
        (within the per-run attempt limit): a deletion is never given up on a doubtful answer."""
        now = self.clock.now()
        document: dict[str, object] = {"installation_id": installation_id}
        response, size = self._post(DELETIONS_PATH, document)
        outcome = self._result(response, now)
        status = response.status if response else 0
        self.history.add(
            Sent(
                int(now),
                self.endpoint + DELETIONS_PATH,
                size,
                f"deletion: answered {status}" if status else "deletion: no answer",
                document,
            )
        )
        if outcome is Delivery.DROPPED:  # a 4xx: back off like a failure, keep it pending
            self.backoff.failed(now, None, self._rng)
        return outcome is Delivery.SENT
