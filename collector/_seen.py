"""A Bloom filter of the report ids already stored, so most batches skip the duplicate lookup.

Looking a batch's ids up in `reports` scans the report_id column, which grows with the
database. The filter answers "certainly new" for almost every id (about 0.07 % false
"maybe" at 16 bits and 7 probes per id), and only the "maybe" ids are looked up. A "maybe"
never decides anything on its own, so the filter can only cost time, never correctness: ids
are added as they are written and the filter is rebuilt from the database at start and when
it fills up. Deleted ids stay in it as harmless "maybe"s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

_MASK64: Final = (1 << 64) - 1
_MASK32: Final = (1 << 32) - 1
_PROBES: Final = 7
_BITS_PER_ID: Final = 16
_MIN_CAPACITY: Final = 1 << 16


def _mix(report_id: str) -> tuple[int, int]:
    # Python's string hash (64 bits, computed in C, cached on the string, salted per process,
    # which is fine: the filter lives only as long as the process) split into the two halves
    # that double hashing needs; the step is odd so the probes differ.
    value = hash(report_id) & _MASK64
    return value & _MASK32, (value >> 32) | 1


class SeenIds:
    def __init__(self, ids: Iterable[str], expected: int) -> None:
        self.capacity = max(_MIN_CAPACITY, 2 * expected)
        bits = 1 << (self.capacity * _BITS_PER_ID - 1).bit_length()
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)
        self.count = 0
        for report_id in ids:
            self.add(report_id)

    @property
    def full(self) -> bool:
        return self.count > self.capacity

    def add(self, report_id: str) -> None:
        h1, h2 = _mix(report_id)
        bits, mask = self._bits, self._mask
        for i in range(_PROBES):
            position = (h1 + i * h2) & mask
            bits[position >> 3] |= 1 << (position & 7)
        self.count += 1

    def maybe(self, report_id: str) -> bool:
        """False: certainly never added. True: perhaps added (look it up)."""
        h1, h2 = _mix(report_id)
        bits, mask = self._bits, self._mask
        for i in range(_PROBES):
            position = (h1 + i * h2) & mask
            if not bits[position >> 3] & (1 << (position & 7)):
                return False
        return True
