from __future__ import annotations

import json
import time
from typing import Any

import pytest

from optin.contract import Registry, ReportError, check_report, decode_json
from tests.helpers import make_report


def check(registry: Registry, doc: Any) -> None:
    check_report(doc, {(registry.app, registry.version): registry}, now=int(time.time()))


def test_a_valid_report_round_trips(registry: Registry) -> None:
    doc = make_report(registry)
    report = check_report(
        decode_json(json.dumps(doc).encode()), {(registry.app, registry.version): registry}, now=int(time.time())
    )
    assert report.to_wire() == doc


@pytest.mark.parametrize(
    ("metrics", "code", "path"),
    [
        ({"secret.geometry": 1}, "undeclared_metric", "metrics.<undeclared>"),
        ({"toolpath.pocket": True}, "wrong_type", "metrics.toolpath.pocket"),
        ({"toolpath.pocket": -1}, "out_of_bounds", "metrics.toolpath.pocket"),
        ({"toolpath.pocket": 1.5}, "wrong_type", "metrics.toolpath.pocket"),
        ({"file.import": {"C:/models/part.step": 1}}, "value_not_allowed", "metrics.file.import.<label>"),
        ({"ui.theme": "solarized"}, "value_not_allowed", "metrics.ui.theme"),
        ({"system.ram_gib": 24}, "value_not_allowed", "metrics.system.ram_gib"),
        ({"simulation.duration": [1, 2]}, "out_of_bounds", "metrics.simulation.duration"),
        ({"simulation.collision_check": 1}, "wrong_type", "metrics.simulation.collision_check"),
        ({"/home/alice/secret model.step": 1}, "undeclared_metric", "metrics.<undeclared>"),
        ({"jdoe.ws42.acme.corp": 1}, "undeclared_metric", "metrics.<undeclared>"),
        ({"model.part_count": 10**400}, "value_not_allowed", "metrics.model.part_count"),
    ],
)
def test_schema_violations_name_the_field_and_never_the_value(
    registry: Registry, metrics: dict[str, Any], code: str, path: str
) -> None:
    with pytest.raises(ReportError) as caught:
        check(registry, make_report(registry, metrics))
    assert (caught.value.code, caught.value.path, caught.value.status) == (code, path, 422)
    for value in map(str, metrics.values()):
        assert value not in str(caught.value)
    assert "alice" not in str(caught.value) and "jdoe" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"a": 1, "a": 2}', "duplicate_key"),
        (b'{"a": NaN}', "non_finite_number"),
        (b'{"a": Infinity}', "non_finite_number"),
        (b"[" * 100 + b"]" * 100, "too_deep"),
        (b'{"a": 1} trailing', "malformed_json"),
        (b"\xff\xfe", "bad_encoding"),
        (b'{"a": ', "malformed_json"),
    ],
)
def test_malformed_json_is_a_400_with_a_reason(body: bytes, code: str) -> None:
    with pytest.raises(ReportError) as caught:
        decode_json(body)
    assert (caught.value.code, caught.value.status) == (code, 400)


def test_absurd_timestamps_and_bad_ids_are_refused(registry: Registry) -> None:
    now = int(time.time())
    bad: list[tuple[dict[str, Any], str]] = [
        ({"period": {"start": 0, "end": 10}}, "out_of_bounds"),
        ({"period": {"start": now, "end": now + 10 * 366 * 86400}}, "out_of_bounds"),
        ({"period": {"start": now - 10, "end": now - 20}}, "bad_period"),
        ({"sent_at": now - 10 * 366 * 86400}, "out_of_bounds"),
        ({"report_id": "not-a-uuid"}, "bad_uuid"),
        ({"installation_id": "00000000-0000-1000-8000-000000000000"}, "bad_uuid"),
        ({"app": {"name": "millwright", "version": "latest and greatest"}}, "bad_version"),
        ({"registry": {"version": 2, "hash": "0" * 64}}, "registry_mismatch"),
        ({"app": {"name": "millwright", "version": "9.9.9"}}, "undeclared_version"),
        ({"extra": 1}, "unknown_field"),
        ({"home.jdoe.models.secret_part": 1}, "unknown_field"),
        ({"schema": 1.0}, "unsupported_schema"),
    ]
    for override, code in bad:
        with pytest.raises(ReportError) as caught:
            check(registry, make_report(registry, **override))
        assert caught.value.code == code, override
        assert "jdoe" not in str(caught.value)
