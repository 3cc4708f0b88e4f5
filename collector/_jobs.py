"""Periodic jobs of the loader: the one place where work that needs the read-write connection is scheduled.

`scheduled(config, registries, clock)` lists what runs between load rounds, on the loader thread,
every maintenance_interval_s: privacy releases of closed periods, then retention (releases go
first: retention must not take rows a due release needs), then a Parquet snapshot if a folder is
configured. A new job is one more step of `maintain` or one more `Every(...)` entry here.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from optin.contract import Registry

from ._config import Config
from ._loader import Loader
from ._releases import release_due
from ._retention import roll_up
from ._snapshot import SnapshotInfo, write_snapshot

log = logging.getLogger("optin.collector")


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    cutoff: dt.date
    reports_rolled_up: int
    snapshot: SnapshotInfo | None


def retain(loader: Loader, cutoff: dt.date) -> int:
    """Loader thread: roll raw rows of days before ``cutoff`` up into daily_rollup and delete them."""
    removed, gone = loader.transaction(lambda con: roll_up(con, cutoff))
    for installation_id in gone:
        loader.keys.installations.pop(installation_id, None)
    log.info("retention", extra={"event": "retention", "count": removed})
    return int(removed)


def snapshot(loader: Loader, config: Config) -> SnapshotInfo:
    if config.snapshot_dir is None:
        raise ValueError("no snapshot_dir configured")
    cursor = loader.reader()
    try:
        info = write_snapshot(cursor, config.snapshot_dir)
    finally:
        cursor.close()
    log.info("snapshot", extra={"event": "snapshot", "count": info.reports})
    return info


def maintain(
    loader: Loader, config: Config, registries: Mapping[tuple[str, int], Registry], clock: Callable[[], float]
) -> MaintenanceResult:
    """Loader thread: due releases, retention by the collector's clock, then a snapshot if configured."""
    release_due(loader, config, registries, clock)
    today = dt.datetime.fromtimestamp(clock(), dt.UTC).date()
    cutoff = today - dt.timedelta(days=config.retention_days)
    removed = retain(loader, cutoff)
    info = snapshot(loader, config) if config.snapshot_dir is not None else None
    return MaintenanceResult(cutoff, removed, info)


class Every:
    """Run ``job`` at the first round and then every ``interval_s``; a failure is logged and retried next time."""

    def __init__(self, interval_s: float, job: Callable[[Loader], object]) -> None:
        self.interval_s, self.job, self.next_at = interval_s, job, 0.0

    def __call__(self, loader: Loader) -> None:
        now = time.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + self.interval_s
        try:
            self.job(loader)
        except Exception as error:
            log.error("job failed (%s)", type(error).__name__, extra={"event": "maintenance_failed"})


def scheduled(
    config: Config, registries: Mapping[tuple[str, int], Registry], clock: Callable[[], float]
) -> list[Callable[[Loader], None]]:
    return [Every(config.maintenance_interval_s, lambda loader: maintain(loader, config, registries, clock))]
