"""Tombstones: installation ids whose deletion the collector confirmed; their reports are refused.

A client that is not fixed, or a copy of a report made before the user turned feedback off, must
never bring erased data back. So a deletion is answered 202 only once its id is written here,
and any later report of that id is refused with 410 `installation_deleted` (a 4xx other than
408/429: the client drops it for good and counts it).

The file lives beside the database and holds one id per line: 36 characters and a newline,
nothing else (no time, no address, no count). Lines are appended with O_APPEND and synced before
`add` returns, so a confirmed deletion survives a crash. Tombstones are kept for as long as the
database: a client retries a queued report across restarts for as long as it keeps it (there is
no upper bound on how long a computer stays offline), so no shorter horizon would be safe. Each
costs 37 bytes on disk and a set entry in memory.

`contains` is a set lookup (about 0.2 us; a stat of the file costs 7 to 14 us here, too much
for every report). Several processes may share the file: each calls `refresh()` now and then to
read what the others appended, and since a report may pass one process's check before it saw a
sibling's tombstone, whoever loads reports into the database, after the deletion, checks
`contains` too. The seam is `load()`, `add(id)`, `contains(id)`, `refresh()`.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Final

SUFFIX: Final = ".tombstones"  # beside the database file: <db>.tombstones
_ID_CHARS: Final = 36  # a canonical UUID


def tombstones_path(db: Path) -> Path:
    return db.with_name(db.name + SUFFIX)


class Tombstones:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids: set[str] = set()
        self._offset = 0  # bytes of the file already read
        self._torn = False  # the file ends in a torn line that load() could not end
        self._lock = threading.Lock()  # add() runs on a worker thread, contains() on the event loop

    def load(self) -> None:
        """Read the file (created empty, 0600, when missing). Blocking: call it before serving."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a line torn by a power loss: the next starts afresh
                try:
                    os.write(fd, b"\n")
                    os.fsync(fd)
                except OSError:  # no room to mend it now (a full disk): the next add() starts with a newline
                    self._torn = True
        finally:
            os.close(fd)
        os.chmod(self.path, 0o600)
        self._refresh()

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    def contains(self, installation_id: str) -> bool:
        return installation_id in self._ids

    def refresh(self) -> None:
        """Read the lines other processes appended since the last look (one stat when there are none)."""
        try:
            if os.stat(self.path).st_size > self._offset:
                self._refresh()
        except OSError:
            pass  # the file was there at load; what is in memory still holds

    def add(self, installation_id: str) -> None:
        """Record a confirmed deletion durably; blocking (write and fsync): run it off the event loop.

        Refusal starts at once, before the write: if the write fails (OSError), the deletion is
        not confirmed and the client sends it again, and its reports are refused meanwhile.
        """
        line = str(uuid.UUID(installation_id)).encode() + b"\n"  # only ever a canonical UUID
        if self._torn:
            line = b"\n" + line
        with self._lock:
            self._ids.add(installation_id)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
            self._torn = False
        finally:
            os.close(fd)

    def _refresh(self) -> None:
        with self._lock, open(self.path, "rb") as file:
            file.seek(self._offset)
            data = file.read()
            whole = data.rfind(b"\n") + 1  # a line being appended right now is read next time
            for line in data[:whole].splitlines():
                if len(line) == _ID_CHARS:  # a torn line is skipped, never misread
                    self._ids.add(line.decode("ascii"))
            self._offset += whole
