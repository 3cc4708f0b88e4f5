"""What the HTTP handlers need of a worker, whichever journal it writes to.

`_worker.Worker` journals to files on this machine and asks the local loader; `_nats_worker.NatsWorker`
publishes to a JetStream stream. The handlers and the error middleware see only this; both build on
`WorkerCore`, which holds what they keep alike (the check, the counters, rejection counts by day).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from optin.contract import CheckedReport, Registry, ReportChecker

from ._config import Config
from ._errors import InFlight
from ._stats import WorkerStats


class DeletedIds(Protocol):
    """Installation ids whose deletion was confirmed (`_tombstones.Tombstones`, `_nats_tombstones.StreamTombstones`)."""

    def contains(self, installation_id: str) -> bool: ...
    def refresh(self) -> None: ...
    def add(self, installation_id: str) -> None: ...  # blocking, durable before it returns; OSError when it is not


class IngestWorker(Protocol):
    config: Config
    checker: ReportChecker
    stats: WorkerStats
    in_flight: InFlight
    clock: Callable[[], float]

    @property
    def tombstones(self) -> DeletedIds: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def admit(self) -> None: ...
    async def journal_report(self, report: CheckedReport, received_s: int) -> bool: ...
    async def journal_deletion(self, installation_id: str, received_s: int) -> None: ...
    def count_rejection(self, reason: str) -> None: ...
    @property
    def healthy(self) -> bool: ...
    async def heartbeat(self) -> bool: ...
    async def proxy(
        self, method: str, path_qs: str, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]: ...


class WorkerCore:
    """What every worker holds and does the same way: its check, counters and rejection counts by day."""

    def __init__(
        self,
        config: Config,
        registries: Mapping[tuple[str, int], Registry],
        name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.registries = registries
        self.name = name
        self.clock = clock
        self.checker = ReportChecker(registries)
        self.stats = WorkerStats()
        self.in_flight = InFlight(limit=config.max_requests_in_flight)
        self._rejections: Counter[tuple[str, str]] = Counter()  # (day, reason) not yet handed on

    def count_rejection(self, reason: str) -> None:
        day = dt.datetime.fromtimestamp(self.clock(), dt.UTC).date().isoformat()
        self.stats.rejections[reason] += 1
        self._rejections[(day, reason)] += 1

    async def copy_in_flight(
        self, on_the_way: Mapping[str, asyncio.Future[Any]], report_id: str, failed: type[Exception]
    ) -> bool:
        """True (a duplicate, counted) when a copy of this report id already on its way got stored."""
        while (waiting := on_the_way.get(report_id)) is not None:
            try:
                await asyncio.shield(waiting)
            except failed:
                continue  # that copy was not stored: this one tries
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not waiting.cancelled() or (task is not None and task.cancelling()):
                    raise  # this request itself is being cancelled
                return False  # that copy's request was cancelled (its record may be written): this one is journaled too
            self.stats.duplicates += 1
            return True
        return False
