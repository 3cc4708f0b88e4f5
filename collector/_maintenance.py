"""Maintenance on a schedule inside the collector: privacy releases, retention, then a snapshot if configured."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from ._keys import CLOCK, CONFIG, STORE
from ._releases import release_due
from ._snapshot import SnapshotInfo, write_snapshot

log = logging.getLogger("optin.collector")


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    cutoff: dt.date
    reports_rolled_up: int
    snapshot: SnapshotInfo | None


async def maintain(app: web.Application) -> MaintenanceResult:
    """Release closed periods, roll up and delete raw rows older than the retention age (by the
    collector's clock), then snapshot. Releases go first: retention must not take rows a due release needs."""
    config, store = app[CONFIG], app[STORE]
    await release_due(app)
    today = dt.datetime.fromtimestamp(app[CLOCK](), dt.UTC).date()
    cutoff = today - dt.timedelta(days=config.retention_days)
    removed = await store.retain(cutoff)
    assert isinstance(removed, int)
    log.info("retention", extra={"event": "retention", "count": removed})
    snapshot = None
    if config.snapshot_dir is not None:
        snapshot = await snapshot_now(app)
    return MaintenanceResult(cutoff, removed, snapshot)


async def snapshot_now(app: web.Application) -> SnapshotInfo:
    """Write a snapshot to the configured folder from a read cursor, off the event loop."""
    target = app[CONFIG].snapshot_dir
    if target is None:
        raise ValueError("no snapshot_dir configured")
    cursor = app[STORE].reader()

    def work() -> SnapshotInfo:
        try:
            return write_snapshot(cursor, target)
        finally:
            cursor.close()

    info = await asyncio.to_thread(work)
    log.info("snapshot", extra={"event": "snapshot", "count": info.reports})
    return info


async def _every(app: web.Application) -> None:
    while True:
        try:
            await maintain(app)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a failed run is logged and retried next time; ingest goes on
            log.error("maintenance failed (%s)", type(error).__name__, extra={"event": "maintenance_failed"})
        await asyncio.sleep(app[CONFIG].maintenance_interval_s)


async def maintenance_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_every(app), name="optin-maintenance")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
