"""Shared test helpers: a real collector process, reports built with the real client code."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optin.contract import Registry, Report

ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(rb'"event":"ready","port":(\d+)')
STARTED = re.compile(rb'"event":"started","role":"(\w+)","pid":(\d+)')


@dataclass
class CollectorProcess:
    proc: subprocess.Popen[bytes]
    port: int
    db: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
        code = stop_process(self.proc, sig, timeout_s)
        wait_gone(self.children())
        return code

    def children(self, role: str = "") -> list[int]:
        """Process ids of the loader and workers this collector started (as its log names them)."""
        return [int(pid) for r, pid in STARTED.findall(self.log.read_bytes()) if not role or r.decode() == role]


def wait_gone(pids: list[int], timeout_s: float = 30) -> None:
    """Wait until none of ``pids`` runs any more (a collector's processes die with it)."""
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        while _alive(pid):
            if time.monotonic() > deadline:
                raise AssertionError(f"process {pid} still runs")
            time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b") ")[1][:1] != b"Z"  # a zombie has exited
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
    """Signal a child, wait up to ``timeout_s``, then kill it; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def launch_collector(
    db: Path,
    log: Path,
    *flags: str,
    port: int = 0,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    subcommand: str = "",
) -> CollectorProcess:
    """Start `python -m optin.collector [SUBCOMMAND] --db DB --host 127.0.0.1 --port PORT FLAGS` without waiting.

    The one way tests start a collector process (``subcommand`` "loader": a NATS stream's loader).
    ``port`` 0 lets the system choose; the port is then known once the process is ready (see
    `wait_ready`). Output goes to ``log`` (appended).
    """
    command = [sys.executable, "-m", "optin.collector", *([subcommand] if subcommand else [])]
    command += ["--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "ab") as out:  # the child holds its own copy of the descriptor
        proc = subprocess.Popen(
            [*command, *flags],
            stdout=out,
            stderr=out,
            env={**os.environ, **(env or {})},
            preexec_fn=preexec_fn,
            cwd=ROOT,
        )
    return CollectorProcess(proc, port, db, log)


def wait_ready(running: CollectorProcess, timeout_s: float = 30) -> bool:
    """True once the process logged "ready" (its port is then set); False if it exited first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = READY.search(running.log.read_bytes())
        if match:
            running.port = int(match.group(1))
            return True
        if running.proc.poll() is not None:
            return False
        time.sleep(0.02)
    raise TimeoutError("collector neither ready nor exited")


def start_collector(
    db: Path, log: Path, *flags: str, env: dict[str, str] | None = None, timeout_s: float = 30, subcommand: str = ""
) -> CollectorProcess:
    """A collector process on a port of the system's choosing, waited on until it is ready."""
    running = launch_collector(db, log, *flags, env=env, subcommand=subcommand)
    try:
        ready = wait_ready(running, timeout_s)
    except TimeoutError:
        running.proc.kill()
        raise
    if not ready:
        raise RuntimeError(f"collector exited with {running.proc.returncode}: {log.read_text()}")
    return running


@contextmanager
def collector(tmp: Path, *extra: str) -> Iterator[CollectorProcess]:
    running = start_collector(tmp / "db" / "optin.duckdb", tmp / "collector.log", *extra)
    try:
        yield running
    finally:
        running.stop()


def request(
    url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, timeout_s: float = 30
) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def post_answer(
    url: str, doc: Any, path: str = "/v1/reports", gzipped: bool = False
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST ``doc`` as JSON: the status, the headers (lower-case names) and the decoded answer."""
    body = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    status, answer_headers, data = request(url, "POST", path, body, headers)
    return status, answer_headers, (json.loads(data) if data else {})


def post_json(url: str, doc: Any, path: str = "/v1/reports", gzipped: bool = False) -> tuple[int, dict[str, Any]]:
    status, _, answer = post_answer(url, doc, path, gzipped)
    return status, answer


def make_report(registry: Registry, metrics: dict[str, Any] | None = None, /, **overrides: Any) -> dict[str, Any]:
    """A valid wire report (as a dict) for ``registry``, ending an hour ago."""
    end = int(time.time()) - 3600
    report = Report(
        report_id=str(uuid.uuid4()),
        installation_id=str(uuid.uuid4()),
        app=registry.app,
        app_version="2025.3.0",
        registry_version=registry.version,
        registry_hash=registry.hash,
        period_start=end - 86400,
        period_end=end,
        sent_at=end + 60,
        metrics=metrics
        if metrics is not None
        else {"toolpath.pocket": 3, "file.import": {"step": 2}, "system.os_family": "windows"},
        client={"dropped": 0, "evicted": 0, "rejected": 0},
    )
    wire = report.to_wire()
    wire.update(overrides)
    return wire


def random_metrics(registry: Registry, rng: random.Random) -> dict[str, Any]:
    """Valid values of about four in five declared metrics, every kind, zeros and largest counts included."""
    out: dict[str, Any] = {}
    for m in registry.metrics.values():
        if rng.random() < 0.2:
            continue
        kind = m.kind.value
        if kind == "enum":
            out[m.name] = rng.choice(m.values)
        elif kind == "quantity":
            bound = rng.choice(m.buckets)
            out[m.name] = rng.choice([int(bound), float(bound)])
        elif kind == "boolean":
            out[m.name] = rng.random() < 0.5
        elif kind == "duration":
            out[m.name] = [rng.choice([0, 0, 1, 3, 2**31 - 1]) for _ in range(len(m.buckets) + 1)]
        elif m.labels:
            out[m.name] = {label: rng.choice([0, 1, 7, m.max]) for label in rng.sample(m.labels, min(3, len(m.labels)))}
        else:
            out[m.name] = rng.choice([0, 1, 12, m.max])
    return out


def past_report(registry: Registry, metrics: dict[str, Any] | None, day: Any, /, **overrides: Any) -> dict[str, Any]:
    """A report for the evening of a past ``day`` (a date), sent now: as a queue sends it after a while.

    The collector files it under that day (the period's end, corrected by the skew sent_at shows),
    so closed periods can be filled and released in a test.
    """
    end = int(time.mktime(day.timetuple())) - time.timezone + 18 * 3600  # 18:00 UTC that day
    return make_report(
        registry, metrics, period={"start": end - 3600, "end": end}, sent_at=int(time.time()), **overrides
    )


def monday_weeks_ago(weeks: int) -> Any:
    """The Monday (UTC) of the ISO week ``weeks`` weeks before this one."""
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=today.weekday() + 7 * weeks)


def serve_connections(listener: socket.socket, take: Callable[[socket.socket], None]) -> None:
    """Hand every connection accepted on ``listener`` to ``take`` until the listener is closed (a thread's target)."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        take(conn)


def self_signed_cert(folder: Path, common_name: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throw-away certificate and key for 127.0.0.1 made by openssl; the test is skipped without it."""
    import pytest

    cert, key = folder / "cert.pem", folder / "key.pem"
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert)]
        + ["-days", "2", "-subj", f"/CN={common_name}", "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True,
    )
    if made.returncode != 0:
        pytest.skip(f"openssl could not make a test certificate: {made.stderr.decode(errors='replace')[-200:]}")
    return cert, key


def db_rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows ``sql`` selects from the DuckDB file ``db``, opened read-only and closed again."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()
