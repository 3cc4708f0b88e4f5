"""A Bloom filter of the report ids already stored, kept by the loader in a file the workers map.

The loader checks a batch's ids against it and looks up only the "maybe" ones (about 0.07 %
false "maybe" at 16 bits and 7 probes per id). The workers map the same file read-only: an id
the filter has never seen is certainly not stored, and for a "maybe" a worker asks the loader
(an exact lookup) before it answers 200. A "maybe" never decides anything on its own, so the
filter can only cost time, never correctness.

Each worker keeps one too, of the ids it has journaled (`w0.seen`, ...), so a copy sent to
another worker is recognised before the first is loaded.

The hash is keyed: each filter draws a random 128-bit key when it is made and keeps it in its
file, and whoever maps the file hashes with that key. Without the key a client cannot choose
report ids that all land on bits already set (each such id would cost an exact lookup). A report
id is a UUID (the ingest check's pattern), so the hash mixes its 128 bits (the high half with
the key through the MurmurHash3 finaliser, a bijection on 64 bits, then with the low half and the
key's other half through it again: no difference between two ids cancels whatever the key), which numpy does for a
whole batch of canonical lower-case UUIDs at once exactly as Python does for one id (any other
batch goes id by id); an id that is not hexadecimal, which never passes the check, is hashed by
BLAKE2b instead, so a filter takes any string.

A file is a u64 capacity, the key (two u64), then the bits. When it fills up the loader writes a
bigger one beside it and renames it into place; the workers notice the new file and map it.
"""

from __future__ import annotations

import functools
import mmap
import os
import struct
from collections.abc import Iterable
from hashlib import blake2b
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

SEEN_SUFFIX: Final = ".seen"
SEEN_FILE: Final = "loader" + SEEN_SUFFIX
_PROBES: Final = 7
_BITS_PER_ID: Final = 16
_MIN_CAPACITY: Final = 1 << 16
_HEAD: Final = struct.Struct("<QQQ")  # capacity, key
_M64: Final = (1 << 64) - 1
_M128: Final = (1 << 128) - 1
_C1: Final = 0xFF51AFD7ED558CCD
_C2: Final = 0xC4CEB9FE1A85EC53
_HEX: Final = np.full(256, 255, np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_DIGITS: Final = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])  # a UUID's hex digits
Key = tuple[int, int]


def _fmix(z: int) -> int:
    z ^= z >> 33
    z = (z * _C1) & _M64
    z ^= z >> 33
    z = (z * _C2) & _M64
    return z ^ (z >> 33)


@functools.lru_cache(maxsize=64)  # a worker probes several filters with the same id
def _bits128(report_id: str) -> int:
    try:
        return int(report_id.replace("-", ""), 16) & _M128
    except ValueError:
        return int.from_bytes(blake2b(report_id.encode(), digest_size=16).digest(), "big")


def mix(report_id: str, key: Key) -> tuple[int, int]:
    """The id's hash pair under ``key`` (double hashing: a start and an odd step)."""
    value = _bits128(report_id)
    value = _fmix(_fmix((value >> 64) ^ key[0]) ^ (value & _M64) ^ key[1])
    return value & 0xFFFFFFFF, (value >> 32) | 1


def _fmix_many(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    z ^= z >> np.uint64(33)
    z *= np.uint64(_C1)
    z ^= z >> np.uint64(33)
    z *= np.uint64(_C2)
    z ^= z >> np.uint64(33)
    return z


def _hash_many(report_ids: pa.Array, key: Key) -> npt.NDArray[np.uint64]:
    """`mix`'s 64-bit value for each id, in whole arrays when every id is a canonical UUID."""
    ids = report_ids.cast(pa.string())
    offsets = np.frombuffer(ids.buffers()[1], np.int32)[ids.offset : ids.offset + len(ids) + 1]
    canonical = len(ids) > 0 and ids.null_count == 0 and bool(np.all(np.diff(offsets) == 36))
    if canonical:
        text = np.frombuffer(ids.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 36)
        nibbles = _HEX[text[:, _DIGITS]]
        canonical = bool(np.all(text[:, [8, 13, 18, 23]] == ord("-"))) and bool(np.all(nibbles < 16))
    if canonical:
        octets = np.ascontiguousarray(nibbles[:, 0::2] << np.uint8(4) | nibbles[:, 1::2])
        words = octets.view(">u8").astype(np.uint64)  # (n, 2): the high and the low 64 bits
        high, low = words[:, 0], words[:, 1]
    else:
        values = [_bits128(i) for i in ids.to_pylist()]
        high = np.array([v >> 64 for v in values], np.uint64)
        low = np.array([v & _M64 for v in values], np.uint64)
    mixed = _fmix_many(high ^ np.uint64(key[0]))
    mixed ^= low
    mixed ^= np.uint64(key[1])
    return _fmix_many(mixed)


def new_key() -> Key:
    return struct.unpack("<QQ", os.urandom(16))


def _size(capacity: int) -> int:
    return 1 << (capacity * _BITS_PER_ID - 1).bit_length()


class SeenIds:
    def __init__(
        self, ids: Iterable[str] | pa.Array, expected: int, path: Path | None = None, key: Key | None = None
    ) -> None:
        """A filter for about ``expected`` ids (twice that before it is full); in ``path`` when given.

        ``key``: the hash key (a new random one when not given).
        """
        self.key = key or new_key()
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
            _HEAD.pack_into(self._map, 0, self.capacity, *self.key)
            self._bits = self._map
        self._offset = 0 if path is None else _HEAD.size
        self.count = 0
        ids = ids if isinstance(ids, pa.Array) else pa.array(list(ids), pa.string())
        for start in range(0, len(ids), 1 << 16):  # in whole arrays, a slice at a time (bounded memory)
            self.check_and_add_many(ids.slice(start, 1 << 16))
        if path is not None:
            os.replace(path.with_name(path.name + ".new"), path)

    @property
    def full(self) -> bool:
        return self.count > self.capacity

    def add(self, report_id: str) -> None:
        h1, h2 = mix(report_id, self.key)
        bits, mask, base = self._bits, self._mask, self._offset
        for i in range(_PROBES):
            position = (h1 + i * h2) & mask
            bits[base + (position >> 3)] |= 1 << (position & 7)
        self.count += 1

    def maybe(self, report_id: str) -> bool:
        """False: certainly never added. True: perhaps added (look it up)."""
        return _maybe(self._bits, self._offset, self._mask, mix(report_id, self.key))

    def check_and_add(self, report_id: str) -> bool:
        """`maybe` and `add` in one pass over the probes: whether the id was perhaps added before."""
        h1, h2 = mix(report_id, self.key)
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

    def check_and_add_many(self, report_ids: pa.Array | list[str]) -> npt.NDArray[np.bool_]:
        """`check_and_add` for many ids at once, probing in whole arrays: whether each was perhaps added.

        Each id is checked against the filter as it was before the call (an id twice in
        ``report_ids`` is "maybe" only if it was added before: the caller finds copies within a batch).
        """
        if not isinstance(report_ids, pa.Array):
            report_ids = pa.array(report_ids, pa.string())
        hashes = _hash_many(report_ids, self.key)
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
        self._key: Key = (0, 0)

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
        capacity, *key = _HEAD.unpack_from(mapped, 0) if len(mapped) >= _HEAD.size else (0, 0, 0)
        if not capacity or len(mapped) != _HEAD.size + _size(capacity) // 8:  # (not yet, or an older layout)
            mapped.close()
            return
        if self._map is not None:
            self._map.close()
        self._map, self._inode, self._mask, self._key = mapped, inode, _size(capacity) - 1, (key[0], key[1])

    def maybe(self, report_id: str) -> bool:
        if self._map is None:
            return False
        return _maybe(self._map, _HEAD.size, self._mask, mix(report_id, self._key))
