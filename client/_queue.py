"""The durable report queue: one file per report in the user data folder, oldest sent first.

A report is written whole (temp file, fsync, rename, folder fsync) before anything tries to
send it, and removed only after the collector acknowledged it. The queue is bounded in count
and bytes; when full, the oldest reports are evicted first and counted.
"""

from __future__ import annotations

import os
import re
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
        return self._evict()

    def _evict(self) -> dict[str, int]:
        files = self.pending()
        sizes = [_size(p) for p in files]
        total = sum(sizes)
        carried = dict.fromkeys(CLIENT_COUNTERS, 0)
        while files and (len(files) > self.max_reports or total > self.max_bytes):
            oldest = files.pop(0)
            total -= sizes.pop(0)
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

    def purge(self) -> int:
        removed = 0
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                if _NAME.fullmatch(path.name) or path.name.startswith(TMP_PREFIX):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed


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
