"""The disk under the database: how much room is left, and whether a failure was for lack of it.

Logged and reported by the device number and free bytes only, never by a path (an operator's
paths may name people or customers).
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("optin.collector")

_NO_ROOM = (os.strerror(errno.ENOSPC), os.strerror(errno.EFBIG), os.strerror(errno.EDQUOT))


@dataclass(frozen=True, slots=True)
class DiskState:
    free_bytes: int  # available to this process (statvfs f_bavail)
    device: str  # "major:minor" of the filesystem holding the database

    def full(self, min_free_bytes: int) -> bool:
        return self.free_bytes < min_free_bytes


def disk_state(db: Path) -> DiskState:
    """Room on the filesystem of ``db`` (its folder, which exists once the store is open)."""
    folder = db.parent
    stats = os.statvfs(folder)
    dev = os.stat(folder).st_dev
    return DiskState(stats.f_bavail * stats.f_frsize, f"{os.major(dev)}:{os.minor(dev)}")


def full_disk_answer(db: Path, min_free_bytes: int) -> dict[str, object] | None:
    """/healthz's 503 body when the disk under ``db`` is below the reserve now, else None (also when unknown)."""
    try:
        disk = disk_state(db)
    except OSError:
        return None
    if not disk.full(min_free_bytes):
        return None
    return {"status": "not_ready", "reason": "disk_full", "free_bytes": disk.free_bytes, "device": disk.device}


def for_lack_of_space(error: BaseException) -> bool:
    """Whether a failed write (an OSError, or DuckDB's exception carrying the OS message) ran out of room."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    message = str(error)
    return any(reason in message for reason in _NO_ROOM)


def log_commit_failure(db: Path, reports: int, error: BaseException, min_free_bytes: int) -> None:
    """One line per failed commit: "disk full" with the room left and the device when space ran out."""
    try:
        state: DiskState | None = disk_state(db)
    except OSError:
        state = None
    if for_lack_of_space(error) or (state is not None and state.full(min_free_bytes)):
        extra: dict[str, object] = {"event": "disk_full", "count": reports}
        if state is not None:
            extra.update(free_bytes=state.free_bytes, device=state.device)
        log.error(
            "store: disk full: batch of %d not committed (%s bytes free on device %s)",
            reports,
            "?" if state is None else state.free_bytes,
            "?" if state is None else state.device,
            extra=extra,
        )
    else:
        log.error("store: batch of %d failed to commit (%s)", reports, type(error).__name__)


def log_disk_at_start(db: Path, min_free_bytes: int) -> None:
    try:
        state = disk_state(db)
    except OSError:
        return
    if state.full(min_free_bytes):
        log.warning(
            "store: disk full at start (%d bytes free on device %s): not ready",
            state.free_bytes,
            state.device,
            extra={"event": "disk_full", "free_bytes": state.free_bytes, "device": state.device},
        )
