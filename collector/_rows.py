"""Arrow row building: a loader batch, from the journal's report records to Arrow tables, in whole-column passes.

The batch's records lie in one buffer (the loader copies each run of report records out of its
segment once and joins the runs), at known starts, with the journal's record headers left between
them; each field is then gathered for
every record at once (an Arrow list view over that buffer, flattened), so no Python code runs
per value, and per report only what reading the journal and hashing its id take. App, version
and installation strings become surrogate keys over their distinct values (one dict lookup per
distinct value, not per report).

The tables are local variables of `insert` that DuckDB finds by name (a replacement scan): cheaper
per statement than register() and unregister(). Every statement of a batch, the journal
positions included, goes to DuckDB in one call and one transaction.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from optin.contract import REPORT_COLUMN_NAMES

from ._records import REPORT_HEAD
from ._surrogates import Keys

_REPORT_SCHEMA: Final = pa.schema(
    [
        ("report_key", pa.int64()),
        ("report_id", pa.string()),
        ("inst_key", pa.int32()),
        ("app_key", pa.int16()),
        ("version_key", pa.int32()),
        ("registry_version", pa.int32()),
        ("day", pa.date32()),
        ("period_seconds", pa.int32()),
        ("dropped", pa.int32()),
        ("evicted", pa.int32()),
        ("rejected", pa.int32()),
        ("discarded", pa.int32()),
    ]
)
assert tuple(_REPORT_SCHEMA.names) == REPORT_COLUMN_NAMES
_REPORT_SELECT: Final = ", ".join("report_id::UUID" if n == "report_id" else n for n in REPORT_COLUMN_NAMES)
_DAY_S: Final = pa.scalar(86400, pa.int64())
_VALUE_SCHEMA: Final = pa.schema(
    [("report_key", pa.int64()), ("metric_key", pa.int32()), ("label_key", pa.int16()), ("value", pa.int64())]
)
_NUMBERS: Final = ("received", "start", "end", "sent", "regv", "dropped", "evicted", "rejected", "discarded")
_LENGTHS: Final = ("n_rid", "n_iid", "n_app", "n_ver", "n")
_UUID_CHARS: Final = 36  # report and installation ids are canonical UUIDs (the checker's patterns)
# The header after the kind byte, field by field (names, places and types from REPORT_HEAD's format).
_HEAD_DTYPE: Final = np.dtype(
    {
        "names": list(_NUMBERS + _LENGTHS),
        "formats": ["<" + code for code in REPORT_HEAD.format[2:]],
        "offsets": [struct.calcsize(REPORT_HEAD.format[: i + 2]) for i in range(len(REPORT_HEAD.format) - 2)],
        "itemsize": REPORT_HEAD.size,
    }
)


@dataclass(frozen=True)
class Batch:
    """Reports as columns: per report its strings and header numbers; per value its metric key, label, value."""

    report_ids: pa.Array
    installation_ids: pa.Array
    apps: pa.Array
    versions: pa.Array
    numbers: dict[str, pa.Array]  # the header's numbers (_NUMBERS), int64
    value_offsets: pa.Array  # int32, one more than reports: report i's values are [i] to [i + 1]
    metric_keys: pa.Array  # int32
    labels: pa.Array  # int16
    values: pa.Array  # int64

    def __len__(self) -> int:
        return len(self.report_ids)

    def take(self, indices: pa.Array) -> Batch:
        """Only the reports at ``indices`` (in that order), with their values."""
        value_columns = [
            pa.ListArray.from_arrays(self.value_offsets, column).take(indices)
            for column in (self.metric_keys, self.labels, self.values)
        ]
        return replace(
            self,
            report_ids=self.report_ids.take(indices),
            installation_ids=self.installation_ids.take(indices),
            apps=self.apps.take(indices),
            versions=self.versions.take(indices),
            numbers={name: column.take(indices) for name, column in self.numbers.items()},
            value_offsets=value_columns[0].offsets,
            metric_keys=value_columns[0].flatten(),
            labels=value_columns[1].flatten(),
            values=value_columns[2].flatten(),
        )


def decode(data: bytes, starts: npt.NDArray[np.int64], maps: list[tuple[int, pa.Array]]) -> Batch:
    """Report records lying in ``data`` at ``starts`` as one `Batch` (a record ends at most where the next starts);

    ``maps``: (first report, the ordinal → metric_key map from there on).
    """
    count = len(starts)
    buffer = pa.py_buffer(data)
    bounds = pa.array(np.append(starts, len(data)).astype(np.int32))
    records_array = pa.Array.from_buffers(pa.binary(), count, [None, bounds.buffers()[1], buffer])
    starts_array = bounds.slice(0, count)
    # The fixed-size headers: one slice of every record at once, read as a numpy record array.
    head = np.frombuffer(pc.binary_slice(records_array, 0, REPORT_HEAD.size).buffers()[2], _HEAD_DTYPE)
    spread = _Spread(buffer, count)
    at = pc.add(starts_array, pa.scalar(REPORT_HEAD.size, pa.int32()))
    strings: list[pa.Array] = []
    for name in ("n_rid", "n_iid", "n_app", "n_ver"):
        place = REPORT_HEAD.size + _UUID_CHARS * len(strings)
        if len(strings) < 2 and bool(np.all(head[name] == _UUID_CHARS)):  # ids: canonical UUIDs, at fixed places
            strings.append(pc.binary_slice(records_array, place, place + _UUID_CHARS).cast(pa.string()))
            size = _repeat(_UUID_CHARS, count)
        else:
            size = pa.array(head[name].astype(np.int32))
            strings.append(spread.gather(at, size).view(pa.string()))
        at = pc.add(at, size)
    columns = []
    counts = pa.array(head["n"].astype(np.int32))
    for kind in (pa.int32(), pa.int16(), pa.int64()):  # ordinals, labels, values
        size = pc.multiply(counts, pa.scalar(kind.bit_width // 8, pa.int32()))
        columns.append(_view(spread.gather(at, size).buffers()[2], kind))
        at = pc.add(at, size)
    ordinals, labels, values = columns
    value_offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(counts)])
    # Ordinals → metric keys, one take() per run of reports that share a map (one run per segment read).
    runs: list[pa.Array] = []
    for i, (first, keys_of) in enumerate(maps):
        start = value_offsets[first].as_py()
        end = value_offsets[maps[i + 1][0] if i + 1 < len(maps) else count].as_py()
        runs.append(pc.take(keys_of, ordinals.slice(start, end - start)))
    report_ids, installation_ids, apps, versions = strings
    return Batch(
        report_ids,
        installation_ids,
        apps,
        versions,
        numbers={name: pa.array(head[name].astype(np.int64)) for name in _NUMBERS},
        value_offsets=value_offsets,
        metric_keys=pa.concat_arrays(runs) if runs else pa.array([], pa.int32()),
        labels=labels,
        values=values,
    )


class _Spread:
    """Gathers one stretch of bytes per record, each at its own place, from the records' joined bytes.

    A binary array over the bytes whose values alternate between the wanted stretches and what
    lies between them (the places only rise, record after record), of which take() keeps every
    other value: one copy of the wanted bytes, end to end, in C.
    """

    def __init__(self, data: pa.Buffer, count: int) -> None:
        self.data = data
        self.count = count
        sequence = pc.subtract(pc.cumulative_sum(_repeat(1, 2 * count)), pa.scalar(1, pa.int32()))
        halves = pc.shift_right(sequence, pa.scalar(1, pa.int32()))
        # 0, n, 1, n + 1, ...: the starts and the ends side by side
        self.interleave = pc.add(halves, pc.multiply(pc.bit_wise_and(sequence, pa.scalar(1, pa.int32())), count))
        self.evens = pc.multiply(sequence.slice(0, count), pa.scalar(2, pa.int32()))

    def gather(self, starts: pa.Array, sizes: pa.Array) -> pa.Array:
        """A binary array: the ``sizes[i]`` bytes at ``starts[i]``, for every record ``i``."""
        bounds = pc.take(pa.concat_arrays([starts, pc.add(starts, sizes)]), self.interleave)
        last = pa.array([self.data.size], pa.int32())
        spans = pa.Array.from_buffers(
            pa.binary(), 2 * self.count, [None, pa.concat_arrays([bounds, last]).buffers()[1], self.data]
        )
        return spans.take(self.evens)


@dataclass
class Rows:
    """A batch's tables for its insert: new app versions and installations, reports, report values."""

    versions: pa.Table | None
    installations: pa.Table | None
    reports: pa.Table
    values: pa.Table
    unsorted: bool  # the values are not in their stored order yet: the insert sorts them

    def __len__(self) -> int:
        count: int = self.reports.num_rows
        return count


def rows(batch: Batch, keys: Keys) -> Rows:
    """The rows of ``batch`` (every report stored), with surrogate keys handed out by ``keys``."""
    new_versions: list[tuple[int, int, str]] = []
    new_installations: list[tuple[int, str]] = []
    app_keys = _keyed(batch.apps, keys.apps.__getitem__, pa.int16())

    def version_key(pair: str) -> int:
        app_key, version = pair.split(":", 1)
        return keys.version(int(app_key), version, new_versions)

    pairs = pc.binary_join_element_wise(app_keys.cast(pa.string()), batch.versions, ":")
    version_keys = _keyed(pairs, version_key, pa.int32())
    inst_keys = _keyed(batch.installation_ids, lambda iid: keys.installation(iid, new_installations), pa.int32())
    first_key = keys.next_reports(len(batch))
    n = batch.numbers
    # The day the period ended by the receiver's clock (the client's clock corrected by the
    # skew its sent_at shows), never later than the day it arrived; as days since 1970-01-01.
    day = pc.divide(pc.min_element_wise(pc.subtract(pc.add(n["end"], n["received"]), n["sent"]), n["received"]), _DAY_S)
    int32 = pa.int32()
    reports = pa.Table.from_arrays(
        [
            pa.array(range(first_key, first_key + len(batch)), pa.int64()),
            batch.report_ids,
            inst_keys,
            app_keys,
            version_keys,
            n["regv"].cast(int32),
            day.cast(int32).view(pa.date32()),
            *(c.cast(int32) for c in (pc.subtract(n["end"], n["start"]), *(n[k] for k in _NUMBERS[5:]))),
        ],
        schema=_REPORT_SCHEMA,
    )
    values = _values(batch, first_key)
    versions = installations = None
    if new_versions:
        version_columns = list(zip(*new_versions, strict=True))
        versions = pa.table(
            {
                "version_key": pa.array(version_columns[0], int32),
                "app_key": pa.array(version_columns[1], pa.int16()),
                "version": pa.array(version_columns[2], pa.string()),
            }
        )
    if new_installations:
        inst_columns = list(zip(*new_installations, strict=True))
        installations = pa.table(
            {"inst_key": pa.array(inst_columns[0], int32), "installation_id": pa.array(inst_columns[1], pa.string())}
        )
    return Rows(versions, installations, reports, *values)


def insert(con: duckdb.DuckDBPyConnection, rows: Rows | None, after: list[str], transaction: bool) -> None:
    """Append ``rows`` with one Arrow insert per table, then the statements ``after``, in one call.

    With ``transaction`` the call opens and commits a transaction of its own.
    """
    statements = []
    if rows is not None:
        _batch_versions, _batch_installations = rows.versions, rows.installations
        _batch_reports, _batch_values = rows.reports, rows.values
        if _batch_versions is not None:
            statements.append("INSERT INTO app_versions SELECT * FROM _batch_versions")
        if _batch_installations is not None:
            statements.append(
                "INSERT INTO installations SELECT inst_key, installation_id::UUID FROM _batch_installations"
            )
        if len(rows):
            statements.append(f"INSERT INTO reports SELECT {_REPORT_SELECT} FROM _batch_reports")
            order = " ORDER BY metric_key, label_key, report_key" if rows.unsorted else ""
            statements.append(f"INSERT INTO report_values SELECT * FROM _batch_values{order}")
    statements += after
    if statements:
        if transaction:
            statements = ["BEGIN TRANSACTION", *statements, "COMMIT"]
        con.execute(";\n".join(statements))


def _values(batch: Batch, first_key: int) -> tuple[pa.Table, bool]:
    """The `report_values` rows in their stored order; True when DuckDB must sort them (keys too far apart).

    Stored by metric and label, and by report within each: a row group then holds long runs of
    one metric_key and label_key (run-length encoded to almost nothing), values of one metric side
    by side (narrow bit-packing) and report keys rising in small steps. The values come in report
    order, so a stable sort by (metric_key, label_key) gives that; with a 16-bit sort key numpy's
    stable sort is a radix sort, linear in the values (DuckDB's ORDER BY cost as much as the insert),
    and the sorted metric and label columns follow from the key counts without a gather.
    """
    counts = np.diff(batch.value_offsets.to_numpy(zero_copy_only=False))
    parents = np.repeat(np.arange(first_key, first_key + len(batch), dtype=np.int64), counts)
    metric = batch.metric_keys.to_numpy(zero_copy_only=False)
    label = batch.labels.to_numpy(zero_copy_only=False)
    if len(metric):
        low, high = int(metric.min()), int(metric.max())
        labels_low = int(label.min())
        span = int(label.max()) - labels_low + 1
        if (high - low + 1) * span <= 1 << 16:
            key = (metric - np.int32(low)).astype(np.uint16) * np.uint16(span)
            key += (label - np.int16(labels_low)).astype(np.uint16)
            order = np.argsort(key, kind="stable")
            sizes = np.bincount(key, minlength=(high - low + 1) * span)
            present = np.flatnonzero(sizes)
            columns = [
                parents[order],
                np.repeat((present // span + low).astype(np.int32), sizes[present]),
                np.repeat((present % span + labels_low).astype(np.int16), sizes[present]),
                batch.values.to_numpy(zero_copy_only=False)[order],
            ]
            return pa.Table.from_arrays([pa.array(c) for c in columns], schema=_VALUE_SCHEMA), False
    columns = [pa.array(parents), batch.metric_keys, batch.labels, batch.values]
    return pa.Table.from_arrays(columns, schema=_VALUE_SCHEMA), True


def _keyed(strings: pa.Array, key_of: Callable[[str], int], kind: pa.DataType) -> pa.Array:
    """Each string's key: ``key_of`` is asked once per distinct string."""
    encoded = strings.dictionary_encode()
    keys = pa.array([key_of(s) for s in encoded.dictionary.to_pylist()], kind)
    return pc.take(keys, encoded.indices)


def _repeat(value: int, count: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.int32()), count)


def _view(buffer: pa.Buffer, kind: pa.DataType) -> pa.Array:
    """An Arrow view of machine-typed values (no copy, no per-value conversion)."""
    return pa.Array.from_buffers(kind, buffer.size // (kind.bit_width // 8), [None, buffer])
