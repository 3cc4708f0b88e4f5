"""The journal: an append-only, segmented, checksummed record log, the collector's durability point.

One journal per HTTP worker, in its own folder (0700) under the collector's journal folder:
`<journal>/<name>/<seq:012d>.seg`, files 0600. A record is

    length (u32, little-endian) | crc32 of length and payload (u32) | payload

Segments are preallocated to their full size (so fdatasync never has to grow a file), which
means a segment ends at its first record of length 0 (the preallocated zeros) or at the end of
the file. A record whose checksum does not match is a torn tail: a crash in the middle of a
write. The writer cuts it when it opens the journal again (truncating the segment there) and
always continues in a new segment, so a record after a cut is never seen and never loaded.

Group commit: records appended from the event loop wait in memory; the writer thread takes
all that waits, writes it with one call, `fdatasync`s, and only then settles their futures:
an acknowledgement (202) is sent only for a record on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import mmap
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._disk import for_lack_of_space, log_commit_failure
from ._stats import JournalStats

log = logging.getLogger("optin.collector")

HEADER: Final = struct.Struct("<II")
SUFFIX: Final = ".seg"
RECOVER_S: Final = 1.0  # a journal that failed tries a new segment this often, even without records


class JournalUnavailable(Exception):
    """The journal cannot take this record now (disk full, I/O error, closing); nothing was acknowledged."""


def frame(payload: bytes) -> bytes:
    head = struct.pack("<I", HEADER.size + len(payload))
    return b"".join((head, struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))), payload))  # one copy


def segment_name(seq: int) -> str:
    return f"{seq:012d}{SUFFIX}"


def segments(folder: Path) -> list[int]:
    """Sequence numbers of the segments in a journal folder, in order."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(int(n[: -len(SUFFIX)]) for n in names if n.endswith(SUFFIX) and n[: -len(SUFFIX)].isdigit())


@dataclass(slots=True)
class Scan:
    """Records read from one segment: payloads, the offset after the last whole one, and why reading stopped."""

    payloads: list[bytes]
    end: int
    torn: bool  # stopped at a record whose checksum or length is wrong (not at zeros or the end of the file)


@dataclass(slots=True)
class Walk:
    """Where whole, valid records lie in a segment: each payload's start and end, no bytes copied."""

    starts: list[int]
    ends: list[int]
    end: int  # the offset after the last record walked
    torn: bool  # as `Scan.torn`
    other: bool = False  # stopped before a record of another kind than the one asked for (at ``end``)


def walk(data: bytes | mmap.mmap, offset: int, limit: int = 1 << 62, kind: int | None = None) -> Walk:
    """The places of at most ``limit`` whole, valid records from ``offset``; with ``kind``, only a run of that kind."""
    starts: list[int] = []
    ends: list[int] = []
    size = len(data)
    unpack, crc32 = HEADER.unpack_from, zlib.crc32
    torn = other = False
    with memoryview(data) as view:  # slices of a view are not copies: the checksums read the file in place
        while len(starts) < limit and offset + HEADER.size <= size:
            length, checksum = unpack(data, offset)
            if length == 0:
                break
            end = offset + length
            if length < HEADER.size or end > size:
                torn = True
                break
            start = offset + HEADER.size
            if crc32(view[start:end], crc32(view[offset : offset + 4])) != checksum:
                torn = True
                break
            if kind is not None and data[start] != kind:
                other = True
                break
            starts.append(start)
            ends.append(end)
            offset = end
        else:
            if offset + HEADER.size > size and offset < size and any(view[offset:size]):
                torn = True  # a few bytes of a header and nothing else
    return Walk(starts, ends, offset, torn, other)


def scan(data: bytes | mmap.mmap, offset: int, limit: int = 1 << 62) -> Scan:
    """Parse whole, valid records of ``data`` from ``offset``; at most ``limit`` of them."""
    places = walk(data, offset, limit)
    return Scan([data[s:e] for s, e in zip(places.starts, places.ends, strict=True)], places.end, places.torn)


class Segment:
    """A segment file mapped for reading (the preallocated zeros are never copied); a context manager."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.data: bytes | mmap.mmap = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) if size else b""

    def __enter__(self) -> Segment:
        return self

    def __exit__(self, *exc: object) -> None:
        if isinstance(self.data, mmap.mmap):
            self.data.close()


def read_segment(path: Path, offset: int, limit: int = 1 << 62) -> Scan:
    """Read whole records from ``offset`` of a segment file."""
    with Segment(path) as segment:
        if len(segment.data) <= offset:
            return Scan([], offset, False)
        return scan(segment.data, offset, limit)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def cut_torn_tail(path: Path) -> int:
    """Truncate a segment after its last whole record; returns the bytes kept."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        data = f.read()
    result = scan(data, 0)
    if result.torn or result.end < size:
        with open(path, "r+b") as f:
            f.truncate(result.end)
            os.fsync(f.fileno())
        if result.torn:
            log.warning("journal: torn tail cut", extra={"event": "journal_tail_cut", "count": size - result.end})
    return result.end


class JournalWriter:
    """One worker's journal; ``append`` from the event loop, a thread writes and syncs groups."""

    def __init__(
        self,
        folder: Path,
        segment_bytes: int,
        group_wait_s: float,
        max_pending: int,
        header: bytes,
    ) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        self.group_wait_s = group_wait_s
        self.max_pending = max_pending
        self.header = frame(header)  # first record of every segment (what the loader needs to read the rest)
        self.stats = JournalStats()
        self.seq = 0
        self.offset = 0  # durable end of the current segment
        self.ends: dict[int, int] = {}  # segment → its durable end, for every segment this writer knows
        self._fd = -1
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._pending_bytes = 0
        self._cond = threading.Condition()
        self._closing = False
        self._broken: str = ""  # why the current segment cannot take more (a new one is tried per group)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cut a torn tail left by a crash, start a new segment, start the writer thread."""
        self._loop = loop
        for folder in (self.folder.parent, self.folder):  # the journal root and this journal: 0700
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
        known = segments(self.folder)
        for seq in known:
            path = self.folder / segment_name(seq)
            self.ends[seq] = cut_torn_tail(path) if seq == known[-1] else path.stat().st_size
        self.seq = known[-1] if known else 0
        self._new_segment()
        self._thread = threading.Thread(target=self._run, name="optin-journal", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write and sync what waits, then stop (the segment keeps its preallocated zeros)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def forget(self, seq: int) -> None:
        """The loader has loaded and deleted segments before ``seq``."""
        for old in [s for s in self.ends if s < seq]:
            del self.ends[old]

    def unloaded_bytes(self, seq: int, offset: int) -> int:
        """Bytes of this journal after the loader's position (seq, offset)."""
        total = 0
        for s, end in self.ends.items():
            if s > seq:
                total += end
            elif s == seq:
                total += max(0, end - offset)
        return total

    @property
    def healthy(self) -> bool:
        return not self._broken

    @property
    def pending(self) -> int:
        return len(self._pending)

    # --- event loop --------------------------------------------------------------------------

    def append(self, payload: bytes) -> asyncio.Future[None]:
        """Queue a record; the future settles once its group is on disk (JournalUnavailable if not)."""
        assert self._loop is not None
        if self._closing:
            raise JournalUnavailable("closing")
        if len(self._pending) >= self.max_pending:
            raise JournalUnavailable("too many records waiting for the disk")
        future: asyncio.Future[None] = self._loop.create_future()
        record = frame(payload)
        with self._cond:
            self._pending.append((record, future))
            self._pending_bytes += len(record)
            if len(self._pending) == 1:
                self._cond.notify()
        return future

    # --- writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    if self._broken:  # try a new segment now and then, so health returns without traffic
                        self._cond.wait(RECOVER_S)
                        if not self._pending and not self._closing:
                            self._recover()
                    else:
                        self._cond.wait()
                if not self._pending and self._closing:
                    return
            if self.group_wait_s > 0 and not self._closing:
                time.sleep(self.group_wait_s)  # let the group grow (the next fsync is the real wait)
            with self._cond:
                group, self._pending = self._pending, []
                self._pending_bytes = 0
            self._write_group(group)

    def _write_group(self, group: list[tuple[bytes, asyncio.Future[None]]]) -> None:
        error: BaseException | None = None
        started = time.perf_counter()
        try:
            # A group larger than what is left of the segment is split: the rest goes to the next one.
            chunk: list[bytes] = []
            room = self.segment_bytes - self.offset if not self._broken else 0
            for record, _ in group:
                if chunk and len(record) > room:
                    self._write(b"".join(chunk))
                    chunk = []
                    room = 0
                if len(record) > room:
                    self._new_segment()
                    room = self.segment_bytes - self.offset
                chunk.append(record)
                room -= len(record)
            self._write(b"".join(chunk))
        except OSError as failure:
            # Never retry a failed fsync on the same file (its pages may be gone): the next group
            # goes to a new segment; the loader stops reading this one at its first bad record.
            error = JournalUnavailable(errno.errorcode.get(failure.errno or 0, "EIO"))
            self._broken = errno.errorcode.get(failure.errno or 0, "EIO")
            self.stats.failures += 1
            if for_lack_of_space(failure):  # "disk full", with the room left and the device, never a path
                log_commit_failure(self.folder / SUFFIX, len(group), failure, 0)
            else:
                log.error("journal: group not written (%s)", self._broken, extra={"event": "journal_failed"})
        else:
            elapsed = time.perf_counter() - started
            stats = self.stats
            stats.records += len(group)
            stats.groups += 1
            stats.fsync_seconds_sum += elapsed
            stats.fsync_seconds_max = max(stats.fsync_seconds_max, elapsed)
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(_settle, [future for _, future in group], error)

    def _write(self, data: bytes) -> None:
        written = os.pwrite(self._fd, data, self.offset)
        if written != len(data):
            raise OSError(errno.EIO, "short write")
        os.fdatasync(self._fd)
        self.offset += len(data)
        self.ends[self.seq] = self.offset
        self.stats.bytes += len(data)

    def _recover(self) -> None:
        try:
            self._new_segment()
        except OSError:
            return

    def _new_segment(self) -> None:
        """Close the current segment and start the next one, preallocated, with its header record."""
        seq = self.seq + 1
        path = self.folder / segment_name(seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _preallocate(fd, self.segment_bytes)
            os.pwrite(fd, self.header, 0)
            os.fdatasync(fd)
            _fsync_dir(self.folder)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self.seq, self.offset = fd, seq, len(self.header)
        self.ends[seq] = self.offset
        if self._broken:
            log.info("journal: writing again", extra={"event": "journal_recovered"})
        self._broken = ""
        self.stats.segments_created += 1


def _preallocate(fd: int, size: int) -> None:
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
    else:  # no fallocate (macOS, Windows): the file grows as it is written
        os.ftruncate(fd, size)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def records(folder: Path, seq: int) -> Iterator[bytes]:
    """Every whole record of one segment (tests and tools)."""
    yield from read_segment(folder / segment_name(seq), 0).payloads
