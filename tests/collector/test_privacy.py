"""Nothing about the sender is kept: no address, user agent, header or path-like string in any file.

A real collector process receives valid and rejected reports from a canary address
(127.0.0.77), with a canary user agent, forwarding headers, cookies and path-like strings in
headers, URLs and bodies, plus a request so malformed that aiohttp itself logs an error.
Then every file the collector wrote (database and WAL copied while it runs, the database after
shutdown, a Parquet snapshot, its log) is searched byte for byte, and the database and
snapshot are also searched decoded (DuckDB and Parquet compress strings, which a byte search
alone could miss). Every file is 0600, every folder 0700.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import stat
import uuid
from pathlib import Path

import duckdb

from optin.contract import Registry
from tests.helpers import make_report, request, start_collector

CLIENT_ADDRESS = "127.0.0.77"
TOKEN = "privacy-test-token-0123456789"
USER_AGENT = "CanaryAgent/9.9 (canary-ua-7f3a; Windows NT 10.0)"
CANARY_PATHS = ("/home/canaryuser/models/secret-bracket.step", "C:\\Users\\canaryuser\\Documents\\secret-bracket.step")
NEEDLES = (
    CLIENT_ADDRESS,
    "127.0.0.1",
    "203.0.113.77",
    "198.51.100.23",
    "canary-ua-7f3a",
    "CanaryAgent",
    "canaryuser",
    "secret-bracket",
    "canary@example.com",
    "canary-cookie-value",
)
HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": USER_AGENT,
    "X-Forwarded-For": "203.0.113.77, 198.51.100.23",
    "X-Real-IP": "203.0.113.77",
    "Forwarded": "for=203.0.113.77;proto=https",
    "Referer": "file:///home/canaryuser/models/secret-bracket.step",
    "Cookie": "session=canary-cookie-value",
    "From": "canary@example.com",
}


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(CLIENT_ADDRESS, 0))
    try:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(CLIENT_ADDRESS, 0)) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _decoded_strings(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    casts = ", ".join(f"CAST({c} AS VARCHAR)" for c in columns)
    rows = con.execute(f"SELECT {casts} FROM {relation}").fetchall()
    return "\n".join("\t".join(str(v) for v in row) for row in rows)


def test_no_address_user_agent_header_or_path_like_string_reaches_any_file(tmp_path: Path, registry: Registry) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    log = tmp_path / "collector.log"
    data = tmp_path / "data"
    snapshots = data / "snapshots"
    running = start_collector(
        data / "db" / "optin.duckdb",
        log,
        "--token-file",
        str(token_file),
        "--snapshot-dir",
        str(snapshots),
        "--log-level",
        "debug",
    )
    try:
        port = running.port
        for _ in range(20):
            assert (
                _post(
                    port,
                    "/v1/reports?file=/home/canaryuser/models/secret-bracket.step",
                    json.dumps(make_report(registry)).encode(),
                    HEADERS,
                )
                == 202
            )
        rejected = [
            make_report(registry, {path: 1 for path in CANARY_PATHS}),
            make_report(registry, {"ui.theme": CANARY_PATHS[1]}),
            make_report(registry, {"file.import": {CANARY_PATHS[0]: 1}}),
            make_report(registry, {"system.language": "canary@example.com"}),
            make_report(registry, hostname="canaryuser-workstation"),
        ]
        for doc in rejected:
            assert _post(port, "/v1/reports", json.dumps(doc).encode(), HEADERS) == 422
        assert _post(port, "/v1/reports", b'{"path": "/home/canaryuser/secret-bracket.step", ', HEADERS) == 400
        assert _post(port, "/v1/deletions", b'{"installation_id": "canary@example.com"}', HEADERS) == 400
        assert _post(port, "/v1/deletions", json.dumps({"installation_id": str(uuid.uuid4())}).encode(), HEADERS) == 202
        # Malformed HTTP: aiohttp's own error path would log "Error handling request from <address>".
        answer = _raw(
            port,
            b"POST /v1/reports HTTP/1.1\r\nHost: canaryuser\r\nX-Canary: /home/canaryuser/\x01secret-bracket\r\nContent-Length: 2\r\n\r\n{}",
        )
        assert answer.startswith(b"HTTP/1.0 400") and b"canary" not in answer and b"secret" not in answer
        answer = _raw(port, b"GET /home/canaryuser/secret-bracket.step\x00 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.0 4") and b"canary" not in answer and b"secret" not in answer
        assert _post(port, "/v1/aggregates/features", b"", {**HEADERS, "Authorization": "Bearer canaryuser"}) in (
            401,
            405,
        )
        status, _, _ = request(
            running.url, "POST", "/v1/snapshots", b"", {"Authorization": f"Bearer {TOKEN}", "User-Agent": USER_AGENT}
        )
        assert status == 200
        live = tmp_path / "copied-while-running"  # database and WAL as they are before any checkpoint
        live.mkdir()
        for path in _files(running.db.parent):
            shutil.copy(path, live / path.name)
        assert any(p.name.endswith(".wal") for p in _files(live)), "expected a WAL while running"
        assert any(p.suffix == ".seg" for p in _files(live)), "expected journal segments while running"
    finally:
        assert running.stop() == 0

    written = _files(data) + _files(live) + [log]
    assert any(p.suffix == ".parquet" for p in written)
    for path in written:
        content = path.read_bytes()
        for needle in NEEDLES:
            for encoded in (needle.encode("utf-8"), needle.encode("utf-16-le")):
                assert encoded not in content, f"{needle!r} found in {path.relative_to(tmp_path)}"

    con = duckdb.connect(str(running.db), read_only=True)
    try:
        tables = [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        decoded = "\n".join(_decoded_strings(con, table) for table in tables)
        parquet = [p for p in _files(snapshots) if p.suffix == ".parquet"]
        decoded += "\n".join(_decoded_strings(con, f"read_parquet('{p}')") for p in parquet)
    finally:
        con.close()
    for needle in NEEDLES:
        assert needle not in decoded
    assert '"event":"http_error"' in log.read_text()  # the malformed requests did reach aiohttp's error log, scrubbed

    for path in _files(data):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    journal = data / "db" / "optin.duckdb.journal"
    journals = [p for p in journal.iterdir() if p.is_dir()]
    assert journals, "expected a journal folder per worker"
    for folder in [data / "db", journal, *journals, snapshots, *[p for p in snapshots.rglob("*") if p.is_dir()]]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert not [p for p in os.listdir(data) if p.startswith(".snapshots.")]  # no staging folder left behind
