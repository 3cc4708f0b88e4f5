"""The durable report queue: one file per report in the user data folder, oldest sent first.

A report is written whole (temp file, fsync, rename, folder fsync) before anything tries to
send it, and removed only after the collector acknowledged it. The queue is bounded in count
and bytes; when full, the oldest reports are evicted first and counted.

Every report names its installation id. Only reports of the current id may ever be sent, so
`purge` removes those of any other id (all of them while feedback is off): when feedback is
turned off, and again at every start while off and at every turn-on, which finishes a purge a
crash interrupted.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

import orjson

from optin.contract import CLIENT_COUNTERS

from ._files import TMP_PREFIX, private_dir, remove_leftovers, write_atomic

MAX_QUEUED_REPORTS: Final = 400  # more than a year of daily reports
MAX_QUEUED_BYTES: Final = 4 << 20  # a daily report is a few KiB; this bounds the disk we take
_NAME = re.compile(r"(\d{12})-([0-9a-f-]{36})\.json")


class ReportQueue:
    def __init__(self, folder: Path, max_reports: int = MAX_QUEUED_REPORTS, max_bytes: int = MAX_QUEUED_BYTES) -> None:
        self.folder = folder
        self.max_reports = max_reports
        self.max_bytes = max_bytes

    def open(self) -> None:
        """Create the folder and remove leftovers of writes interrupted by a crash."""
        private_dir(self.folder)
        remove_leftovers(self.folder)

    def pending(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if _NAME.fullmatch(p.name))

    def put(self, report_id: str, body: bytes) -> dict[str, int]:
        """Persist a report durably; evict the oldest beyond the bounds.

        Returns what the evictions must add to the client's counters: one per evicted report,
        plus the counters those reports carried (so no loss is ever lost from the count).
        """
        existing = self.pending()
        seq = int(existing[-1].name[:12]) + 1 if existing else 1
        write_atomic(self.folder / f"{seq:012d}-{report_id}.json", body)
        return self._evict(_installation_in(body))

    def _evict(self, installation_id: str | None) -> dict[str, int]:
        files = self.pending()
        sizes = [_size(p) for p in files]
        total = sum(sizes)
        carried = dict.fromkeys(CLIENT_COUNTERS, 0)
        while files and (len(files) > self.max_reports or total > self.max_bytes):
            oldest = files.pop(0)
            total -= sizes.pop(0)
            if installation_of(oldest) == installation_id:  # never carry another installation's counts
                for name, count in _client_counters(oldest).items():
                    carried[name] += count
            oldest.unlink(missing_ok=True)
            carried["evicted"] += 1
        return carried

    def read(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def purge(self, keep: str | None = None, on_removed: Callable[[], None] | None = None) -> int:
        """Remove every report not of installation ``keep`` (all of them when None) and every
        leftover of an interrupted write; with ``keep`` None the emptied folder goes too.

        ``on_removed`` runs after each removal (a crash-test seam). Returns how many reports went.
        """
        if not self.folder.is_dir():
            return 0
        removed = 0
        for path in sorted(self.folder.iterdir()):
            if path.name.startswith(TMP_PREFIX):
                path.unlink(missing_ok=True)
            elif _NAME.fullmatch(path.name) and (keep is None or installation_of(path) != keep):
                path.unlink(missing_ok=True)
                removed += 1
                if on_removed is not None:
                    on_removed()
        if keep is None:
            with contextlib.suppress(OSError):  # another process may have added a file meanwhile
                self.folder.rmdir()  # off leaves no folder behind
        return removed


def installation_of(path: Path) -> str | None:
    """The installation id a queued report carries; None when the file is gone or unreadable."""
    try:
        return _installation_in(path.read_bytes())
    except OSError:
        return None


def _installation_in(body: bytes) -> str | None:
    try:
        value = orjson.loads(body).get("installation_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def report_id_of(path: Path) -> str:
    match = _NAME.fullmatch(path.name)
    return match.group(2) if match else ""


def _client_counters(path: Path) -> dict[str, int]:
    try:
        counters = orjson.loads(path.read_bytes()).get("client", {})
        return {name: int(counters.get(name, 0)) for name in CLIENT_COUNTERS}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
