"""kill -9 of a worker, of the loader and of the whole collector at random moments of sustained ingest.

After every kill (and a restart, which loads what the journals hold) the database must open,
and every report that was answered 202 must be in it exactly once; nothing may be in it that
was not sent. At the end, the reports whose answer
was lost are retried (as a client would) and each is then stored exactly once.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from optin.contract import Registry
from tests.helpers import make_report, start_collector, wait_gone

KILLS = 21  # seven each of: a worker, the loader, every process
SENDERS = 6  # concurrent connections, each sending report after report
# Small load transactions and a short interval, so a kill lands between, inside and during loads.
FLAGS = ("--batch-max-reports", "16", "--load-interval-ms", "5", "--workers", "2", "--maintenance-interval-s", "3600")

METRICS = {
    "toolpath.pocket": 3,
    "toolpath.drill": 1,
    "file.import": {"step": 2, "dxf": 1},
    "post.run": {"fanuc": 4},
    "simulation.duration": [1, 2, 0, 0, 0, 0],
    "system.os_family": "windows",
    "system.ram_gib": 32,
    "ui.theme": "dark",
}


class Ledger:
    """What the clients sent and which answers they got, shared by the sender threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: dict[str, bytes] = {}
        self.acked: set[str] = set()

    def new(self, registry: Registry) -> tuple[str, bytes]:
        doc = make_report(registry, METRICS, installation_id=str(uuid.uuid4()))
        body = json.dumps(doc).encode()
        with self.lock:
            self.bodies[doc["report_id"]] = body
        return doc["report_id"], body

    def ack(self, report_id: str) -> None:
        with self.lock:
            self.acked.add(report_id)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)


def _send(port: int, body: bytes, conn: http.client.HTTPConnection | None = None) -> int:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/v1/reports", body=body, headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    answer.read()
    return answer.status


def _sender(port: int, ledger: Ledger, registry: Registry, stop: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        report_id, body = ledger.new(registry)
        try:
            status = _send(port, body, conn)
        except (OSError, http.client.HTTPException):
            conn.close()  # this report's answer is lost (a worker died, or all of the collector): go on
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            time.sleep(0.01)
            continue
        if status == 202:
            ledger.ack(report_id)
        elif status not in (429, 503):
            raise AssertionError(f"unexpected answer {status}")


def _stored(db: Path) -> list[str]:
    """Open the database as the next collector would (replaying its WAL) and list the stored report ids."""
    con = duckdb.connect(str(db))
    try:
        return [row[0] for row in con.execute("SELECT CAST(report_id AS VARCHAR) FROM reports").fetchall()]
    finally:
        con.close()


def _check(db: Path, ledger: Ledger, context: str) -> list[str]:
    stored = _stored(db)
    assert len(stored) == len(set(stored)), f"a report stored twice ({context})"
    with ledger.lock:
        missing = ledger.acked - set(stored)
        unknown = set(stored) - set(ledger.bodies)
    assert not missing, f"{len(missing)} acknowledged reports lost ({context})"
    assert not unknown, f"stored reports nobody sent ({context})"
    return stored


def test_kill_9_at_random_moments_loses_no_acknowledged_report(tmp_path: Path, registry: Registry) -> None:
    """Two of each kill in the default run (the long form below does seven of each)."""
    _kill_rounds(tmp_path, registry, 6)


@pytest.mark.slow
def test_kill_9_twenty_one_times_loses_no_acknowledged_report(tmp_path: Path, registry: Registry) -> None:
    _kill_rounds(tmp_path, registry, KILLS)


def _kill_rounds(tmp_path: Path, registry: Registry, kills: int) -> None:
    """kill -9 of a worker, of the loader, or of every process, at random moments of sustained ingest."""
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    db = tmp_path / "db" / "optin.duckdb"
    ledger = Ledger()
    targets = ["collector", "worker", "loader"] * (kills // 3)
    rng.shuffle(targets)
    for round_, target in enumerate(targets):
        log = tmp_path / f"collector-{round_}.log"
        running = start_collector(db, log, *FLAGS)  # a log each: the ready line is per run
        stop = threading.Event()
        threads = [
            threading.Thread(target=_sender, args=(running.port, ledger, registry, stop), daemon=True)
            for _ in range(SENDERS)
        ]
        for thread in threads:
            thread.start()
        # The random moment: after a random number of further acknowledgements, plus a random
        # fraction of a group's or a load's time, so the kill falls anywhere in the cycle.
        target_acks = ledger.acked_count() + rng.randint(1, 200)
        deadline = time.monotonic() + 20
        while ledger.acked_count() < target_acks and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.05))
        context = f"seed {seed}, round {round_}, kill -9 of the {target}"
        if target == "collector":
            running.stop(signal.SIGKILL)  # the supervisor; its loader and workers die with it
        else:
            victim = rng.choice(running.children(target))
            os.kill(victim, signal.SIGKILL)
            wait_gone([victim])
            time.sleep(rng.uniform(0.5, 1.5))  # ingest goes on while the supervisor starts it again
        stop.set()
        for thread in threads:
            thread.join(15)
            assert not thread.is_alive()
        if target == "collector":
            running = start_collector(db, tmp_path / f"collector-{round_}-again.log", *FLAGS)
        if target != "collector":
            assert '"event":"restarted"' in log.read_text(), context
        assert running.stop() == 0, context  # SIGTERM: the loader loads what the journals hold, then exits
        stored = _check(db, ledger, context)
        print(f"{context}: {len(stored)} stored, {ledger.acked_count()} acknowledged, {len(ledger.bodies)} sent")

    # Clients retry what got no answer: each is stored exactly once, acknowledged ones answer 200.
    running = start_collector(db, tmp_path / "collector-final.log", *FLAGS)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        for report_id, body in ledger.bodies.items():
            status = _send(running.port, body, conn)
            assert status == (200 if report_id in ledger.acked else status), report_id
            assert status in (200, 202)
    finally:
        assert running.stop() == 0
    stored = _stored(db)
    assert sorted(stored) == sorted(ledger.bodies)
    assert len(ledger.acked) > kills
