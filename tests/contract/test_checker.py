"""The compiled report check accepts exactly what `report_from_json` accepts, and encodes it the same.

`ReportChecker.check` takes a fast path for ordinary bodies and hands everything else to the contract's
`report_from_json`. The property that makes that safe: whenever the fast path accepts a body,
the contract accepts it too and encodes the same rows. Mutated bodies (wrong types, values out
of their sets and bounds, repeated keys, unknown keys, odd numbers) probe the edges.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from hypothesis import given, settings, strategies as st

from optin.contract import ReportChecker, ReportError, bundled_registry, encode_value, report_from_json
from tests.helpers import make_report, random_metrics

REGISTRY = bundled_registry("millwright")
REGISTRIES = {(REGISTRY.app, REGISTRY.version): REGISTRY}
CHECKER = ReportChecker(REGISTRIES)


def _strict(body: bytes, now: int) -> tuple[str, Any]:
    try:
        return "ok", CHECKER.from_report(report_from_json(body, REGISTRIES, now))
    except ReportError as error:
        return "error", (error.status, error.code, error.path)


def _checked(body: bytes, now: int) -> tuple[str, Any]:
    try:
        return "ok", CHECKER.check(body, now)
    except ReportError as error:
        return "error", (error.status, error.code, error.path)


def test_valid_reports_take_the_fast_path_and_encode_as_the_contract() -> None:
    rng = random.Random(7)
    now = int(time.time())
    for _ in range(300):
        doc = make_report(REGISTRY, random_metrics(REGISTRY, rng))
        body = json.dumps(doc).encode()
        fast = CHECKER._fast(json.loads(body), body, now)
        assert fast is not None
        strict = _strict(body, now)
        assert strict == ("ok", fast)
        rows = [
            (CHECKER.metric_names[o][1], label, value)
            for o, label, value in zip(fast.ordinals, fast.labels, fast.values, strict=False)
        ]
        expected = [
            (name, label, count)
            for name, value in doc["metrics"].items()
            for label, count in encode_value(REGISTRY.metrics[name], value)
        ]
        assert rows == expected


_odd = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 2**63, 1.0, 0.5, 1e300, -0.0, 4096.0])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="abc:.-_0123456789", max_size=8)
    | st.sampled_from(["windows", "step", "x86_64", "2025.3.0", "10.0.0.1", "", "a:b"])
    | st.lists(st.integers(-2, 5), max_size=12)
    | st.dictionaries(
        st.sampled_from(["step", "iges", "dxf", "stl", "nope", "a:b"]), st.integers(-1, 3) | st.booleans(), max_size=3
    )
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


@settings(max_examples=600, deadline=None)
@given(
    st.integers(0, 2**32),
    st.integers(0, 10**6),
    _odd,
    st.sampled_from(["replace", "delete", "add", "repeat", "rename"]),
)
def test_the_fast_path_never_accepts_what_the_contract_refuses(seed: int, pick: int, odd: Any, how: str) -> None:
    rng = random.Random(seed)
    now = int(time.time())
    doc = make_report(REGISTRY, random_metrics(REGISTRY, rng))
    paths = _paths(doc)
    path = paths[pick % len(paths)]
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    body: bytes
    if how == "replace":
        parent[last] = odd
        body = json.dumps(doc).encode()
    elif how == "delete" and isinstance(parent, dict):
        del parent[last]
        body = json.dumps(doc).encode()
    elif how == "add" and isinstance(parent, dict):
        parent[str(odd)[:12] or "x"] = odd
        body = json.dumps(doc).encode()
    elif how == "rename" and isinstance(parent, dict):
        parent[str(odd)[:12] + "."] = parent.pop(last)
        body = json.dumps(doc).encode()
    else:  # repeat a key of the innermost object holding this path, in the text itself
        text = json.dumps(doc)
        key = json.dumps(str(last))
        position = text.find(key + ":")
        if position < 0:
            return
        body = (text[:position] + key + ": " + json.dumps(odd) + ", " + text[position:]).encode()
    fast = CHECKER._fast(json.loads(body), body, now) if b"\\u" not in body else None
    strict = _strict(body, now)
    if fast is not None:
        assert strict == ("ok", fast)
    assert _checked(body, now) == strict


def test_refusals_name_the_same_reason_and_field_as_the_contract() -> None:
    now = int(time.time())
    doc = make_report(REGISTRY)
    cases = {
        "true is not a count": {**doc, "metrics": {"toolpath.pocket": True}},
        "undeclared metric": {**doc, "metrics": {"host.name.of.user": 1}},
        "label outside the set": {**doc, "metrics": {"file.import": {"docx": 1}}},
        "value outside the set": {**doc, "metrics": {"system.os_family": "beos"}},
        "bad version": {**doc, "app": {"name": REGISTRY.app, "version": "1.0-beta"}},
        "client counter too large": {**doc, "client": {"dropped": 2**31, "evicted": 0, "rejected": 0}},
    }
    for name, case in cases.items():
        body = json.dumps(case).encode()
        outcome = _checked(body, now)
        assert outcome[0] == "error", name
        assert outcome == _strict(body, now), name
    repeated = json.dumps(doc).replace('"metrics": {', '"metrics": {"toolpath.pocket": 1, ', 1).encode()
    assert repeated.count(b'"toolpath.pocket"') == 2
    assert _checked(repeated, now) == ("error", (400, "duplicate_key", ""))


def test_a_registry_outside_the_contract_rules_gets_no_fast_path() -> None:
    """Registries built in code (not parsed) may break what the fast path relies on: then every report takes the contract's path."""
    import dataclasses

    now = int(time.time())
    for odd in (
        dataclasses.replace(REGISTRY, version=2**30 + 1),
        dataclasses.replace(REGISTRY, hash=REGISTRY.hash.upper()),
        dataclasses.replace(REGISTRY, version=0),
    ):
        registries = {(odd.app, odd.version): odd}
        checker = ReportChecker(registries)
        doc = make_report(odd, {"toolpath.pocket": 3})
        body = json.dumps(doc).encode()
        assert checker._fast(json.loads(body), body, now) is None
        with_contract: tuple[str, Any]
        try:
            with_contract = ("ok", checker.from_report(report_from_json(body, registries, now)))
        except ReportError as error:
            with_contract = ("error", (error.status, error.code, error.path))
        try:
            outcome: tuple[str, Any] = ("ok", checker.check(body, now))
        except ReportError as error:
            outcome = ("error", (error.status, error.code, error.path))
        assert outcome == with_contract
        assert outcome[0] == "error"


def test_reports_without_the_discarded_counter_stay_valid_and_both_paths_agree_on_it() -> None:
    """Clients built before `client.discarded` keep working; the fast path and the contract agree."""
    now = int(time.time())
    doc = make_report(REGISTRY)
    del doc["client"]["discarded"]  # as a client built before the counter sends it
    for counters, discarded in (({}, 0), ({"discarded": 5}, 5)):
        body = json.dumps({**doc, "client": {**doc["client"], **counters}}).encode()
        fast = CHECKER._fast(json.loads(body), body, now)
        assert fast is not None and fast.discarded == discarded
        assert _strict(body, now) == ("ok", fast)
    for client, code in (
        ({**doc["client"], "discarded": -1}, "out_of_bounds"),
        ({**doc["client"], "discarded": True}, "wrong_type"),
        ({**doc["client"], "lost": 0}, "unknown_field"),
        ({"dropped": 0, "evicted": 0, "discarded": 0}, "missing_field"),
    ):
        body = json.dumps({**doc, "client": client}).encode()
        assert _checked(body, now) == _strict(body, now)
        assert _strict(body, now)[1][:2] == (422, code)
