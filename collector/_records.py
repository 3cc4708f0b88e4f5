"""What the journal holds: checked reports, deletions and each segment's table of metrics, as bytes.

A report record is a fixed header (struct), its four strings, then its value rows as the
machine-typed columns the checker made (copied, never converted per value). Metric ordinals
are the ReportChecker's of the worker that wrote the segment; the segment's first record (a
metrics table) names them, so a loader with other registries still reads them right.
"""

from __future__ import annotations

import struct
from array import array
from typing import Final, NamedTuple

import orjson

from optin.contract import CheckedReport, Registry, label_names

REPORT: Final = b"R"
DELETION: Final = b"D"
METRICS: Final = b"M"
REPORT_HEAD: Final = struct.Struct("<cqqqqiqqqqHHHHI")  # kind, received, start, end, sent, regv, 4 counters, lengths, n


class MetricInfo(NamedTuple):
    app: str
    name: str
    kind: str
    category: str
    labels: tuple[str, ...]


class ReportRecord(NamedTuple):
    """A report record as the loader takes it: its header's numbers, its strings, its value columns as raw bytes."""

    head: tuple[int, ...]  # the REPORT_HEAD fields: kind, received, start, end, sent, regv, 4 counters, lengths, n
    report_id: str
    installation_id: str
    app: str
    app_version: str
    ordinals: bytes  # n int32, machine order (as the checker's array wrote them)
    labels: bytes  # n int16
    values: bytes  # n int64


class Deletion(NamedTuple):
    installation_id: str
    received_s: int


def encode_metrics(names: list[tuple[str, str]], registries: dict[tuple[str, int], Registry]) -> bytes:
    """The metrics table of a segment: for each checker ordinal, the metric as the database records it."""
    latest: dict[tuple[str, str], MetricInfo] = {}
    for (app, _), registry in sorted(registries.items()):
        for metric in registry.metrics.values():
            latest[(app, metric.name)] = MetricInfo(
                app, metric.name, metric.kind.value, metric.category, label_names(metric)
            )
    return METRICS + orjson.dumps([list(latest[pair]) for pair in names])


def decode_metrics(payload: bytes) -> list[MetricInfo]:
    return [MetricInfo(a, n, k, c, tuple(labels)) for a, n, k, c, labels in orjson.loads(payload[1:])]


def encode_report(report: CheckedReport, received_s: int) -> bytes:
    strings = (report.report_id + report.installation_id + report.app + report.app_version).encode()
    return b"".join(
        (
            REPORT_HEAD.pack(
                REPORT,
                received_s,
                report.period_start,
                report.period_end,
                report.sent_at,
                report.registry_version,
                report.dropped,
                report.evicted,
                report.rejected,
                report.discarded,
                len(report.report_id),
                len(report.installation_id),
                len(report.app.encode()),
                len(report.app_version.encode()),
                len(report.ordinals),
            ),
            strings,
            report.ordinals.tobytes(),
            report.labels.tobytes(),
            report.values.tobytes(),
        )
    )


def decode_report(payload: bytes) -> tuple[CheckedReport, int]:
    """A report record → (the checked report, the receiver's clock when it arrived)."""
    (_, received, start, end, sent, regv, dropped, evicted, rejected, discarded, n_rid, n_iid, n_app, n_ver, n) = (
        REPORT_HEAD.unpack_from(payload)
    )
    at = REPORT_HEAD.size
    rid = payload[at : at + n_rid].decode()
    at += n_rid
    iid = payload[at : at + n_iid].decode()
    at += n_iid
    app = payload[at : at + n_app].decode()
    at += n_app
    version = payload[at : at + n_ver].decode()
    at += n_ver
    ordinals, labels, values = array("i"), array("h"), array("q")
    ordinals.frombytes(payload[at : at + 4 * n])
    at += 4 * n
    labels.frombytes(payload[at : at + 2 * n])
    at += 2 * n
    values.frombytes(payload[at : at + 8 * n])
    report = CheckedReport(
        rid, iid, app, version, regv, start, end, sent, dropped, evicted, rejected, discarded, ordinals, labels, values
    )
    return report, received


def decode_record(payload: bytes) -> ReportRecord:
    """A report record → its parts, the value columns left as bytes (the loader joins them, never per value)."""
    head = REPORT_HEAD.unpack_from(payload)
    at = REPORT_HEAD.size
    iid = at + head[10]
    app = iid + head[11]
    version = app + head[12]
    ordinals = version + head[13]
    labels = ordinals + 4 * head[14]
    values = labels + 2 * head[14]
    return ReportRecord(
        head,
        payload[at:iid].decode(),
        payload[iid:app].decode(),
        payload[app:version].decode(),
        payload[version:ordinals].decode(),
        payload[ordinals:labels],
        payload[labels:values],
        payload[values : values + 8 * head[14]],
    )


def encode_deletion(installation_id: str, received_s: int) -> bytes:
    return DELETION + struct.pack("<q", received_s) + installation_id.encode()


def decode_deletion(payload: bytes) -> Deletion:
    return Deletion(payload[9:].decode(), struct.unpack_from("<q", payload, 1)[0])
