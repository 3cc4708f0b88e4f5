"""Arrow row building: a loader batch's rows as columns, written with one Arrow insert per table.

The tables are local variables of `insert` that DuckDB finds by name (a replacement scan): cheaper
per statement than register() and unregister(). Every statement of a batch, the journal
positions included, goes to DuckDB in one call and one transaction.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from optin.contract import REPORT_COLUMN_NAMES

from ._records import ReportRecord
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


@dataclass
class Rows:
    """Rows of a batch waiting for their insert: per report only what a dict lookup gives, the rest as columns.

    The value columns stay the bytes the journal holds (joined once per batch, never converted
    per value); the report columns are built from the records' headers in one pass per column.
    """

    first_key: int  # report_key of the first report added; the others follow in order
    versions: list[tuple[int, int, str]] = field(default_factory=list)  # app versions first seen in this batch
    installations: list[tuple[int, str]] = field(default_factory=list)
    heads: list[tuple[int, ...]] = field(default_factory=list)  # the records' headers (see _records)
    report_ids: list[str] = field(default_factory=list)
    inst_keys: array[int] = field(default_factory=lambda: array("i"))
    app_keys: array[int] = field(default_factory=lambda: array("h"))
    version_keys: array[int] = field(default_factory=lambda: array("i"))
    # each report's checker ordinals, in runs that share one ordinal → metric_key map (one per segment)
    ordinals: list[tuple[pa.Array, list[bytes]]] = field(default_factory=list)
    labels: list[bytes] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.heads)

    def add(self, keys: Keys, record: ReportRecord, ordinal_keys: pa.Array) -> None:
        """One report; ``ordinal_keys`` maps the ordinals of the segment it came from to metric keys."""
        app_key = keys.apps[record.app]
        self.app_keys.append(app_key)
        self.inst_keys.append(keys.installation(record.installation_id, self.installations))
        self.version_keys.append(keys.version(app_key, record.app_version, self.versions))
        self.heads.append(record.head)
        self.report_ids.append(record.report_id)
        if not self.ordinals or self.ordinals[-1][0] is not ordinal_keys:
            self.ordinals.append((ordinal_keys, []))
        self.ordinals[-1][1].append(record.ordinals)
        self.labels.append(record.labels)
        self.values.append(record.values)

    def reports_table(self) -> tuple[pa.Table, pa.Array]:
        """The `reports` rows, and each report's number of values."""
        int64 = pa.int64()
        _, *numbers = zip(*self.heads, strict=True)  # (the first field is the record kind)
        (received, start, end, sent, regv, dropped, evicted, rejected, discarded, *_, counts) = (
            pa.array(column, int64) for column in numbers
        )
        # The day the period ended by the receiver's clock (the client's clock corrected by the
        # skew its sent_at shows), never later than the day it arrived; as days since 1970-01-01.
        day = pc.divide(pc.min_element_wise(pc.subtract(pc.add(end, received), sent), received), _DAY_S)
        int32 = pa.int32()
        columns = [
            pa.array(range(self.first_key, self.first_key + len(self)), pa.int64()),
            pa.array(self.report_ids, pa.string()),
            _arrow(self.inst_keys, int32),
            _arrow(self.app_keys, pa.int16()),
            _arrow(self.version_keys, int32),
            regv.cast(int32),
            day.cast(int32).view(pa.date32()),
            *(c.cast(int32) for c in (pc.subtract(end, start), dropped, evicted, rejected, discarded)),
        ]
        return pa.Table.from_arrays(columns, schema=_REPORT_SCHEMA), counts

    def values_table(self, counts: pa.Array) -> pa.Table:
        """The `report_values` rows; ``counts``: each report's number of values, in order."""
        offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(counts)]).cast(pa.int32())
        total = offsets[-1].as_py()
        rows = pa.ListArray.from_arrays(offsets, pa.nulls(total, pa.int8()))
        report_keys = pc.add(pc.list_parent_indices(rows), self.first_key)
        runs = [pc.take(keys_of, _joined(chunks, pa.int32())) for keys_of, chunks in self.ordinals]
        metric_keys = pa.concat_arrays(runs) if runs else pa.array([], pa.int32())
        labels = _joined(self.labels, pa.int16())
        table = pa.Table.from_arrays(
            [report_keys, metric_keys, labels, _joined(self.values, pa.int64())], schema=_VALUE_SCHEMA
        )
        # Stored by metric and label, and by report within each (the sort is stable): a row group then
        # holds long runs of one metric_key and label_key (run-length encoded to almost nothing),
        # values of one metric side by side (narrow bit-packing) and report keys rising in small steps.
        order = pc.array_sort_indices(pc.add(pc.multiply(metric_keys.cast(pa.int64()), 1 << 16), labels))
        return table.take(order)


def insert(con: duckdb.DuckDBPyConnection, rows: Rows, after: list[str], transaction: bool) -> None:
    """Append ``rows`` with one Arrow insert per table, then the statements ``after``, in one call.

    With ``transaction`` the call opens and commits a transaction of its own.
    """
    statements = []
    if rows.versions:
        keys, apps, versions = zip(*rows.versions, strict=True)
        _batch_versions = pa.table(
            {
                "version_key": pa.array(keys, pa.int32()),
                "app_key": pa.array(apps, pa.int16()),
                "version": pa.array(versions, pa.string()),
            }
        )
        statements.append("INSERT INTO app_versions SELECT * FROM _batch_versions")
    if rows.installations:
        keys, ids = zip(*rows.installations, strict=True)
        _batch_installations = pa.table(
            {"inst_key": pa.array(keys, pa.int32()), "installation_id": pa.array(ids, pa.string())}
        )
        statements.append("INSERT INTO installations SELECT inst_key, installation_id::UUID FROM _batch_installations")
    if len(rows):
        _batch_reports, counts = rows.reports_table()
        _batch_values = rows.values_table(counts)
        statements.append(f"INSERT INTO reports SELECT {_REPORT_SELECT} FROM _batch_reports")
        statements.append(
            "INSERT INTO report_values SELECT * FROM _batch_values ORDER BY metric_key, label_key, report_key"
        )
    statements += after
    if statements:
        if transaction:
            statements = ["BEGIN TRANSACTION", *statements, "COMMIT"]
        con.execute(";\n".join(statements))


def _arrow(column: array[int] | bytes, kind: pa.DataType) -> pa.Array:
    """An Arrow view of a machine-typed column (no copy, no per-value conversion)."""
    buffer = pa.py_buffer(column)
    return pa.Array.from_buffers(kind, buffer.size // (kind.bit_width // 8), [None, buffer])


def _joined(chunks: list[bytes], kind: pa.DataType) -> pa.Array:
    """The machine-typed values of ``chunks`` (each a whole number of values), as one Arrow array."""
    return _arrow(b"".join(chunks), kind)
