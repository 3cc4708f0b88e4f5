"""The report-id filters: one keyed hash, the same for one id (workers) and for a whole batch (the loader)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

from optin.collector._seen import SeenIds, SeenView, _hash_many, mix, new_key


def _one(report_id: str, key: tuple[int, int]) -> int:
    low, high = mix(report_id, key)
    return ((high & ~1) << 32) | low  # the 64-bit value, but for bit 32 (the step is made odd)


def _many(report_ids: list[str], key: tuple[int, int]) -> list[int]:
    hashes = _hash_many(pa.array(report_ids, pa.string()), key)
    return [int(h & ~np.uint64(1 << 32)) for h in hashes]


def test_the_batch_hash_equals_the_hash_of_one_id_for_uuids_and_for_anything_else() -> None:
    key = new_key()
    uuids = [str(uuid.uuid4()) for _ in range(2000)] + [str(uuid.uuid1()), "00000000-0000-0000-0000-000000000000"]
    assert _many(uuids, key) == [_one(i, key) for i in uuids]
    # Not canonical lower-case UUIDs: the whole batch takes the one-id path (BLAKE2b for non-UUIDs).
    odd = [*uuids[:50], uuids[50].upper(), "short-id", "x" * 36, uuids[51].replace("-", "_"), ""]
    assert _many(odd, key) == [_one(i, key) for i in odd]
    # Sliced arrays (the loader hands over slices) read their own part.
    sliced = _hash_many(pa.array(uuids, pa.string()).slice(700, 300), key)
    assert [int(h & ~np.uint64(1 << 32)) for h in sliced] == [_one(i, key) for i in uuids[700:1000]]


def test_the_key_decides_the_bits_so_ids_cannot_be_aimed_at_a_filter() -> None:
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    first, second = new_key(), new_key()
    assert first != second
    same = sum(a == b for a, b in zip(_many(ids, first), _many(ids, second), strict=True))
    assert same == 0
    # Ids that differ in one hex digit land far apart (the mix spreads every bit).
    base = ids[0]
    neighbours = [base[:-1] + c for c in "0123456789abcdef"]
    positions = {mix(i, first)[0] & 0xFFFF for i in neighbours}
    assert len(positions) >= 15


def test_a_view_of_a_filter_file_hashes_with_the_files_key(tmp_path: Path) -> None:
    path = tmp_path / "loader.seen"
    added = [str(uuid.uuid4()) for _ in range(3000)]
    seen = SeenIds(added[:1000], 1000, path)
    seen.check_and_add_many(added[1000:2000])
    for report_id in added[2000:]:
        seen.add(report_id)
    view = SeenView(path)
    view.refresh()
    assert all(view.maybe(i) for i in added)
    fresh = [str(uuid.uuid4()) for _ in range(20000)]
    assert sum(view.maybe(i) for i in fresh) < 100  # about 0.07 % expected
    # A filter rebuilt with another key and renamed into place: the view maps it and uses its key.
    rebuilt = SeenIds(added[:10], 10, path)
    assert rebuilt.key != seen.key
    view.refresh()
    assert all(view.maybe(i) for i in added[:10]) and sum(view.maybe(i) for i in added[10:]) < 10
    seen.close()
    rebuilt.close()


def test_a_file_of_the_older_layout_is_not_mapped(tmp_path: Path) -> None:
    """Before the key, a file was a u64 capacity and the bits: a view ignores it until the loader replaces it."""
    path = tmp_path / "loader.seen"
    capacity = 1 << 16
    path.write_bytes(capacity.to_bytes(8, "little") + b"\xff" * (capacity * 16 // 8))
    view = SeenView(path)
    view.refresh()
    assert not view.maybe(str(uuid.uuid4()))


def test_no_difference_between_two_ids_cancels_whatever_the_key() -> None:
    """Flipping the top bit of both halves (or any one or two bits) gives another hash under every key."""
    report_id = str(uuid.uuid4())
    value = int(report_id.replace("-", ""), 16)
    flips = [1 << 127 | 1 << 63] + [1 << bit for bit in range(128)] + [1 << 127 | 1 << 126, 1 << 64 | 1 << 0]
    others = []
    for flip in flips:
        text = f"{value ^ flip:032x}"
        others.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
    for _ in range(20):
        key = new_key()
        mine = mix(report_id, key)
        assert all(mix(other, key) != mine for other in others)
        assert _many([report_id, *others], key)[1:] == [_one(other, key) for other in others]
