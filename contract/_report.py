"""Report format v1: what a client sends for one period. See docs/protocol.md.

`check_report` is the single definition of a valid report: the client runs it on every report
it builds, and every body the collector receives is accepted only if it would pass it (the
collector's hot path, `ReportChecker` in _checker.py, compiles the same rules per registry and
hands anything unusual to `report_from_json`), so nothing the registry does not allow is ever
written or sent.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import orjson

from . import _limits as limits
from ._errors import ReportError
from ._registry import Kind, Metric, Registry

Value: TypeAlias = int | bool | str | float | dict[str, int] | list[int]

_VERSION: Final = re.compile(limits.VERSION_PATTERN)
_HEX64: Final = re.compile(limits.HASH_PATTERN)


@dataclass(frozen=True, slots=True)
class Report:
    """One installation's aggregated values for one period; the unit of upload and storage."""

    report_id: str
    installation_id: str
    app: str
    app_version: str
    registry_version: int
    registry_hash: str
    period_start: int  # Unix seconds, UTC, client clock
    period_end: int
    sent_at: int  # client clock at upload; the collector corrects skew with it
    metrics: Mapping[str, Value]
    client: Mapping[str, int] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "schema": limits.SCHEMA_VERSION,
            "report_id": self.report_id,
            "installation_id": self.installation_id,
            "app": {"name": self.app, "version": self.app_version},
            "registry": {"version": self.registry_version, "hash": self.registry_hash},
            "period": {"start": self.period_start, "end": self.period_end},
            "sent_at": self.sent_at,
            "metrics": dict(self.metrics),
            "client": {k: int(self.client.get(k, 0)) for k in limits.CLIENT_COUNTERS},
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_wire(), option=orjson.OPT_SORT_KEYS)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ReportError("duplicate_key", "", status=400)
    return obj


def _reject_constant(name: str) -> Any:
    raise ReportError("non_finite_number", "", status=400)


_DECODER: Final = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def decode_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN or Infinity, bounded nesting and width; 400 otherwise.

    Well-formed bodies take a fast path (orjson, then one walk over the result); anything it
    cannot vouch for goes through the strict decoder, which names the reason.
    """
    if b"\\u" not in body:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        else:
            if _vouch(obj, body):
                return obj
    return _decode_strict(body)


def _vouch(obj: Any, body: bytes) -> bool:
    """True when ``obj``, parsed by orjson from ``body``, passes the strict decoder's rules too.

    orjson already refuses bad UTF-8, NaN, Infinity and trailing data. What it does not refuse
    is a duplicate key (it keeps the last). Without \\u escapes every ':' of the body is either
    a key's separator or a character of a string, so the body's colons minus the strings'
    colons is the number of keys written; if the parsed objects hold fewer, a key was repeated.
    """
    if type(obj) is not dict and type(obj) is not list:
        obj = [obj]  # a bare scalar: walk it like the one item of a list (orjson decodes only exact types)
    stack: list[tuple[Any, int]] = [(obj, 1)]
    keys = string_colons = 0
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_JSON_DEPTH or len(node) > limits.MAX_JSON_WIDTH:
            return False
        if type(node) is dict:
            keys += len(node)
            joined = "".join(node)
            if len(joined) > limits.MAX_JSON_STRING and max(map(len, node)) > limits.MAX_JSON_STRING:
                return False
            string_colons += joined.count(":")
            values = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)
            if kind is dict or kind is list:
                stack.append((value, depth + 1))
            elif kind is str:
                if len(value) > limits.MAX_JSON_STRING:
                    return False  # the strict decoder refuses it, before any pattern runs over it
                string_colons += value.count(":")
            elif kind is float and not -(2.0**63) < value < 2.0**63:
                return False  # orjson reads integers beyond 64 bits as floats; Python's json keeps them exact
    return body.count(b":") == keys + string_colons


def _decode_strict(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError("bad_encoding", "", status=400, detail="body is not UTF-8") from None
    _check_bounded(text)
    _check_shape(text)
    try:
        obj, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip(" \t\n\r")))
    except ReportError:
        raise
    except (ValueError, RecursionError):
        raise ReportError("malformed_json", "", status=400) from None
    if text[end:].strip():
        raise ReportError("malformed_json", "", status=400, detail="trailing data")
    return obj


# Possessive, with an optional closing quote: an unterminated string is consumed once, so the scan
# stays linear (a backtracking pattern rescanned to the end from every quote: quadratic).
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*+"?')
_STRUCTURE: Final = re.compile(r"[\[\]{},]")


def _check_bounded(text: str) -> None:
    """Refuse over-long strings and many escapes first, with C-speed scans: no pattern runs over them.

    Splitting at the quotes gives every string's content in the odd parts; with an escaped quote
    the parts may shift, so then every part counts. A client's report needs no escapes at all.
    """
    if text.count("\\") > limits.MAX_JSON_ESCAPES:
        raise ReportError("too_many_escapes", "", status=400, detail=f"more than {limits.MAX_JSON_ESCAPES} escapes")
    parts = text.split('"')
    strings = parts if '\\"' in text else parts[1::2]
    if len(text) > limits.MAX_JSON_STRING and max(map(len, strings), default=0) > limits.MAX_JSON_STRING:
        raise ReportError(
            "string_too_long", "", status=400, detail=f"a string longer than {limits.MAX_JSON_STRING} characters"
        )


def _check_shape(text: str) -> None:
    """Reject nesting deeper than limits.MAX_JSON_DEPTH and containers wider than limits.MAX_JSON_WIDTH, before parsing.

    Strings are cut out first, so brackets and commas inside them do not count; what is left is
    scanned as a short list of structural characters, never as the whole body.
    """
    marks = _STRUCTURE.findall(_STRING.sub("", text))
    if len(marks) <= limits.MAX_JSON_DEPTH:
        return
    commas = [0]
    for mark in marks:
        if mark == ",":
            commas[-1] += 1
            if commas[-1] >= limits.MAX_JSON_WIDTH:
                raise ReportError(
                    "too_wide", "", status=400, detail=f"more than {limits.MAX_JSON_WIDTH} items in one object or array"
                )
        elif mark in "[{":
            commas.append(0)
            if len(commas) > limits.MAX_JSON_DEPTH + 1:
                raise ReportError("too_deep", "", status=400, detail=f"nesting deeper than {limits.MAX_JSON_DEPTH}")
        elif len(commas) > 1:
            commas.pop()


def _int(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportError("wrong_type", path, detail="expected an integer")
    if not low <= value <= high:
        raise ReportError("out_of_bounds", path, detail=f"expected {low}..{high}")
    return value


def _obj(value: Any, path: str, keys: frozenset[str] | set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportError("wrong_type", path, detail="expected an object")
    if keys is not None:
        missing = keys - value.keys()
        if missing:
            raise ReportError("missing_field", _join(path, sorted(missing)[0]))
        extra = value.keys() - keys
        if extra:
            raise ReportError("unknown_field", _join(path, "<key>"))  # an undeclared key is never echoed
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _uuid(value: Any, path: str, version4: bool) -> str:
    if not isinstance(value, str) or len(value) != 36:
        raise ReportError("bad_uuid", path, status=400)
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise ReportError("bad_uuid", path, status=400) from None
    if str(parsed) != value or (version4 and parsed.version != 4):
        raise ReportError(
            "bad_uuid",
            path,
            status=400,
            detail="expected a lower-case UUIDv4" if version4 else "expected a lower-case UUID",
        )
    return value


def check_value(metric: Metric, value: Any, path: str) -> Value:
    """Check one value against its declaration; returns it or raises ReportError (422)."""
    kind = metric.kind
    # `type(x) is int` is the fast path for the common case (an exact, in-range integer); anything
    # else goes through _int, which decides and names the field.
    if kind is Kind.COUNTER:
        if not metric.labels:
            return value if type(value) is int and 0 <= value <= metric.max else _int(value, path, 0, metric.max)
        counts = _obj(value, path)
        for label, count in counts.items():
            if label not in metric.labels:
                raise ReportError("value_not_allowed", _join(path, "<label>"), detail="label not in the declared set")
            if type(count) is not int or not 0 <= count <= metric.max:
                _int(count, _join(path, label), 0, metric.max)
        return counts
    if kind is Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise ReportError("wrong_type", path, detail="expected true or false")
        return value
    if kind is Kind.ENUM:
        if not isinstance(value, str):
            raise ReportError("wrong_type", path, detail="expected a string of the declared set")
        if value not in metric.values:
            raise ReportError("value_not_allowed", path, detail="value not in the declared set")
        return value
    if kind is Kind.QUANTITY:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise ReportError("wrong_type", path, detail="expected a number")
        try:
            bound = float(value)  # an integer too large for a float overflows: not a bucket bound either
        except OverflowError:
            raise ReportError("value_not_allowed", path, detail="value is not a declared bucket bound") from None
        if bound not in metric.buckets:
            raise ReportError("value_not_allowed", path, detail="value is not a declared bucket bound")
        return value
    # Kind.DURATION: one count per bucket, the last one for values above every bound.
    if not isinstance(value, list):
        raise ReportError("wrong_type", path, detail="expected a list of bucket counts")
    if len(value) != len(metric.buckets) + 1:
        raise ReportError("out_of_bounds", path, detail=f"expected {len(metric.buckets) + 1} bucket counts")
    for index, count in enumerate(value):
        if type(count) is not int or not 0 <= count <= limits.MAX_COUNTER:
            _int(count, f"{path}[{index}]", 0, limits.MAX_COUNTER)
    return value


def check_report(obj: Any, registries: Mapping[tuple[str, int], Registry], now: int | None = None) -> Report:
    """Validate a decoded report against the wire format and its application's registry.

    ``now`` (receiver's Unix time) enables the absurd-timestamp checks. Raises ReportError.
    """
    top = _obj(obj, "", set(limits.REPORT_KEYS))
    if type(top["schema"]) is not int or top["schema"] != limits.SCHEMA_VERSION:
        raise ReportError("unsupported_schema", "schema", status=422, detail=f"expected {limits.SCHEMA_VERSION}")
    report_id = _uuid(top["report_id"], "report_id", version4=False)
    installation_id = _uuid(top["installation_id"], "installation_id", version4=True)
    app = _obj(top["app"], "app", {"name", "version"})
    registry_ref = _obj(top["registry"], "registry", {"version", "hash"})
    name, app_version = app["name"], app["version"]
    if not isinstance(name, str):
        raise ReportError("wrong_type", "app.name")
    if not isinstance(app_version, str) or not _VERSION.fullmatch(app_version):
        raise ReportError("bad_version", "app.version", detail="expected dotted numbers")
    reg_version = _int(registry_ref["version"], "registry.version", 1, limits.MAX_REGISTRY_VERSION)
    registry = registries.get((name, reg_version))
    if registry is None:
        raise ReportError(
            "unknown_registry", "registry.version" if any(k[0] == name for k in registries) else "app.name"
        )
    reg_hash = registry_ref["hash"]
    if not isinstance(reg_hash, str) or not _HEX64.fullmatch(reg_hash) or reg_hash != registry.hash:
        raise ReportError("registry_mismatch", "registry.hash")
    if app_version not in registry.app_versions:
        raise ReportError("undeclared_version", "app.version", detail="the registry does not declare this version")
    period = _obj(top["period"], "period", {"start", "end"})
    upper = (now if now is not None else (1 << 40)) + limits.MAX_CLOCK_SKEW_SECONDS
    start = _int(period["start"], "period.start", limits.MIN_EPOCH_SECONDS, upper)
    end = _int(period["end"], "period.end", limits.MIN_EPOCH_SECONDS, upper)
    if not start <= end <= start + limits.MAX_PERIOD_SECONDS:
        raise ReportError(
            "bad_period", "period.end", detail=f"end must follow start by at most {limits.MAX_PERIOD_SECONDS}s"
        )
    sent_floor = end if now is None else max(end, now - limits.MAX_CLOCK_SKEW_SECONDS)
    sent_at = _int(top["sent_at"], "sent_at", sent_floor, upper)
    if (
        sent_at - end > limits.MAX_CLOCK_SKEW_SECONDS
    ):  # the period, as the receiver's clock sees it, ended over a year ago
        raise ReportError("out_of_bounds", "period.end", detail="the period ended more than a year before sent_at")
    values: dict[str, Value] = {}
    for metric_name, value in _obj(top["metrics"], "metrics").items():
        metric = registry.metrics.get(metric_name)
        if metric is None:
            # Never echoed (nor logged): a name the registry does not declare may be a user or host name.
            raise ReportError("undeclared_metric", "metrics.<undeclared>")
        values[metric_name] = check_value(metric, value, _join("metrics", metric_name))
    counters = _obj(top["client"], "client")
    _obj({k: v for k, v in counters.items() if k != "discarded"}, "client", set(limits.REQUIRED_CLIENT_COUNTERS))
    client = {k: _int(counters.get(k, 0), f"client.{k}", 0, limits.MAX_COUNTER) for k in limits.CLIENT_COUNTERS}
    return Report(
        report_id, installation_id, name, app_version, reg_version, reg_hash, start, end, sent_at, values, client
    )


def new_report_id() -> str:
    return str(uuid.uuid4())


def report_from_json(body: bytes, registries: Mapping[tuple[str, int], Registry], now: int | None = None) -> Report:
    return check_report(decode_json(body), registries, now)
