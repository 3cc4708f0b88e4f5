"""Hostile clients against a real collector process: slow bodies, slowloris, a connection flood."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from pathlib import Path

from optin.contract import Registry
from tests.helpers import make_report, post_json, request, start_collector


def _answer(sock: socket.socket) -> int:
    """The status of the answer on ``sock`` (0: closed without one)."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, TimeoutError):
        return 0
    match = re.match(rb"HTTP/1\.[01] (\d+)", data)
    return int(match.group(1)) if match else 0


def test_slow_bodies_get_408_at_their_deadline_and_then_normal_reports_get_in(
    tmp_path: Path, registry: Registry
) -> None:
    running = start_collector(
        tmp_path / "db" / "o.duckdb",
        tmp_path / "log",
        "--workers",
        "1",
        "--body-timeout-s",
        "1",
        "--max-requests-in-flight",
        "8",
    )
    try:
        slow = []
        for _ in range(12):  # more than the in-flight slots: headers and 10 of 1,000 body bytes, then nothing
            sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
            sock.sendall(
                b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n" + b'{"schema":'
            )
            slow.append(sock)
        time.sleep(0.3)
        held = post_json(running.url, make_report(registry))[0]
        statuses = [_answer(sock) for sock in slow]
        for sock in slow:
            sock.close()
        assert held == 429  # every slot held by a trickling body ...
        assert statuses.count(408) == 8 and statuses.count(429) == 4, statuses  # ... until its deadline
        assert post_json(running.url, make_report(registry))[0] == 202  # and then the slots are free again
        _, _, metrics = request(running.url, "GET", "/metrics")
        assert b"optin_slow_bodies_total 8" in metrics
        assert b'optin_requests_rejected_total{reason="body_timeout"} 8' in metrics
    finally:
        assert running.stop() == 0


def test_slowloris_connections_are_capped_and_closed_and_normal_clients_get_in(
    tmp_path: Path, registry: Registry
) -> None:
    log = tmp_path / "log"
    running = start_collector(
        tmp_path / "db" / "o.duckdb",
        log,
        "--workers",
        "1",
        "--keepalive-timeout-s",
        "3",
        "--max-connections",
        "20",
    )
    try:
        drips = []
        for _ in range(40):  # twice the cap, each dripping a request head that never ends
            sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
            sock.sendall(b"POST /v1/reports HTTP/1.1\r\nHo")
            drips.append(sock)
        started = time.monotonic()
        at_once = 0
        for sock in drips:  # beyond the cap: closed as soon as accepted
            sock.settimeout(0.05)
            try:
                at_once += sock.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionResetError:
                at_once += 1
            sock.settimeout(10)
        assert at_once == 20, at_once
        for _ in range(3):
            time.sleep(0.4)
            for sock in drips:
                with contextlib.suppress(OSError):
                    sock.sendall(b"s")
        closed = [_answer(sock) for sock in drips]  # every one: closed without an answer
        took = time.monotonic() - started
        for sock in drips:
            sock.close()
        assert closed == [0] * 40
        assert took < 8  # closed by the header / keep-alive timeout (3 s), not by the clients' 10 s timeouts
        doc = make_report(registry)
        assert post_json(running.url, doc)[0] == 202
    finally:
        assert running.stop() == 0
    text = log.read_text()
    assert "Traceback" not in text
    assert all(line.startswith("{") for line in text.splitlines())  # every line JSON
