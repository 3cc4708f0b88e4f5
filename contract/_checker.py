"""ReportChecker: a body → a checked report already encoded as at-rest rows, compiled per registry.

`report_from_json` is the one definition of a valid report, and it names every reason for a
refusal. It is also general: it decides per value what each metric is, walks the parsed body a
second time for duplicate keys, and returns values a collector must encode again, all while
holding the GIL its event loop needs. Here the same rules are compiled per registry and the rows
(as `encode_value` gives them) come out of the same pass. A body the fast path cannot vouch
for, for any reason, goes through `report_from_json` (which accepts it or names the refusal),
so the fast path can only ever be stricter; tests compare the two on valid and mutated bodies.

Metrics are numbered by one ordinal across all registries (`ReportChecker.metric_names`); a
collector turns ordinals into its database keys with one vectorised lookup per batch.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import orjson

from ._limits import (
    CLIENT_COUNTERS,
    HASH_PATTERN,
    MAX_CLOCK_SKEW_SECONDS,
    MAX_COUNTER,
    MAX_JSON_WIDTH,
    MAX_PERIOD_SECONDS,
    MAX_REGISTRY_VERSION,
    MIN_EPOCH_SECONDS,
    REPORT_KEYS,
    REQUIRED_CLIENT_COUNTERS,
    SCHEMA_VERSION,
    UUID4_PATTERN,
    UUID_PATTERN,
    VERSION_PATTERN,
)
from ._registry import Kind, Registry
from ._report import Report, report_from_json
from ._storage import encode_value

_UUID: Final = re.compile(UUID_PATTERN)
_UUID4: Final = re.compile(UUID4_PATTERN)
_VERSION: Final = re.compile(VERSION_PATTERN)
_HEX64: Final = re.compile(HASH_PATTERN)
_APP_KEYS: Final = frozenset({"name", "version"})
_REGISTRY_KEYS: Final = frozenset({"version", "hash"})
_PERIOD_KEYS: Final = frozenset({"start", "end"})
_CLIENT_KEYS: Final = frozenset(CLIENT_COUNTERS)
_CLIENT_KEYS_BEFORE_DISCARDED: Final = frozenset(REQUIRED_CLIENT_COUNTERS)  # clients built before "discarded"
_FIXED_KEYS: Final = len(REPORT_KEYS) + 2 + 2 + 2  # keys of every report besides the metrics and client counters
_FLOAT_LIMIT: Final = 2.0**63  # orjson reads integers beyond 64 bits as floats: leave those to the contract

_PLAIN, _LABELLED, _BOOLEAN, _ENUM, _QUANTITY, _HISTOGRAM = range(6)


class CheckedReport(NamedTuple):
    """One accepted report as a collector stores it: the report's fields and its value rows as columns.

    A NamedTuple, not a frozen dataclass: one is made per report on the hot path, and a frozen
    dataclass's __init__ costs about six times as much.
    """

    report_id: str
    installation_id: str
    app: str
    app_version: str
    registry_version: int
    period_start: int
    period_end: int
    sent_at: int
    dropped: int
    evicted: int
    rejected: int
    discarded: int
    # Value rows as machine-typed columns, so the writer copies memory instead of converting
    # each value again: ordinal ('i', an index of ReportChecker.metric_names), label_key ('h': 0, or
    # 1..n into the metric's closed set as contract.label_names lists it) and value ('q').
    ordinals: array[int]
    labels: array[int]
    values: array[int]


class _Compiled:
    """One registry: per metric name, (ordinal, kind, label index, largest count)."""

    def __init__(self, registry: Registry, ordinal: Mapping[str, int]) -> None:
        self.hash = registry.hash
        self.metrics = registry.metrics
        self.app_versions = frozenset(registry.app_versions)
        # The duplicate-key count in ReportChecker._fast relies on declared strings holding no ':' (the
        # registry's name and label patterns forbid it, its hash is hex), and the fast path checks
        # the report's registry reference only by equality; a registry built some other way that
        # breaks either rule gets no fast path (every report goes through the contract).
        strings = [
            registry.app,
            *registry.metrics,
            *(s for m in registry.metrics.values() for s in (*m.labels, *m.values)),
        ]
        self.fast = (
            not any(":" in s for s in strings)
            and _HEX64.fullmatch(registry.hash) is not None
            and 1 <= registry.version <= MAX_REGISTRY_VERSION
        )
        self.plan: dict[str, tuple[int, int, dict[Any, int], int]] = {}
        for metric in registry.metrics.values():
            number = ordinal[metric.name]
            if metric.kind is Kind.COUNTER and metric.labels:
                self.plan[metric.name] = (
                    number,
                    _LABELLED,
                    {label: i for i, label in enumerate(metric.labels, start=1)},
                    metric.max,
                )
            elif metric.kind is Kind.COUNTER:
                self.plan[metric.name] = (number, _PLAIN, {}, metric.max)
            elif metric.kind is Kind.BOOLEAN:
                self.plan[metric.name] = (number, _BOOLEAN, {}, 1)
            elif metric.kind is Kind.ENUM:
                self.plan[metric.name] = (
                    number,
                    _ENUM,
                    {value: i for i, value in enumerate(metric.values, start=1)},
                    1,
                )
            elif metric.kind is Kind.QUANTITY:
                self.plan[metric.name] = (
                    number,
                    _QUANTITY,
                    {bound: i for i, bound in enumerate(metric.buckets, start=1)},
                    1,
                )
            else:
                self.plan[metric.name] = (number, _HISTOGRAM, {}, len(metric.buckets) + 1)

    def rows(self, metrics: dict[str, Any]) -> tuple[array[int], array[int], array[int], int] | None:
        """(ordinals, labels, values, keys seen) of valid metrics; None for anything else."""
        plan = self.plan
        ordinals: list[int] = []
        labels: list[int] = []
        values: list[int] = []
        keys = len(metrics)
        for name, value in metrics.items():
            entry = plan.get(name)
            if entry is None:
                return None
            number, kind, index, high = entry
            kind_of_value = type(value)
            if kind == _PLAIN:
                if kind_of_value is not int or not 0 <= value <= high:
                    return None
                ordinals.append(number)
                labels.append(0)
                values.append(value)
            elif kind in (_ENUM, _QUANTITY):  # one of a closed set: stored as its label_key, count 1
                if kind == _ENUM:
                    label = index.get(value) if kind_of_value is str else None
                else:
                    in_range = kind_of_value is int or (kind_of_value is float and -_FLOAT_LIMIT < value < _FLOAT_LIMIT)
                    label = index.get(value) if in_range else None
                if label is None:
                    return None
                ordinals.append(number)
                labels.append(label)
                values.append(1)
            elif kind == _BOOLEAN:
                if kind_of_value is not bool:
                    return None
                ordinals.append(number)
                labels.append(0)
                values.append(1 if value else 0)
            elif kind == _LABELLED:
                if kind_of_value is not dict:
                    return None
                keys += len(value)
                for label_name, count in value.items():
                    label = index.get(label_name)
                    if label is None or type(count) is not int or not 0 <= count <= high:
                        return None
                    if count:
                        ordinals.append(number)
                        labels.append(label)
                        values.append(count)
            else:
                if kind_of_value is not list or len(value) != high:
                    return None
                for bucket, count in enumerate(value, start=1):
                    if type(count) is not int or not 0 <= count <= MAX_COUNTER:
                        return None
                    if count:
                        ordinals.append(number)
                        labels.append(bucket)
                        values.append(count)
        return array("i", ordinals), array("h", labels), array("q", values), keys

    def encode(self, metrics: Mapping[str, Any]) -> tuple[array[int], array[int], array[int]]:
        """Rows of metrics the contract has already checked (the slow path's second half)."""
        ordinals, labels, values = array("i"), array("h"), array("q")
        for name, value in metrics.items():
            number = self.plan[name][0]
            for label, count in encode_value(self.metrics[name], value):
                ordinals.append(number)
                labels.append(label)
                values.append(count)
        return ordinals, labels, values


class ReportChecker:
    """Every registry the collector accepts, compiled; `check(body, now)` is ingest's one call."""

    def __init__(self, registries: Mapping[tuple[str, int], Registry]) -> None:
        self.registries = registries
        self.metric_names: list[tuple[str, str]] = sorted(
            {(app, name) for (app, _), registry in registries.items() for name in registry.metrics}
        )
        ordinal = {pair: number for number, pair in enumerate(self.metric_names)}
        self._compiled: dict[tuple[str, int], _Compiled] = {}
        for key, registry in registries.items():
            self._compiled[key] = _Compiled(
                registry, {name: ordinal[(registry.app, name)] for name in registry.metrics}
            )

    def check(self, body: bytes, now: int) -> CheckedReport:
        """A decompressed body → CheckedReport, or ReportError naming the reason (never a submitted value)."""
        if b"\\u" not in body:  # escapes would hide colons from the duplicate-key count below
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
            else:
                checked = self._fast(doc, body, now)
                if checked is not None:
                    return checked
        return self.from_report(report_from_json(body, self.registries, now))

    def from_report(self, report: Report) -> CheckedReport:
        """A report the contract accepted, as rows."""
        ordinals, labels, values = self._compiled[(report.app, report.registry_version)].encode(report.metrics)
        client = report.client
        return CheckedReport(
            report.report_id,
            report.installation_id,
            report.app,
            report.app_version,
            report.registry_version,
            report.period_start,
            report.period_end,
            report.sent_at,
            client.get("dropped", 0),
            client.get("evicted", 0),
            client.get("rejected", 0),
            client.get("discarded", 0),
            ordinals,
            labels,
            values,
        )

    def _fast(self, doc: Any, body: bytes, now: int) -> CheckedReport | None:
        """The common case, checked in one pass; None when anything at all is unusual."""
        if type(doc) is not dict or doc.keys() != REPORT_KEYS:
            return None
        app, registry, period = doc["app"], doc["registry"], doc["period"]
        client, metrics = doc["client"], doc["metrics"]
        if type(app) is not dict or type(registry) is not dict or type(period) is not dict:
            return None
        if type(client) is not dict or type(metrics) is not dict:
            return None
        if app.keys() != _APP_KEYS or registry.keys() != _REGISTRY_KEYS or period.keys() != _PERIOD_KEYS:
            return None
        if client.keys() != _CLIENT_KEYS and client.keys() != _CLIENT_KEYS_BEFORE_DISCARDED:
            return None
        report_id, installation_id = doc["report_id"], doc["installation_id"]
        name, app_version = app["name"], app["version"]
        if type(report_id) is not str or type(installation_id) is not str:
            return None
        if type(name) is not str or type(app_version) is not str:
            return None
        if not (_UUID.fullmatch(report_id) and _UUID4.fullmatch(installation_id) and _VERSION.fullmatch(app_version)):
            return None
        schema, version, sent_at = doc["schema"], registry["version"], doc["sent_at"]
        start, end = period["start"], period["end"]
        if type(schema) is not int or schema != SCHEMA_VERSION or type(version) is not int:
            return None
        compiled = self._compiled.get((name, version))
        if (
            compiled is None
            or not compiled.fast
            or registry["hash"] != compiled.hash
            or app_version not in compiled.app_versions
        ):
            return None
        upper = now + MAX_CLOCK_SKEW_SECONDS
        if type(start) is not int or type(end) is not int or type(sent_at) is not int:
            return None
        if not (
            MIN_EPOCH_SECONDS <= start <= end <= start + MAX_PERIOD_SECONDS
            and end <= upper
            and max(end, now - MAX_CLOCK_SKEW_SECONDS) <= sent_at <= upper
            and sent_at - end <= MAX_CLOCK_SKEW_SECONDS
        ):
            return None
        dropped, evicted, rejected = client["dropped"], client["evicted"], client["rejected"]
        discarded = client.get("discarded", 0)
        if type(dropped) is not int or type(evicted) is not int or type(rejected) is not int:
            return None
        if type(discarded) is not int or not (0 <= dropped <= MAX_COUNTER and 0 <= evicted <= MAX_COUNTER):
            return None
        if not (0 <= rejected <= MAX_COUNTER and 0 <= discarded <= MAX_COUNTER):
            return None
        if len(metrics) > MAX_JSON_WIDTH:
            return None
        rows = compiled.rows(metrics)
        if rows is None:
            return None
        ordinals, labels, values, metric_keys = rows
        # Every string of an accepted report is an identifier without ':' (names, labels, UUIDs,
        # versions, the hash), so each ':' of the body separates one key from its value. More
        # colons than parsed keys means a key was repeated (orjson keeps the last): strict path.
        if body.count(b":") != _FIXED_KEYS + len(client) + metric_keys:
            return None
        return CheckedReport(
            report_id,
            installation_id,
            name,
            app_version,
            version,
            start,
            end,
            sent_at,
            dropped,
            evicted,
            rejected,
            discarded,
            ordinals,
            labels,
            values,
        )
