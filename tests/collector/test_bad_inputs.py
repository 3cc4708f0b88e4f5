"""Every row of docs/bad-inputs.md, sent to a real `python -m optin.collector` process.

Each case checks the status and reason code, that the answer echoes none of the submitted
bad values, and at the end that nothing but the valid reports was stored, every rejection
was counted by reason, and the database opens.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from optin.contract import bundled_registry
from tests.helpers import CollectorProcess, make_report, request, start_collector

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-" + "7" * 40
REGISTRY = bundled_registry("millwright")
JSON = {"Content-Type": "application/json"}
MIB = 1 << 20


@dataclass
class Sent:
    status: int
    body: bytes
    headers: dict[str, str]
    method: str = "POST"
    path: str = "/v1/reports"


@dataclass(frozen=True)
class Case:
    id: str
    send: Callable[[CollectorProcess], Sent]
    status: int
    code: str  # the `error` of the answer ("" for successes)
    secrets: tuple[str, ...] = ()  # submitted values that must not come back


def _post(
    running: CollectorProcess, body: bytes, headers: dict[str, str] | None = None, path: str = "/v1/reports"
) -> Sent:
    status, answer_headers, data = request(running.url, "POST", path, body, JSON if headers is None else headers)
    return Sent(status, data, answer_headers, "POST", path)


def _report(metrics: dict[str, Any] | None = None, /, **overrides: Any) -> bytes:
    return json.dumps(make_report(REGISTRY, metrics, **overrides)).encode()


def _raw(text: str) -> Callable[[CollectorProcess], Sent]:
    return lambda running: _post(running, text.encode())


def _metrics(metrics: dict[str, Any]) -> Callable[[CollectorProcess], Sent]:
    return lambda running: _post(running, _report(metrics))


def _fields(**overrides: Any) -> Callable[[CollectorProcess], Sent]:
    return lambda running: _post(running, _report(**overrides))


def _splice(key: str, raw_value: str) -> Callable[[CollectorProcess], Sent]:
    """A valid report with one metric's JSON value replaced by ``raw_value`` verbatim."""

    def send(running: CollectorProcess) -> Sent:
        text = _report({key: 0}).decode()
        return _post(running, text.replace(f'"{key}": 0', f'"{key}": {raw_value}').encode())

    return send


def _chunked_body(running: CollectorProcess, size: int) -> Sent:
    """A body with no Content-Length, streamed in chunks: the collector stops reading at the limit."""
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"[" + b"0," * 32767 + b"0]"
        sent = 0
        try:
            while sent < size:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the collector answered and closed before the end: that is the point
        data = b""
        while b"\r\n\r\n" not in data or not re.search(rb"\r\n\r\n.*\}", data, re.S):
            more = sock.recv(65536)
            if not more:
                break
            data += more
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return Sent(status, body[body.find(b"{") :] if b"{" in body else body, {})


def _lying_length(running: CollectorProcess) -> Sent:
    """Content-Length claims 2 MiB; the collector refuses on the header, before reading a byte."""
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{"
            % (2 * MIB)
        )
        data = b""
        while not re.search(rb"\r\n\r\n.*\}", data, re.S):
            more = sock.recv(65536)
            if not more:
                break
            data += more
    head, _, body = data.partition(b"\r\n\r\n")
    return Sent(int(head.split(b" ")[1]), body, {})


def _gzip_bomb(running: CollectorProcess) -> Sent:
    """128 MiB of zeros in about 128 KiB of gzip; the collector must stop at 1 MiB, not inflate it."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"0" * MIB
    bomb = b"".join(squeeze.compress(zeros) for _ in range(128)) + squeeze.flush()
    assert len(bomb) < MIB // 4
    before = _peak_rss_kib(running)
    sent = _post(running, bomb, {**JSON, "Content-Encoding": "gzip"})
    grown_mib = (_peak_rss_kib(running) - before) / 1024
    assert grown_mib < 32, f"peak memory grew by {grown_mib:.0f} MiB: the bomb was inflated"
    return sent


def _peak_rss_kib(running: CollectorProcess) -> int:
    status = Path(f"/proc/{running.proc.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


ACKED: list[str] = []  # report ids answered 202 during this module


def _duplicate(running: CollectorProcess) -> Sent:
    doc = make_report(REGISTRY)
    body = json.dumps(doc).encode()
    first = _post(running, body)
    assert first.status == 202
    ACKED.append(doc["report_id"])
    return _post(running, body)


def _get(path: str, headers: dict[str, str] | None = None) -> Callable[[CollectorProcess], Sent]:
    def send(running: CollectorProcess) -> Sent:
        status, answer_headers, data = request(running.url, "GET", path, b"", headers)
        return Sent(status, data, answer_headers, "GET", path)

    return send


NOW = int(time.time())
DEEP = "[" * 40 + "]" * 40
PATH_WIN = "C:\\\\Users\\\\alice\\\\Documents\\\\bracket.step"
CASES: tuple[Case, ...] = (
    Case("malformed-json", _raw('{"schema": 1, "report_id": '), 400, "malformed_json"),
    Case("trailing-data", lambda r: _post(r, _report() + b' {"extra": true}'), 400, "malformed_json"),
    Case("empty-body", _raw(""), 400, "malformed_json"),
    Case("not-utf8", lambda r: _post(r, b'{"schema": 1, "x": "\xff\xfe"}'), 400, "bad_encoding"),
    Case("utf8-bom", lambda r: _post(r, b"\xef\xbb\xbf" + _report()), 400, "malformed_json"),
    Case("nan", _splice("toolpath.pocket", "NaN"), 400, "non_finite_number"),
    Case("infinity", _splice("toolpath.pocket", "-Infinity"), 400, "non_finite_number"),
    Case("overflowing-number", _splice("system.ram_gib", "1e999"), 422, "wrong_type"),
    Case("huge-integer", _splice("toolpath.pocket", "9" * 400), 422, "out_of_bounds"),
    Case(
        "duplicate-key",
        lambda r: _post(r, _report().replace(b'"sent_at": ', b'"sent_at": 1, "sent_at": ', 1)),
        400,
        "duplicate_key",
    ),
    Case("too-large", lambda r: _post(r, b" " * (MIB + 1)), 413, "too_large"),
    Case("lying-length", _lying_length, 413, "too_large"),
    Case("chunked-too-large", lambda r: _chunked_body(r, 2 * MIB), 413, "too_large"),
    Case("gzip-bomb", _gzip_bomb, 413, "too_large_decompressed"),
    Case("long-string", lambda r: _post(r, _report(app_version="1" * 170_000)), 400, "string_too_long"),
    Case(
        "long-escaped-string",
        lambda r: _post(
            r,  # 150,000 JSON escapes (a 900 KB body, a 2 KB gzip), decoding to a 150,000-character string
            gzip.compress(_report(app_version="@").replace(b'"@"', b'"' + b"\\u0031" * 150_000 + b'"')),
            {**JSON, "Content-Encoding": "gzip"},
        ),
        400,
        "too_many_escapes",
    ),
    Case(
        "gzip-too-large-compressed",
        lambda r: _post(r, gzip.compress(os.urandom(MIB + 4096), 1), {**JSON, "Content-Encoding": "gzip"}),
        413,
        "too_large",
    ),
    Case(
        "bad-gzip",
        lambda r: _post(r, gzip.compress(_report())[:-9], {**JSON, "Content-Encoding": "gzip"}),
        400,
        "bad_gzip",
    ),
    Case(
        "gzip-trailing-data",
        lambda r: _post(r, gzip.compress(_report()) + gzip.compress(b"{}"), {**JSON, "Content-Encoding": "gzip"}),
        400,
        "bad_gzip",
    ),
    Case("gzip-not-declared", lambda r: _post(r, gzip.compress(_report())), 400, "bad_encoding"),
    Case("plain-declared-gzip", lambda r: _post(r, _report(), {**JSON, "Content-Encoding": "gzip"}), 400, "bad_gzip"),
    Case(
        "wrong-content-type",
        lambda r: _post(r, _report(), {"Content-Type": "text/plain"}),
        415,
        "unsupported_media_type",
    ),
    Case(
        "wrong-encoding", lambda r: _post(r, _report(), {**JSON, "Content-Encoding": "br"}), 415, "unsupported_encoding"
    ),
    Case("deep-nesting", _splice("toolpath.pocket", DEEP), 400, "too_deep"),
    Case("wide-object", _metrics({f"m{i}": 1 for i in range(5000)}), 400, "too_wide"),
    Case("wide-array", _splice("simulation.duration", json.dumps([0] * 5000)), 400, "too_wide"),
    Case("true-is-not-an-integer", _metrics({"toolpath.pocket": True}), 422, "wrong_type"),
    Case("string-for-integer", _metrics({"toolpath.pocket": "3"}), 422, "wrong_type"),
    Case("float-for-integer", _metrics({"toolpath.pocket": 2.5}), 422, "wrong_type"),
    Case("negative-count", _metrics({"toolpath.pocket": -4}), 422, "out_of_bounds"),
    Case("integer-for-boolean", _metrics({"simulation.collision_check": 1}), 422, "wrong_type"),
    Case("wrong-type-field", _fields(sent_at=str(NOW)), 422, "wrong_type"),
    Case("schema-as-string", _fields(schema="1"), 422, "unsupported_schema"),
    Case(
        "missing-field",
        lambda r: _post(r, json.dumps({k: v for k, v in make_report(REGISTRY).items() if k != "client"}).encode()),
        422,
        "missing_field",
    ),
    Case("unknown-field", _fields(hostname="alice-workstation"), 422, "unknown_field", ("alice-workstation",)),
    Case("undeclared-metric", _metrics({"model.vertices": 1200}), 422, "undeclared_metric"),
    Case(
        "value-outside-set", _metrics({"ui.theme": "solarized-alice"}), 422, "value_not_allowed", ("solarized-alice",)
    ),
    Case("quantity-not-a-bucket", _metrics({"system.ram_gib": 24}), 422, "value_not_allowed"),
    Case("count-above-declared-max", _metrics({"session.usage_seconds": 10**8}), 422, "out_of_bounds"),
    Case(
        "path-as-value", _splice("ui.theme", f'"{PATH_WIN}"'), 422, "value_not_allowed", ("alice", "bracket", "Users")
    ),
    Case(
        "path-as-metric-name",
        _metrics({"/home/alice/models/bracket.step": 1}),
        422,
        "undeclared_metric",
        ("alice", "bracket", "/home"),
    ),
    Case(
        "path-as-label",
        _metrics({"file.import": {"/home/alice/bracket.step": 1}}),
        422,
        "value_not_allowed",
        ("alice", "bracket"),
    ),
    Case(
        "geometry",
        _metrics({"sketch.line": [[0.0, 0.0, 0.0], [12.5, 40.25, 3.125]]}),
        422,
        "wrong_type",
        ("40.25", "12.5"),
    ),
    Case("geometry-as-metric", _metrics({"model.mesh": {"v": 3}}), 422, "undeclared_metric"),
    Case(
        "email-as-value",
        _metrics({"system.language": "alice@example.com"}),
        422,
        "value_not_allowed",
        ("alice", "example.com"),
    ),
    Case("token-as-label", _metrics({"post.run": {"ghp_A1b2C3d4E5f6G7h8": 1}}), 422, "value_not_allowed", ("ghp_",)),
    Case("token-as-field", _fields(token="sk-live-0123456789abcdef"), 422, "unknown_field", ("sk-live",)),
    Case("unicode-homoglyph", _metrics({"ui.theme": "d\u0430rk"}), 422, "value_not_allowed", ("d\u0430rk",)),
    Case("unicode-lone-surrogate", _splice("ui.theme", '"\\ud800dark"'), 422, "value_not_allowed"),
    Case("unicode-nul", _splice("ui.theme", '"dark\\u0000"'), 422, "value_not_allowed"),
    Case("unicode-rtl-metric-name", _metrics({"toolpath.\u202epocket": 1}), 422, "undeclared_metric", ("\u202e",)),
    Case(
        "unicode-fullwidth-digits",
        _fields(app={"name": "millwright", "version": "\uff12\uff10\uff12\uff15.1"}),
        422,
        "bad_version",
    ),
    Case("duplicate-report-id", _duplicate, 200, ""),
    Case("malformed-report-id", _fields(report_id="not-a-uuid"), 400, "bad_uuid"),
    Case("upper-case-report-id", _fields(report_id=str(uuid.uuid4()).upper()), 400, "bad_uuid"),
    Case("installation-id-not-v4", _fields(installation_id=str(uuid.uuid1())), 400, "bad_uuid"),
    Case("unknown-app", _fields(app={"name": "lathe_pro", "version": "1.0"}), 422, "unknown_registry"),
    Case("registry-hash-mismatch", _fields(registry={"version": 2, "hash": "0" * 64}), 422, "registry_mismatch"),
    Case(
        "undeclared-app-version", _fields(app={"name": "millwright", "version": "10.0.0.1"}), 422, "undeclared_version"
    ),
    Case("timestamp-before-2000", _fields(period={"start": 0, "end": 3600}), 422, "out_of_bounds"),
    Case(
        "timestamp-far-future",
        _fields(
            period={"start": NOW + 10 * 366 * 86400, "end": NOW + 10 * 366 * 86400 + 60},
            sent_at=NOW + 10 * 366 * 86400 + 90,
        ),
        422,
        "out_of_bounds",
    ),
    Case("period-backwards", _fields(period={"start": NOW - 100, "end": NOW - 200}), 422, "bad_period"),
    Case("period-too-long", _fields(period={"start": NOW - 90 * 86400, "end": NOW - 60}), 422, "bad_period"),
    Case("sent-before-period-end", _fields(sent_at=NOW - 10 * 86400), 422, "out_of_bounds"),
    Case(
        "period-over-a-year-old",
        _fields(period={"start": NOW - 400 * 86400 - 3600, "end": NOW - 400 * 86400}, sent_at=NOW - 60),
        422,
        "out_of_bounds",
    ),
    Case(
        "deletion-bad-id",
        lambda r: _post(r, b'{"installation_id": "alice"}', path="/v1/deletions"),
        400,
        "bad_uuid",
        ("alice",),
    ),
    Case(
        "deletion-extra-field",
        lambda r: _post(
            r, json.dumps({"installation_id": str(uuid.uuid4()), "email": "a@b.c"}).encode(), path="/v1/deletions"
        ),
        400,
        "malformed_request",
        ("a@b.c",),
    ),
    Case("aggregates-without-token", _get("/v1/aggregates/features"), 401, "unauthorized"),
    Case(
        "aggregates-wrong-token",
        _get("/v1/aggregates/features", {"Authorization": "Bearer " + TOKEN[:-1] + "8"}),
        401,
        "unauthorized",
    ),
    Case("aggregates-token-in-query", _get(f"/v1/aggregates/features?token={TOKEN}"), 401, "unauthorized"),
    Case("dashboard-wrong-token", _get("/dashboard?token=guess"), 401, "unauthorized"),
    Case("snapshot-without-token", lambda r: _post(r, b"", {}, path="/v1/snapshots"), 401, "unauthorized"),
    Case(
        "aggregates-unknown-question",
        _get("/v1/aggregates/raw-rows", {"Authorization": f"Bearer {TOKEN}"}),
        404,
        "unknown_question",
    ),
    Case(
        "aggregates-bad-date",
        _get("/v1/aggregates/features?from=yesterday", {"Authorization": f"Bearer {TOKEN}"}),
        400,
        "bad_date",
        ("yesterday",),
    ),
)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    tmp = tmp_path_factory.mktemp("bad-inputs")
    token_file = tmp / "token"
    token_file.write_text(TOKEN + "\n")
    started = start_collector(tmp / "db" / "optin.duckdb", tmp / "collector.log", "--token-file", str(token_file))
    yield started
    started.stop()


def _documented_statuses(method: str, path: str) -> set[int]:
    """The answers /openapi.json (as the collector serves it) documents for this request."""
    from optin.collector._openapi import openapi_document

    route = path.split("?")[0]
    for template, operations in openapi_document()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), route):
            return {int(code) for code in operations[method.lower()]["responses"]}
    raise AssertionError(f"{method} {route} is not in /openapi.json")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_its_documented_answer(running: CollectorProcess, case: Case) -> None:
    sent = case.send(running)
    assert sent.status in _documented_statuses(sent.method, sent.path)  # /openapi.json matches the behaviour
    doc = json.loads(sent.body) if sent.body.strip() else {}
    assert (sent.status, doc.get("error", "")) == (case.status, case.code), sent.body
    if sent.status in (400, 413, 415, 422):
        assert set(doc) <= {"error", "path", "detail"}
    for secret in case.secrets:
        assert secret not in sent.body.decode("utf-8", "replace") and json.dumps(secret)[1:-1] not in sent.body.decode()


def test_the_documented_table_is_exactly_the_tested_cases() -> None:
    table = (ROOT / "docs" / "bad-inputs.md").read_text(encoding="utf-8")
    documented: dict[str, tuple[int, str]] = {}
    for line in table.splitlines():
        row = re.match(r"^\| `([a-z0-9-]+)` \|", line)
        if row:
            answer = line.rstrip(" |").rsplit(" | ", 1)[1]  # last cell: "422 `wrong_type`" or "200 ..."
            code = re.search(r"`([a-z_]+)`", answer)
            documented[row.group(1)] = (int(answer[:3]), code.group(1) if code else "")
    assert sorted(documented) == sorted(c.id for c in CASES)
    assert {c.id: (c.status, c.code) for c in CASES} == documented  # the documented answer is the tested one


def _rejected_counts(running: CollectorProcess) -> Counter[str]:
    status, _, metrics = request(running.url, "GET", "/metrics")
    assert status == 200
    return Counter(
        {
            m.group(1).decode(): int(m.group(2))
            for m in re.finditer(rb'optin_requests_rejected_total\{reason="([a-z_]+)"\} (\d+)', metrics)
        }
    )


def test_every_rejection_is_counted_by_reason_and_only_acknowledged_reports_are_stored(
    running: CollectorProcess,
) -> None:
    rejecting = [c for c in CASES if c.status >= 400 and not c.id.startswith(("aggregates", "dashboard", "snapshot"))]
    before = _rejected_counts(running)
    for case in rejecting:
        case.send(running)
    after = _rejected_counts(running)
    assert after - before == Counter(c.code for c in rejecting)
    assert running.stop() == 0  # SIGTERM: drains, commits, flushes the rejection counts, checkpoints
    con = duckdb.connect(str(running.db), read_only=True)  # the database opens
    try:
        stored = [row[0] for row in con.execute("SELECT CAST(report_id AS VARCHAR) FROM reports").fetchall()]
        assert sorted(stored) == sorted(ACKED)  # stored exactly once; nothing stored that was not acknowledged
        reasons = dict(con.execute("SELECT reason, sum(count) FROM rejections GROUP BY reason").fetchall())
        assert all(reasons.get(code, 0) >= count for code, count in (after - Counter()).items())
    finally:
        con.close()


def test_every_route_is_in_the_openapi_document_and_nothing_else(tmp_path: Path) -> None:
    from optin.collector import Config, create_app
    from optin.collector._openapi import openapi_document

    app = create_app(Config(db=tmp_path / "o.duckdb", port=0))
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {(method, path) for path, operations in openapi_document()["paths"].items() for method in operations}
    assert served == documented
