"""What the HTTP handlers need of a worker, whichever journal it writes to.

`_worker.Worker` journals to files on this machine and asks the local loader; `_nats_worker.NatsWorker`
publishes to a JetStream stream. The handlers and the error middleware see only this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from optin.contract import CheckedReport, ReportChecker

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
