"""The loader's column building: journal records → Arrow columns → rows, against the record-by-record decoder."""

from __future__ import annotations

import random
import time
import uuid
from array import array
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from optin.collector import _records as rec, _rows
from optin.collector._migrations import migrate
from optin.collector._seen import SeenIds
from optin.collector._surrogates import Keys
from optin.contract import CheckedReport, Registry, ReportChecker, check_report
from tests.helpers import make_report, random_metrics


def _payloads(registry: Registry, count: int, seed: int) -> list[bytes]:
    registries = {(registry.app, registry.version): registry}
    checker, rng, now = ReportChecker(registries), random.Random(seed), int(time.time())
    return [
        rec.encode_report(
            checker.from_report(check_report(make_report(registry, random_metrics(registry, rng)), registries, now)),
            now - rng.randint(0, 99),
        )
        for _ in range(count)
    ]


def _decode(payloads: list[bytes], maps: list[tuple[int, pa.Array]]) -> _rows.Batch:
    """`_rows.decode` over the records as a journal holds them: each after an 8-byte header (junk to the decoder)."""
    data, starts = bytearray(), []
    for payload in payloads:
        data += b"\xa5" * 8
        starts.append(len(data))
        data += payload
    return _rows.decode(bytes(data + b"\xa5" * 8), np.array(starts, np.int64), maps)


def _expected(payload: bytes, keys_of: pa.Array) -> tuple[list[object], list[tuple[int, int, int]]]:
    record = rec.decode_record(payload)
    ordinals, labels, values = array("i"), array("h"), array("q")
    ordinals.frombytes(record.ordinals)
    labels.frombytes(record.labels)
    values.frombytes(record.values)
    strings = [record.report_id, record.installation_id, record.app, record.app_version]
    keys = keys_of.to_pylist()
    return strings + list(record.head[1:10]), [
        (keys[o], la, v) for o, la, v in zip(ordinals, labels, values, strict=True)
    ]


def _actual(batch: _rows.Batch, i: int) -> tuple[list[object], list[tuple[int, int, int]]]:
    strings = [c[i].as_py() for c in (batch.report_ids, batch.installation_ids, batch.apps, batch.versions)]
    start, end = batch.value_offsets[i].as_py(), batch.value_offsets[i + 1].as_py()
    values = zip(
        *(c.slice(start, end - start).to_pylist() for c in (batch.metric_keys, batch.labels, batch.values)), strict=True
    )
    return strings + [batch.numbers[name][i].as_py() for name in _rows._NUMBERS], list(values)


def test_a_batch_decodes_every_record_as_the_record_decoder_does(registry: Registry) -> None:
    payloads = _payloads(registry, 120, 1)
    width = len(ReportChecker({(registry.app, registry.version): registry}).metric_names)
    first, second = pa.array(range(10, 10 + width), pa.int32()), pa.array(range(900, 900 + width), pa.int32())
    maps = [(0, first), (50, second), (90, first)]  # three segments' maps, as runs
    batch = _decode(payloads, maps)
    assert len(batch) == 120
    for i, payload in enumerate(payloads):
        keys_of = second if 50 <= i < 90 else first
        assert _actual(batch, i) == _expected(payload, keys_of)
    kept = batch.take(pa.array([119, 3, 50]))
    assert [_actual(kept, i) for i in range(3)] == [_actual(batch, i) for i in (119, 3, 50)]


def test_ids_of_other_lengths_are_read_from_their_own_places(registry: Registry) -> None:
    """Ids are canonical UUIDs (read at fixed places); a record with other lengths is still read right."""
    payloads = _payloads(registry, 3, 2)
    record = rec.decode_record(payloads[1])
    ordinals, labels, values = array("i"), array("h"), array("q")
    ordinals.frombytes(record.ordinals)
    labels.frombytes(record.labels)
    values.frombytes(record.values)
    _, received, start, end, sent, regv, dropped, evicted, rejected, discarded, *_ = record.head
    odd = CheckedReport(
        "short-id", "x" * 40, record.app, record.app_version, regv, start, end, sent,
        dropped, evicted, rejected, discarded, ordinals, labels, values,
    )  # fmt: skip
    payloads[1] = rec.encode_report(odd, received)
    keys_of = pa.array(range(1, 200), pa.int32())
    batch = _decode(payloads, [(0, keys_of)])
    assert [_actual(batch, i) for i in range(3)] == [_expected(p, keys_of) for p in payloads]


def _insert(tmp: Path, registry: Registry, keys_of: pa.Array) -> list[tuple[int, int, int]]:
    con = duckdb.connect(str(tmp / "o.duckdb"))
    con.execute("SET python_enable_replacements = true")
    migrate(con)
    keys = Keys()
    keys.load(con)
    keys.apps[registry.app] = 1
    rows = _rows.rows(_decode(_payloads(registry, 40, 3), [(0, keys_of)]), keys)
    _rows.insert(con, rows, [], transaction=True)
    stored = con.execute("SELECT metric_key, label_key, report_key FROM report_values ORDER BY rowid").fetchall()
    con.close()
    assert len(stored) > 200
    return stored


@pytest.mark.parametrize("spread", [1, 70_000], ids=["radix-sorted", "sorted-by-duckdb"])
def test_values_are_stored_by_metric_and_label_then_by_report_whichever_sorts_them(
    tmp_path: Path, registry: Registry, spread: int
) -> None:
    """Keys too far apart for a 16-bit radix sort go to DuckDB unsorted, with an ORDER BY."""
    width = len(ReportChecker({(registry.app, registry.version): registry}).metric_names)
    keys_of = pa.array([1 + (i * spread) % 2_000_000 for i in range(width)][::-1], pa.int32())
    stored = _insert(tmp_path, registry, keys_of)
    assert stored == sorted(stored)


def test_the_filter_tested_and_set_in_whole_arrays_agrees_with_one_id_at_a_time(tmp_path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3000)]
    many = SeenIds((), 3000, tmp_path / "x.seen")
    one = SeenIds((), 3000, key=many.key)
    first = many.check_and_add_many(ids[:2000]).tolist()
    assert first == [one.check_and_add(i) for i in ids[:2000]] and not any(first)
    again = many.check_and_add_many(ids[1000:]).tolist()
    assert again[:1000] == [True] * 1000  # added before: always "maybe"
    assert again[1000:] == [one.check_and_add(i) for i in ids[2000:]]  # the same (rare) false "maybe"s
    assert all(many.maybe(i) for i in ids)
    many.close()


def test_a_filter_rebuilt_when_full_still_holds_every_stored_id(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader grows its Bloom filter from the stored ids when it fills: every id must be in the new one."""
    from optin.collector import CollectorThread, Config, _seen
    from optin.collector._loader import Loader
    from tests.helpers import post_json

    monkeypatch.setattr(_seen, "_MIN_CAPACITY", 16)  # full after 32 ids instead of 131,072
    config = Config(db=tmp_path / "db" / "o.duckdb", port=0, load_interval_ms=50)
    sent: list[str] = []
    with CollectorThread(config) as running:
        service = running._service
        assert service is not None
        for _ in range(3):
            for _ in range(30):
                doc = make_report(registry)
                assert post_json(running.url, doc)[0] == 202
                sent.append(doc["report_id"])
            service.loader.caught_up().result(60)

        def seen_state(loader: Loader) -> tuple[int, list[bool]]:
            return loader._seen.capacity, [loader._seen.maybe(report_id) for report_id in sent]

        capacity, maybe = service.loader.call(seen_state).result(60)
    assert capacity > 32  # rebuilt at least once
    assert all(maybe), f"{maybe.count(False)} of {len(sent)} stored ids missing from the rebuilt filter"
