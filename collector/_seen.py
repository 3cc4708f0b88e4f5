"""A Bloom filter of the report ids already stored, kept by the loader in a file the workers map.

The loader checks a batch's ids against it and looks up only the "maybe" ones (about 0.07 %
false "maybe" at 16 bits and 7 probes per id). The workers map the same file read-only: an id
the filter has never seen is certainly not stored, and for a "maybe" a worker asks the loader
(an exact lookup) before it answers 200. A "maybe" never decides anything on its own, so the
filter can only cost time, never correctness.

Each worker keeps one too, of the ids it has journaled (`w0.seen`, ...), so a copy sent to
another worker is recognised before the first is loaded. The hash is deterministic (BLAKE2b,
64 bits, split in two for double hashing) so that every process agrees. A file is a u64
capacity, then the bits. When it fills up the loader
writes a bigger one beside it and renames it into place; the workers notice the new file and map it.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable
from hashlib import blake2b
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

SEEN_SUFFIX: Final = ".seen"
SEEN_FILE: Final = "loader" + SEEN_SUFFIX
_PROBES: Final = 7
_BITS_PER_ID: Final = 16
_MIN_CAPACITY: Final = 1 << 16
_HEAD: Final = struct.Struct("<Q")


def _hash(report_id: str) -> int:
    return int.from_bytes(blake2b(report_id.encode(), digest_size=8).digest(), "little")


def mix(report_id: str) -> tuple[int, int]:
    """The id's hash pair (every filter takes it: hash once, probe many)."""
    value = _hash(report_id)
    return value & 0xFFFFFFFF, (value >> 32) | 1  # the step is odd so the probes differ


def _size(capacity: int) -> int:
    return 1 << (capacity * _BITS_PER_ID - 1).bit_length()


class SeenIds:
    def __init__(self, ids: Iterable[str], expected: int, path: Path | None = None) -> None:
        """A filter for about ``expected`` ids (twice that before it is full); in ``path`` when given."""
        self.capacity = max(_MIN_CAPACITY, 2 * expected)
        bits = _size(self.capacity)
        self._mask = bits - 1
        self._map: mmap.mmap | None = None
        if path is None:
            self._bits: bytearray | mmap.mmap = bytearray(bits // 8)
        else:
            temporary = path.with_name(path.name + ".new")
            fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.ftruncate(fd, _HEAD.size + bits // 8)
                # Blocks allocated now: a write through the map into a sparse page on a full disk
                # would kill the process with SIGBUS instead of raising here, where it is handled.
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(fd, 0, _HEAD.size + bits // 8)
                self._map = mmap.mmap(fd, _HEAD.size + bits // 8)
            finally:
                os.close(fd)
            _HEAD.pack_into(self._map, 0, self.capacity)
            self._bits = self._map
        self._offset = 0 if path is None else _HEAD.size
        self.count = 0
        ids = list(ids)
        for start in range(0, len(ids), 1 << 16):  # in whole arrays, a slice at a time (bounded memory)
            self.check_and_add_many(ids[start : start + (1 << 16)])
        if path is not None:
            os.replace(path.with_name(path.name + ".new"), path)

    @property
    def full(self) -> bool:
        return self.count > self.capacity

    def add(self, report_id: str, mixed: tuple[int, int] | None = None) -> None:
        """Add an id (``mixed``: its hash pair, when the caller has it already)."""
        h1, h2 = mixed or mix(report_id)
        bits, mask, base = self._bits, self._mask, self._offset
        for i in range(_PROBES):
            position = (h1 + i * h2) & mask
            bits[base + (position >> 3)] |= 1 << (position & 7)
        self.count += 1

    def maybe(self, report_id: str) -> bool:
        """False: certainly never added. True: perhaps added (look it up)."""
        return _maybe(self._bits, self._offset, self._mask, mix(report_id))

    def check_and_add(self, report_id: str) -> bool:
        """`maybe` and `add` in one pass over the probes: whether the id was perhaps added before."""
        h1, h2 = mix(report_id)
        bits, mask, base = self._bits, self._mask, self._offset
        before = True
        for i in range(_PROBES):
            position = (h1 + i * h2) & mask
            index, bit = base + (position >> 3), 1 << (position & 7)
            byte = bits[index]
            if not byte & bit:
                before = False
                bits[index] = byte | bit
        self.count += 1
        return before

    def check_and_add_many(self, report_ids: list[str]) -> npt.NDArray[np.bool_]:
        """`check_and_add` for many ids at once, probing in whole arrays: whether each was perhaps added.

        Each id is checked against the filter as it was before the call (an id twice in
        ``report_ids`` is "maybe" only if it was added before: the caller finds copies within a batch).
        """
        hashes = np.fromiter((_hash(report_id) for report_id in report_ids), np.uint64, len(report_ids))
        h1, h2 = hashes & np.uint64(0xFFFFFFFF), (hashes >> np.uint64(32)) | np.uint64(1)
        probes = np.arange(_PROBES, dtype=np.uint64)
        positions = (h1[:, None] + probes[None, :] * h2[:, None]) & np.uint64(self._mask)  # one row per id
        places = (positions >> np.uint64(3)).astype(np.intp) + self._offset
        bits = np.left_shift(np.uint8(1), (positions & np.uint64(7)).astype(np.uint8))
        octets = np.frombuffer(self._bits, np.uint8)
        try:
            maybe: npt.NDArray[np.bool_] = ((octets[places] & bits) != 0).all(axis=1)
            np.bitwise_or.at(octets, places.ravel(), bits.ravel())
        finally:
            del octets  # (the map cannot close while an array holds a view of it)
        self.count += len(report_ids)
        return maybe

    def close(self) -> None:
        if self._map is not None:
            self._map.close()


def _maybe(bits: bytearray | mmap.mmap, base: int, mask: int, mixed: tuple[int, int]) -> bool:
    h1, h2 = mixed
    for i in range(_PROBES):
        position = (h1 + i * h2) & mask
        if not bits[base + (position >> 3)] & (1 << (position & 7)):
            return False
    return True


class SeenView:
    """A worker's read-only view of the loader's filter file (none yet: nothing is "maybe")."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._inode = -1
        self._mask = 0

    def refresh(self) -> None:
        """Map the file again if the loader replaced it (called with every heartbeat)."""
        try:
            inode = os.stat(self.path).st_ino
            if inode == self._inode:
                return
            with open(self.path, "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return
        capacity = _HEAD.unpack_from(mapped, 0)[0]
        if len(mapped) != _HEAD.size + _size(capacity) // 8:
            mapped.close()
            return
        if self._map is not None:
            self._map.close()
        self._map, self._inode, self._mask = mapped, inode, _size(capacity) - 1

    def maybe(self, report_id: str, mixed: tuple[int, int] | None = None) -> bool:
        """``mixed``: the id's `mix`, when the caller has it already."""
        if self._map is None:
            return False
        return _maybe(self._map, _HEAD.size, self._mask, mixed or mix(report_id))
