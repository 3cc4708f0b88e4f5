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

`contains` is a set lookup (about 0.2 us). Several processes share the file: a worker calls
`refresh()` before it checks each report, so that a deletion another worker confirmed a moment
ago is refused at once. A stat of the file per report cost 6-8 % of a worker's CPU, so `add`
also counts up a generation in `<db>.tombstones.gen`, eight bytes every process maps shared,
after the line is synced and before `add` returns: `refresh()` reads that counter from memory
(about 0.2 us) and reads the file only when it changed. `sync()` (one stat) also catches lines
appended some other way; `refresh()` calls it once a second, the workers with their heartbeat.
Whoever loads reports into the database, after the deletion, checks `contains` too, since a
report may pass a worker's check just before the deletion is confirmed. The seam is `load()`,
`add(id)`, `contains(id)`, `refresh()`.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Final

if sys.platform != "win32":
    import fcntl

SUFFIX: Final = ".tombstones"  # beside the database file: <db>.tombstones
GENERATION_SUFFIX: Final = ".gen"  # beside it: <db>.tombstones.gen, the count of add() calls
_ID_CHARS: Final = 36  # a canonical UUID
_COUNTER: Final = struct.Struct("<Q")
SYNC_S: Final = 1.0  # refresh() also looks at the file's size this often (lines appended without add())


def tombstones_path(db: Path) -> Path:
    return db.with_name(db.name + SUFFIX)


def generation_path(path: Path) -> Path:
    return path.with_name(path.name + GENERATION_SUFFIX)


def _map_generation(path: Path) -> mmap.mmap | None:
    """The shared counter file, mapped read-write (created 0600 when missing); None where it cannot be mapped."""
    if sys.platform == "win32":  # no flock to count up under: refresh() stats the file instead
        return None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size < _COUNTER.size:
            os.ftruncate(fd, _COUNTER.size)  # zeros; another process doing the same at once changes nothing
        os.fchmod(fd, 0o600)
        return mmap.mmap(fd, _COUNTER.size)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


class Tombstones:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids: set[str] = set()
        self._offset = 0  # bytes of the file already read
        self._torn = False  # the file ends in a torn line that load() could not end
        self._lock = threading.Lock()  # add() runs on a worker thread, contains() on the event loop
        self._generation: mmap.mmap | None = None  # mapped by load(); None: refresh() stats the file instead
        self._seen = -1  # the generation as of the last read of the file
        self._synced = 0.0  # time.monotonic() of the last sync()

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
        if self._generation is None:
            self._generation = _map_generation(generation_path(self.path))
        self._seen = self._read_generation()  # before the file: an add() in between is read again next time
        self._refresh()

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    def contains(self, installation_id: str) -> bool:
        return installation_id in self._ids

    def refresh(self) -> None:
        """Read what other processes added since the last look (a read of the shared counter when nothing is new)."""
        if self._generation is None or time.monotonic() - self._synced > SYNC_S:
            self.sync()
        generation = self._read_generation()
        if generation != self._seen:
            self._seen = generation  # before the file: an add() counted after this is read again next time
            self._refresh()

    def sync(self) -> None:
        """Read lines appended since the last look however they were written (one stat when there are none)."""
        self._synced = time.monotonic()
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
            self._count_up(fd)  # the line is on disk: now every process's refresh() reads it
        finally:
            os.close(fd)

    def _read_generation(self) -> int:
        generation = self._generation
        return -1 if generation is None else int(_COUNTER.unpack_from(generation)[0])

    def _count_up(self, fd: int) -> None:
        """One more generation, under an exclusive lock of the tombstones file (adds in other processes wait)."""
        if self._generation is None:  # not mapped at load (e.g. no room then): try again, adds are rare
            self._generation = _map_generation(generation_path(self.path))
        generation = self._generation
        if generation is None or sys.platform == "win32":
            return  # the others find the line at their next sync(), within about a second
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            _COUNTER.pack_into(generation, 0, (_COUNTER.unpack_from(generation)[0] + 1) & 0xFFFFFFFFFFFFFFFF)
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _refresh(self) -> None:
        with self._lock, open(self.path, "rb") as file:
            file.seek(self._offset)
            data = file.read()
            whole = data.rfind(b"\n") + 1  # a line being appended right now is read next time
            for line in data[:whole].splitlines():
                if len(line) == _ID_CHARS:  # a torn line is skipped, never misread
                    self._ids.add(line.decode("ascii"))
            self._offset += whole
