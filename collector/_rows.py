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

from optin.contract import REPORT_COLUMN_NAMES, CheckedReport

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
_VALUE_SCHEMA: Final = pa.schema(
    [("report_key", pa.int64()), ("metric_key", pa.int32()), ("label_key", pa.int16()), ("value", pa.int64())]
)


@dataclass
class Rows:
    """Rows of a batch waiting for their insert, as columns where Arrow wants columns."""

    versions: list[tuple[int, int, str]] = field(default_factory=list)  # app versions first seen in this batch
    installations: list[tuple[int, str]] = field(default_factory=list)
    reports: list[tuple[object, ...]] = field(default_factory=list)  # in _REPORT_SCHEMA order
    value_reports: array[int] = field(default_factory=lambda: array("q"))
    # ordinals of the checker that wrote each report, in runs that share one ordinal → metric_key map
    ordinals: list[tuple[pa.Array, array[int]]] = field(default_factory=list)
    labels: array[int] = field(default_factory=lambda: array("h"))
    values: array[int] = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.reports)

    def add(self, keys: Keys, report: CheckedReport, received_s: int, ordinal_keys: pa.Array) -> None:
        """One report's rows; ``ordinal_keys`` maps the ordinals of the segment it came from to metric keys."""
        app_key = keys.apps[report.app]
        inst_key = keys.installation(report.installation_id, self.installations)
        version_key = keys.version(app_key, report.app_version, self.versions)
        key = keys.next_report()
        # The day the period ended by the receiver's clock (the client's clock corrected by the
        # skew its sent_at shows), never later than the day it arrived; as days since 1970-01-01.
        day = min(report.period_end + received_s - report.sent_at, received_s) // 86400
        self.reports.append(
            (
                key,
                report.report_id,
                inst_key,
                app_key,
                version_key,
                report.registry_version,
                day,
                report.period_end - report.period_start,
                report.dropped,
                report.evicted,
                report.rejected,
                report.discarded,
            )
        )
        self.value_reports += array("q", (key,)) * len(report.ordinals)
        if not self.ordinals or self.ordinals[-1][0] is not ordinal_keys:
            self.ordinals.append((ordinal_keys, array("i")))
        self.ordinals[-1][1].extend(report.ordinals)
        self.labels += report.labels
        self.values += report.values


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
    if rows.reports:
        _batch_reports = pa.table(
            [
                pa.array(column, type=f.type)
                for column, f in zip(zip(*rows.reports, strict=True), _REPORT_SCHEMA, strict=True)
            ],
            schema=_REPORT_SCHEMA,
        )
        runs = [pc.take(keys_of, _arrow(ordinals, pa.int32())) for keys_of, ordinals in rows.ordinals]
        metric_keys = pa.concat_arrays(runs) if runs else pa.array([], pa.int32())
        _batch_values = pa.table(
            [
                _arrow(rows.value_reports, pa.int64()),
                metric_keys,
                _arrow(rows.labels, pa.int16()),
                _arrow(rows.values, pa.int64()),
            ],
            schema=_VALUE_SCHEMA,
        )
        statements.append(f"INSERT INTO reports SELECT {_REPORT_SELECT} FROM _batch_reports")
        statements.append("INSERT INTO report_values SELECT * FROM _batch_values")
    statements += after
    if statements:
        if transaction:
            statements = ["BEGIN TRANSACTION", *statements, "COMMIT"]
        con.execute(";\n".join(statements))


def _arrow(column: array[int], kind: pa.DataType) -> pa.Array:
    """An Arrow view of a machine-typed column (no copy, no per-value conversion)."""
    return pa.Array.from_buffers(kind, len(column), [None, pa.py_buffer(column)])
