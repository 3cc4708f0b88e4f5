"""The scenarios of the reliability suite; each returns one `Row` of the table.

``long=False`` is the fast form run by the default test suite; ``long=True`` is the on-demand
form (more installations, longer outages, more kills, longer soak). Both check the same
invariants (SPEC §7): every acknowledged report is stored exactly once, nothing is stored that
was not sent, the database opens, and nothing about the sender reaches a file or a log line.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from optin.contract import Registry, bundled_registry
from tests.helpers import request

from .harness import (
    DAY,
    MIB,
    NEEDLES,
    Collector,
    Fleet,
    Ledger,
    Load,
    Proxy,
    Row,
    Sampler,
    collector_files,
    days_ago,
    durable,
    evicted_reported,
    exactly_once,
    poll,
    privacy_hits,
    stored,
)

HOUR = 3600
# Stated bounds (docs/reliability.md). Memory: what the collector may add over its own RSS at
# start-up, under overload (bounded queues) and during the soak. File descriptors: over the
# start-up count, at most the load's connections plus a margin. WAL: twice DuckDB's default
# checkpoint threshold (16 MiB).
OVERLOAD_RSS_GROWTH = 128 * MIB
SOAK_RSS_DRIFT = 48 * MIB
FD_MARGIN = 32
WAL_BOUND = 32 * MIB


def _registry() -> Registry:
    return bundled_registry("millwright")


def _privacy(row: Row, collector: Collector, extra: tuple[str, ...] = ()) -> None:
    hits = privacy_hits(collector_files(collector), NEEDLES + extra)
    row.check("no address, agent or path on disk or in logs", not hits, "; ".join(hits[:5]))


def _drain(fleet: Fleet, step_s: float, rounds: int = 12) -> None:
    """Move every installation's clock past its backoff and flush until its queue is empty."""
    for _ in range(rounds):
        fleet.all(op="advance", s=step_s)
        answers = fleet.all(op="flush", timeout=10)
        if not any(a["queued"] for a in answers):
            return


def _evicted(client: Any) -> set[str]:
    """Reports an installation evicted, over every process it ran (a restart starts a new list)."""
    return {rid for answer in client.history for rid in answer.get("evicted", [])}


def _fleet_counts(row: Row, fleet: Fleet) -> tuple[set[str], set[str], set[str]]:
    """Built, acknowledged and evicted report ids of a fleet; dropped ones counted by answer."""
    built, acked = fleet.built(), fleet.acked()
    evicted = {rid for client in fleet.clients for rid in _evicted(client)}
    for rid, results in fleet.results().items():
        if rid not in acked:
            for result in results:
                if result.startswith("answered 4") and result not in ("answered 408", "answered 429"):
                    row.dropped[result.removeprefix("answered ")] += 1
    return built, acked, evicted - acked


# --- 1. long outage ----------------------------------------------------------------------------------


def long_outage(tmp: Path, long: bool = False) -> Row:
    n, period_h, days, bound = (12, 1, 7, 48) if long else (4, 6, 7, 8)
    periods = days * 24 // period_h
    row = Row(
        "1. long outage",
        f"{n} client processes, one report per {period_h} h, queue bound {bound}",
        f"collector down {days} simulated days (connection refused); every client restarted mid-outage (half kill -9, half clean exit)",
    )
    collector = Collector(tmp / "collector").start()
    fleet = Fleet(tmp / "fleet", n, collector.url, days_ago(days + 14), period_h * HOUR, bound)
    rng = random.Random(1)
    try:
        fleet.all(op="record", n=3)
        fleet.all(op="advance", s=period_h * HOUR)
        fleet.all(op="flush", timeout=10)  # delivered while up: these installations have sent before
        assert collector.stop() == 0
        over_bound = 0
        for step in range(periods):
            if step == periods // 2:  # the users quit and restart the app mid-outage; half the processes die hard
                for i, client in enumerate(fleet.clients):
                    if i % 2:
                        client.kill()
                    else:
                        client.send({"op": "close", "timeout": 5})
                        client.read()
                        assert client.proc is not None
                        client.proc.wait(30)
                    client.spawn()
                    client.read()
            fleet.all(op="record", n=rng.randint(1, 5))
            fleet.all(op="advance", s=period_h * HOUR - 60)
            answers = fleet.all(op="flush", timeout=10)
            over_bound += sum(len(a["queued"]) > bound for a in answers)
        row.check(
            "queues within their bound",
            over_bound == 0 and all(a["max_queue_seen"] <= bound for c in fleet.clients for a in c.history),
            f"{over_bound} over {bound}",
        )
        collector.start()
        _drain(fleet, 7 * HOUR)  # past the longest backoff (6 h)
        # One period more: its report carries the evictions made by queueing the last ones (a period's report is
        # built at the first pass after the period ends, as at the app's next start, not at every close).
        _drain(fleet, period_h * HOUR)
        fleet.close(timeout=10)
    finally:
        fleet.kill()
        collector.stop()
    built, acked, evicted = _fleet_counts(row, fleet)
    in_db = stored(collector.db)
    left = fleet.queued()
    row.sent, row.acked, row.stored, row.evicted = len(built), len(acked), len(in_db), len(evicted)
    row.check(
        "evictions happened (the outage outlasted the queue)",
        len(evicted) > 0,
        "no eviction: the scenario did not test the bound",
    )
    exactly_once(row, acked, built, in_db)
    survivors = built - evicted
    row.check(
        "every surviving report delivered",
        survivors <= set(in_db) and not left,
        f"{len(survivors - set(in_db))} survivors not stored, {len(left)} still queued",
    )
    total = len(in_db) + len(evicted) + sum(row.dropped.values()) + len(left)
    row.check(
        "sent = stored + evicted + dropped",
        len(built) == total,
        f"sent {len(built)} != stored {len(in_db)} + evicted {len(evicted)} + dropped {sum(row.dropped.values())} + queued {len(left)}",
    )
    reported = evicted_reported(collector.db)
    local = {c.last["installation_id"]: len(_evicted(c) - acked) for c in fleet.clients}
    wrong = {i: (reported.get(i, 0), k) for i, k in local.items() if reported.get(i, 0) != k}
    row.check(
        "evictions reported to the collector",
        not wrong,
        f"{len(wrong)}/{len(local)} installations: stored `client.evicted` sums vs evictions on the client (reported, actual): {sorted(wrong.values())[:4]}",
    )
    _privacy(row, collector, (str(tmp / "fleet"),))
    return row


# --- 2. overload --------------------------------------------------------------------------------------


def _hold_slots(
    collector: Collector, ledger: Ledger, registry: Registry, n: int
) -> list[tuple[socket.socket, str, bytes]]:
    """Open ``n`` uploads that stop after a few bytes of their body: every in-flight slot is taken."""
    held = []
    for _ in range(n):
        rid = ledger.new(registry)
        body = ledger.bodies[rid]
        sock = socket.create_connection(("127.0.0.1", collector.port), timeout=30)
        head = f"POST /v1/reports HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body[:8])
        held.append((sock, rid, body))
    return held


def _release_slots(held: list[tuple[socket.socket, str, bytes]], ledger: Ledger) -> None:
    """Send the rest of each held body and read its answer (202: acknowledged)."""
    for sock, _rid, body in held:
        sock.sendall(body[8:])
    for sock, rid, _body in held:
        with sock, sock.makefile("rb") as answer:
            status = int(answer.readline().split()[1])
        with ledger.lock:
            ledger.statuses[status] += 1
            if status in (200, 202):
                ledger.acked.add(rid)


def overload(tmp: Path, long: bool = False) -> Row:
    count, conns = (20000, 256) if long else (3000, 128)
    flags = (
        "--workers",  # the in-flight bound is per worker: one worker, so the held uploads fill every slot
        "1",
        "--max-pending-reports",
        "16",
        "--max-requests-in-flight",
        "32",
        "--batch-max-reports",
        "16",
        "--retry-after-s",
        "1",
    )
    row = Row(
        "2. overload",
        f"burst of {count} reports (and 2% bad ones) on {conns} connections + 3 client processes with a backlog",
        "every in-flight slot held by unfinished uploads, then in-flight limit 32, write queue 16",
    )
    collector = Collector(tmp / "collector", *flags)
    fleet = Fleet(tmp / "fleet", 3, collector.url, days_ago(10), 2 * HOUR, 50)  # collector not up yet: they queue
    ledger = Ledger()
    registry = _registry()
    ids = [ledger.new(registry) for _ in range(count)]
    bad = {  # what a client with an outdated or broken registry might send: refused for good, counted by reason
        "undeclared_metric": [ledger.new(registry, {"toolpath.unknown_tool": 1}) for _ in range(count // 100)],
        "wrong_type": [ledger.new(registry, {"toolpath.pocket": True}) for _ in range(count // 100)],
    }
    ids += [rid for group in bad.values() for rid in group]
    random.Random(2).shuffle(ids)
    try:
        for _ in range(30):  # a backlog of 30 reports each, so they are sending all through the burst
            fleet.all(op="record", n=2)
            fleet.all(op="advance", s=2 * HOUR)
            fleet.all(op="flush", timeout=10)
        collector.start()
        # Every in-flight slot held by an unfinished upload: each client's next attempt is shed for sure.
        held = _hold_slots(collector, ledger, registry, 32)
        poll(lambda: collector.metrics().get("optin_requests_in_flight") == 32, 10)
        before = fleet.all(op="advance", s=7 * HOUR)  # past the backoff from the refused connections
        shed_first = fleet.all(op="flush", timeout=10)
        again = fleet.all(op="flush", timeout=10)  # no clock movement: Retry-After has not passed
        _release_slots(held, ledger)
        ids += [
            rid for _, rid, _ in held if rid not in ledger.acked
        ]  # released all at once, some were shed: retried in the burst
        attempts = [sum(map(len, a["results"].values())) for a in (*before, *shed_first, *again)]
        k = len(fleet.clients)
        was_shed = [
            any(
                rs[-1] in ("answered 429", "answered 503")
                for rid, rs in a["results"].items()
                if len(rs) > len(b["results"].get(rid, []))
            )
            for b, a in zip(before, shed_first, strict=False)
        ]
        quiet = [attempts[k + i] == attempts[2 * k + i] for i in range(k)]
        sampler = Sampler(collector.pids(), collector.db.with_name("optin.duckdb.wal"), 0.05).start()
        poll(lambda: len(sampler.samples) > 0, 5)
        base_rss = sampler.samples[0][1]
        load = Load(collector.url, ledger, ids, concurrency=conns, retry=True, deadline_s=600 if long else 120).start()
        poll(lambda: ledger.statuses[429] + ledger.statuses[503] > 0 or load.done, 30, 0.001)  # the burst is shedding
        fleet.all(op="advance", s=7 * HOUR)  # the clients' backoff from the refused connections has passed
        backed_off = []  # per client flush that was shed: did an immediate second flush stay quiet?
        while not load.done:
            before = fleet.all(op="advance", s=60)  # a minute of the clients' time per pass
            after = fleet.all(op="flush", timeout=10)
            for client, b, a in zip(fleet.clients, before, after, strict=True):
                shed_now = [
                    rid
                    for rid, rs in a["results"].items()
                    if len(rs) > len(b["results"].get(rid, [])) and rs[-1] in ("answered 429", "answered 503")
                ]
                if shed_now:
                    client.send({"op": "flush", "timeout": 10})
                    c = client.read()
                    backed_off.append(sum(map(len, c["results"].values())) == sum(map(len, a["results"].values())))
            if not any(a["queued"] for a in after):
                break
        load.join(700)
        sampler.stop()
        _drain(fleet, 7 * HOUR)
        fleet.close(timeout=10)
        metrics = collector.metrics()
        peak = sampler.peak(1)
        row.load += f"; RSS {base_rss // MIB} MiB at start, peak {peak // MIB} MiB"
    finally:
        fleet.kill()
        collector.stop()
    shed = ledger.statuses[429] + ledger.statuses[503]
    row.notes.append(
        f"answers: {dict(sorted(ledger.statuses.items()))}, no answer {ledger.no_answer}; client flushes shed: {len(backed_off)}"
    )
    row.faults += f"; shed {shed} times (429 {ledger.statuses[429]}, 503 {ledger.statuses[503]})"
    built, acked_clients, evicted = _fleet_counts(row, fleet)
    in_db = stored(collector.db)
    sent, acked = ledger.sent | built, ledger.acked | acked_clients
    row.sent, row.acked, row.stored, row.evicted = len(sent), len(acked), len(in_db), len(evicted)
    row.check("sheds with 429/503", shed > 0, "the burst never exceeded what the collector takes")
    row.check(
        "every shed answer has Retry-After",
        ledger.shed_without_retry_after == 0,
        f"{ledger.shed_without_retry_after} without",
    )
    row.check(
        f"memory growth under {OVERLOAD_RSS_GROWTH // MIB} MiB",
        peak - base_rss < OVERLOAD_RSS_GROWTH,
        f"grew {(peak - base_rss) // MIB} MiB",
    )
    exactly_once(row, acked, sent, in_db)
    row.check(
        "clients shed while every slot is held",
        all(was_shed),
        f"{was_shed.count(False)} of {len(was_shed)} clients were not answered 429/503",
    )
    row.check(
        "clients back off (no attempt before Retry-After)",
        all(quiet) and all(backed_off),
        f"{quiet.count(False)} clients retried at once after the held-slot 429, {backed_off.count(False)} after a shed answer in the burst",
    )
    row.dropped.update(ledger.refused)
    counted = {reason: int(metrics.get(f'optin_requests_rejected_total{{reason="{reason}"}}', 0)) for reason in bad}
    row.check(
        "bad reports refused for good and counted by reason, under overload",
        all(ledger.refused[f"422 {reason}"] == len(ids_) == counted[reason] for reason, ids_ in bad.items())
        and not (ledger.refused_ids & set(in_db)),
        f"refused {dict(ledger.refused)}, collector counted {counted}, sent { ({k: len(v) for k, v in bad.items()}) }",
    )
    row.check(
        "backlog drained: sent = stored + dropped",
        set(in_db) == sent - ledger.refused_ids
        and not fleet.queued()
        and len(sent) == len(in_db) + sum(row.dropped.values()),
        f"{len(sent - ledger.refused_ids - set(in_db))} of {len(sent)} never stored; {len(sent)} sent, {len(in_db)} stored, {sum(row.dropped.values())} dropped",
    )
    _privacy(row, collector, (str(tmp / "fleet"),))
    return row


# --- 3. crash and restart ------------------------------------------------------------------------------


def crash_restart(tmp: Path, long: bool = False) -> Row:
    rounds, count = (12, 6000) if long else (5, 1200)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    flags = ("--batch-max-reports", "8", "--batch-max-wait-ms", "3")
    row = Row(
        "3. crash and restart",
        f"{count} reports on 16 connections + 3 client processes",
        f"{rounds} × kill -9 collector and kill -9 one client, at random moments (seed {seed})",
    )
    collector = Collector(tmp / "collector", *flags).start()
    fleet = Fleet(tmp / "fleet", 3, collector.url, days_ago(10), 2 * HOUR, 50)
    ledger = Ledger()
    registry = _registry()
    ids = [ledger.new(registry) for _ in range(count)]
    load = Load(
        collector.url, ledger, ids, concurrency=16, retry=True, retry_scale=0.1, deadline_s=300 if long else 90
    ).start()
    violations: list[str] = []
    try:
        for round_ in range(rounds):
            target = len(ledger.acked) + rng.randint(1, 80)
            poll(lambda target=target: len(ledger.acked) >= target or load.done, 30, 0.001)
            victim = rng.choice(fleet.clients)
            for client in fleet.clients:  # the fleet is mid-pass when the kills land
                client.send({"op": "advance", "s": 2 * HOUR})
                client.read()
                client.send({"op": "flush", "timeout": 10})
            time.sleep(rng.uniform(0, 0.02))  # the random moment
            collector.kill()
            victim.kill()
            for client in fleet.clients:
                if client is not victim:
                    client.read()
            victim.spawn()
            victim.read()
            with ledger.lock:
                acked = set(ledger.acked)
            in_db = durable(collector.db)  # the database opens after every kill; with the journals' rest
            probe = Row("probe")
            exactly_once(probe, acked | fleet.acked(), ledger.sent | fleet.built(), in_db)
            violations += [f"round {round_}: {c.name}: {c.detail}" for c in probe.failed]
            collector.start()
        load.join(400)
        _drain(fleet, 7 * HOUR)
        fleet.close(timeout=10)
    finally:
        load.stop_event.set()
        fleet.kill()
        code = collector.stop()
    row.check("invariants after every kill", not violations, "; ".join(violations[:3]))
    row.check("clean shutdown at the end", code == 0, f"exit {code}")
    built, acked_clients, evicted = _fleet_counts(row, fleet)
    in_db = stored(collector.db)
    sent, acked = ledger.sent | built, ledger.acked | acked_clients
    row.sent, row.acked, row.stored, row.evicted = len(sent), len(acked), len(in_db), len(evicted)
    exactly_once(row, acked, sent, in_db)
    row.check(
        "every report delivered after the retries",
        set(in_db) == sent - evicted,
        f"{len(sent - evicted - set(in_db))} never stored",
    )
    _privacy(row, collector, (str(tmp / "fleet"),))
    return row


# --- 4. storage faults ----------------------------------------------------------------------------------


def _send_until(
    collector: Collector, ledger: Ledger, registry: Registry, want: set[int], tries: int
) -> list[tuple[str, int, str]]:
    """Send reports one at a time until one is answered with a status in ``want``: (id, status, Retry-After)."""
    answers = []
    for _ in range(tries):
        rid = ledger.new(registry)
        status, headers, _ = request(
            collector.url, "POST", "/v1/reports", ledger.bodies[rid], {"Content-Type": "application/json"}
        )
        answers.append((rid, status, headers.get("retry-after", "")))
        ledger.statuses[status] += 1
        if status in (200, 202):
            ledger.acked.add(rid)
        if status in want:
            break
    return answers


def _settle(row: Row, collector: Collector, ledger: Ledger) -> None:
    """The end of a scenario whose clients retry until stored: counts, invariants, privacy."""
    in_db = stored(collector.db)
    row.sent, row.acked, row.stored = len(ledger.sent), len(ledger.acked), len(in_db)
    exactly_once(row, ledger.acked, ledger.sent, in_db)
    row.check(
        "every refused report stored after its retry",
        set(in_db) == ledger.sent,
        f"{len(ledger.sent - set(in_db))} missing",
    )
    _privacy(row, collector)


def _disk_full_cycle(row: Row, collector: Collector, ledger: Ledger, registry: Registry, cycle: str) -> int:
    """Fill the "disk" (a file-size limit on the running collector), check it refuses and recovers."""
    wal = collector.db.with_name("optin.duckdb.wal")
    limit = max(wal.stat().st_size if wal.exists() else 0, 1) + 16 * 1024
    collector.limit_file_size(limit)  # the disk is now "full" (soft limit only)
    answers = _send_until(collector, ledger, registry, {503}, 400)
    refused = [a for a in answers if a[1] == 503]
    row.check(
        "refuses with 503 when it cannot store" + cycle,
        bool(refused),
        f"no 503 in {len(answers)} sends; answers {Counter(a[1] for a in answers)}",
    )
    row.check("503 carries Retry-After" + cycle, all(a[2] for a in refused), "missing")
    health, _ = collector.get("/healthz")
    metrics = collector.metrics()
    row.check(
        "health degraded while failing" + cycle,
        health == 503 and metrics.get("optin_store_healthy") == 0,
        f"/healthz {health}, healthy {metrics.get('optin_store_healthy')}",
    )
    row.check(
        "write errors counted" + cycle,
        metrics.get("optin_store_write_errors_total", 0) > 0,
        str(metrics.get("optin_store_write_errors_total")),
    )
    more = _send_until(collector, ledger, registry, set(), 10)
    row.check(
        "keeps refusing, never acknowledges, while full" + cycle,
        all(a[1] == 503 for a in more),
        f"answers while full: {Counter(a[1] for a in more)}",
    )
    collector.limit_file_size(None)  # space freed
    recovered = poll(lambda: _send_until(collector, ledger, registry, set(), 1)[0][1] == 202, 20, 0.2)
    # Health is every process's (each journal, the loader), gathered by heartbeats: allow it a moment.
    poll(lambda: collector.get("/healthz")[0] == 200, 5, 0.1)
    health, _ = collector.get("/healthz")
    row.check(
        "recovers by itself once space is back" + cycle,
        recovered and health == 200,
        f"202 again: {recovered}, /healthz {health}",
    )
    return len(refused) + len(more)


def disk_full(tmp: Path, long: bool = False) -> Row:
    row = Row(
        "4a. disk full",
        "single reports, one at a time, then 16 connections",
        f"file-size limit (RLIMIT_FSIZE) just above the WAL, then lifted, {3 if long else 1}×",
    )
    # The collector as a whole refuses once the loader's round finds the disk full; until then a
    # worker whose preallocated segment still has room acknowledges (durably). A short load
    # interval makes that round come at once, so the scenario checks the collector-wide refusal.
    collector = Collector(tmp / "collector", "--batch-max-reports", "16", "--load-interval-ms", "100").start()
    ledger, registry = Ledger(), _registry()
    try:
        _send_until(collector, ledger, registry, set(), 20)
        refusals = 0
        for cycle in range(3 if long else 1):
            refusals += _disk_full_cycle(row, collector, ledger, registry, f" (cycle {cycle + 1})" if cycle else "")
        retry = Load(
            collector.url,
            ledger,
            sorted(ledger.sent - ledger.acked),
            concurrency=16,
            retry=True,
            retry_scale=0.1,
            deadline_s=60,
        ).start()
        retry.join(90)  # clients retry what was refused
        row.faults += f"; {refusals} answered 503; full again during the shutdown checkpoint"
        # The database file may not grow: the final checkpoint fails, the WAL must keep what was committed.
        collector.limit_file_size(collector.db.stat().st_size)
    finally:
        code = collector.stop()
    row.check("clean shutdown with the disk full", code == 0, f"exit {code}")
    wal = collector.db.with_name("optin.duckdb.wal")
    row.check(
        "the final checkpoint failed, the WAL kept the data (fault injected)",
        wal.exists() and wal.stat().st_size > 0,
        "no WAL left: the checkpoint did not fail",
    )
    collector.start()
    health, _ = collector.get("/healthz")
    code = collector.stop()
    row.check(
        "restarts healthy after a failed final checkpoint",
        health == 200 and code == 0,
        f"/healthz {health}, exit {code}",
    )
    _settle(row, collector, ledger)
    return row


_HOLDER = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read(); con.close()"
)


def db_locked(tmp: Path, long: bool = False) -> Row:
    row = Row(
        "4b. DuckDB locked at start-up",
        "single reports, one at a time",
        "another process holds the database read-write while the collector starts, then lets go",
    )
    collector = Collector(tmp / "collector")
    ledger, registry = Ledger(), _registry()
    collector.start()
    _send_until(collector, ledger, registry, set(), 10)
    collector.stop()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(collector.db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        collector.launch()
        up = collector.wait_ready()
        detail = ""
        if not up:
            lines = collector.logs[-1].read_text().strip().splitlines()
            detail = f"exited with {collector.running.proc.returncode if collector.running else '?'}: {lines[-1][:200] if lines else ''}"
        row.check("starts (serves) while the database is locked", up, detail)
        if up:
            health, _ = collector.get("/healthz")
            row.check("health degraded while locked", health == 503, f"/healthz {health}")
            answers = _send_until(collector, ledger, registry, set(), 3)
            row.check(
                "ingest answers 503 with Retry-After while locked",
                all(a[1] == 503 and a[2] for a in answers),
                f"answers {[(a[1], a[2]) for a in answers]}",
            )
        assert holder.stdin is not None
        holder.stdin.close()  # the other process lets go
        holder.wait(30)
        if up:
            recovered = poll(lambda: collector.get("/healthz")[0] == 200, 30, 0.2)
            row.check(
                "opens the database by itself once the lock is gone",
                recovered,
                "still degraded 30 s after the lock was released",
            )
            _send_until(collector, ledger, registry, set(), 10)
        else:
            row.check(
                "opens the database by itself once the lock is gone",
                False,
                "the process had exited; an operator must restart it",
            )
            collector.start()
            _send_until(collector, ledger, registry, set(), 10)
        refused = sorted(ledger.sent - ledger.acked)
        Load(collector.url, ledger, refused, concurrency=4, retry=True, retry_scale=0.1, deadline_s=60).start().join(
            90
        )  # clients retry
        row.faults += f"; {len(refused)} answered 503 and retried"
    finally:
        if holder.poll() is None:
            holder.kill()
        code = collector.stop()
    row.check("clean shutdown", code == 0, f"exit {code}")
    _settle(row, collector, ledger)
    return row


# --- 5. network faults ------------------------------------------------------------------------------------


def network_faults(tmp: Path, long: bool = False) -> Row:
    n, repeats = (8, 3) if long else (3, 1)
    modes = ["refuse", "reset", "hang", "drop_response", "drop_response"] * repeats
    row = Row(
        "5. network faults",
        f"{n} client processes through a proxy, one report per 6 h",
        "connection refused, reset mid-upload, accept-and-hang, response dropped after commit",
    )
    collector = Collector(tmp / "collector").start()
    proxy = Proxy(collector.port)
    fleet = Fleet(tmp / "fleet", n, proxy.url, days_ago(10), 6 * HOUR, 50, timeout_s=1.0)
    unbounded = 0
    failed_by_mode: Counter[str] = Counter()
    lost_answer: set[str] = set()  # reports whose upload met a dropped response
    try:
        fleet.all(op="record", n=2)
        fleet.all(op="advance", s=6 * HOUR)
        fleet.all(op="flush", timeout=10)  # one delivered normally first
        for mode in modes:
            proxy.set_mode(mode)
            fleet.all(op="record", n=2)
            before = fleet.all(op="advance", s=7 * HOUR)
            answers = fleet.all(op="flush", timeout=5)
            unbounded += sum(not a["ok"] for a in answers)
            for b, a in zip(before, answers, strict=False):
                for rid, rs in a["results"].items():
                    new = rs[len(b["results"].get(rid, [])) :]
                    failed_by_mode[mode] += new.count("no answer")
                    if mode == "drop_response" and "no answer" in new:
                        lost_answer.add(rid)
        proxy.set_mode("forward")
        _drain(fleet, 7 * HOUR)
        fleet.close(timeout=10)
        duplicates = collector.metrics().get("optin_reports_duplicate_total", 0)
    finally:
        fleet.kill()
        proxy.close()
        collector.stop()
    row.faults += f" (uploads without an answer: {dict(failed_by_mode)})"
    row.check(
        "every fault was injected and seen by the clients",
        all(failed_by_mode[m] > 0 for m in set(modes)),
        str(dict(failed_by_mode)),
    )
    row.check(
        "flush returns within its budget while the network hangs", unbounded == 0, f"{unbounded} flushes over budget"
    )
    built, acked, evicted = _fleet_counts(row, fleet)
    results = fleet.results()
    not_dup = [rid for rid in lost_answer if "duplicate (already stored)" not in results.get(rid, set())]
    in_db = stored(collector.db)
    row.sent, row.acked, row.stored, row.evicted = len(built), len(acked), len(in_db), len(evicted)
    row.check(
        "lost responses retried and answered as duplicates",
        bool(lost_answer) and not not_dup and duplicates >= len(lost_answer),
        f"{len(not_dup)} of {len(lost_answer)} reports whose answer was lost were not answered 200 on retry (collector counted {duplicates} duplicates)",
    )
    exactly_once(row, acked, built, in_db)
    row.check(
        "every report delivered",
        set(in_db) == built - evicted and not fleet.queued(),
        f"{len(built - evicted - set(in_db))} not stored",
    )
    _privacy(row, collector, (str(tmp / "fleet"),))
    return row


# --- 6. soak ---------------------------------------------------------------------------------------------


def soak(tmp: Path, long: bool = False) -> Row:
    rate, seconds = (200, 300) if long else (150, 10)
    conns = 16
    row = Row("6. soak", f"{rate} reports/s for {seconds} s on {conns} connections", "none (steady load)")
    collector = Collector(tmp / "collector").start()
    ledger, registry = Ledger(), _registry()
    ids = [ledger.new(registry) for _ in range(rate * seconds)]
    sampler = Sampler(collector.pids(), collector.db.with_name("optin.duckdb.wal"), 0.25).start()
    poll(lambda: len(sampler.samples) > 0, 5)
    base_fds = sampler.samples[0][2]
    try:
        Load(
            collector.url, ledger, ids, concurrency=conns, retry=True, rate=rate, deadline_s=seconds * 3 + 30
        ).start().join(seconds * 3 + 60)
        sampler.stop()
    finally:
        code = collector.stop()
    end = sampler.samples[-1][0]
    third = end / 3
    mid, last = sampler.peak(1, third, 2 * third), sampler.peak(1, 2 * third)
    fds, wal = sampler.peak(2), sampler.peak(3)
    row.load += f"; RSS peak {mid // MIB} MiB (middle third) → {last // MIB} MiB (last third), fds {base_fds} → {fds}, WAL ≤ {wal / MIB:.1f} MiB"
    row.check(
        f"no memory growth (last third ≤ middle third + {SOAK_RSS_DRIFT // MIB} MiB)",
        last <= mid + SOAK_RSS_DRIFT,
        f"{mid // MIB} → {last // MIB} MiB",
    )
    row.check(
        f"file descriptors ≤ start + connections + {FD_MARGIN}",
        fds <= base_fds + conns + FD_MARGIN,
        f"{base_fds} → {fds}",
    )
    row.check(f"WAL ≤ {WAL_BOUND // MIB} MiB", wal <= WAL_BOUND, f"{wal / MIB:.1f} MiB")
    row.check("clean shutdown", code == 0, f"exit {code}")
    in_db = stored(collector.db)
    row.sent, row.acked, row.stored = len(ledger.sent), len(ledger.acked), len(in_db)
    row.notes.append(f"answers: {dict(ledger.statuses)}")
    exactly_once(row, ledger.acked, ledger.sent, in_db)
    row.check(
        "every report acknowledged", ledger.acked == ledger.sent, f"{len(ledger.sent - ledger.acked)} not acknowledged"
    )
    _privacy(row, collector)
    return row


# --- 7. analysis under ingest ------------------------------------------------------------------------------


def analysis_under_ingest(tmp: Path, long: bool = False) -> Row:
    preload, rate, seconds, readers = (20000, 100, 60, 6) if long else (2000, 100, 6, 3)
    timeout_s = 2.0
    token = "reliability-token-0123456789"
    (tmp / "token").parent.mkdir(parents=True, exist_ok=True)
    (tmp / "token").write_text(token)
    row = Row(
        "7. analysis under ingest",
        f"{preload} stored, then {rate} reports/s for {seconds} s + {readers} readers of every aggregate",
        f"aggregate timeout {timeout_s} s",
    )
    collector = Collector(
        tmp / "collector", "--token-file", str(tmp / "token"), "--aggregate-timeout-s", str(timeout_s)
    ).start()
    ledger, registry = Ledger(), _registry()
    first = [ledger.new(registry) for _ in range(preload)]
    Load(collector.url, ledger, first, concurrency=64, retry=True, deadline_s=300).start().join(400)
    questions = orjson.loads(
        request(collector.url, "GET", "/v1/aggregates", headers={"Authorization": f"Bearer {token}"})[2]
    )["questions"]
    answers: Counter[str] = Counter()
    problems: list[str] = []
    stop = threading.Event()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    widest = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3660 * DAY))

    def reader(i: int) -> None:
        rng = random.Random(i)
        while not stop.is_set():
            q = rng.choice([*questions, "dashboard"])
            path = "/dashboard" if q == "dashboard" else f"/v1/aggregates/{q}"
            query = urllib.parse.urlencode({"from": widest, "to": today})
            try:
                status, _, body = request(
                    collector.url,
                    "GET",
                    f"{path}?{query}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout_s=timeout_s + 30,
                )
            except OSError as error:
                problems.append(f"{q}: no answer within the timeout + 30 s ({type(error).__name__})")
                continue
            if status == 200 and q != "dashboard":
                doc = orjson.loads(body)
                cap = 3661 * 64  # every day of the widest window × the largest declared value set
                if len(doc["rows"]) > cap:
                    problems.append(f"{q}: {len(doc['rows'])} rows")
            elif status == 503:
                if b"query_timeout" not in body:
                    problems.append(f"{q}: 503 without query_timeout")
            elif status != 200:
                problems.append(f"{q}: answered {status}")
            answers[f"{status}"] += 1

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(readers)]
    try:
        for t in threads:
            t.start()
        more = [ledger.new(registry) for _ in range(rate * seconds)]
        during = Ledger(bodies={rid: ledger.bodies[rid] for rid in more})
        Load(
            collector.url, during, more, concurrency=16, retry=True, rate=rate, deadline_s=seconds * 4 + 30
        ).start().join(seconds * 4 + 60)
        stop.set()
        for t in threads:
            t.join(timeout_s + 40)
        ledger.acked |= during.acked
        too_wide = request(
            collector.url,
            "GET",
            "/v1/aggregates/active-daily?from=2000-01-01&to=2026-01-01",
            headers={"Authorization": f"Bearer {token}"},
        )[0]
        code = collector.stop()
        # The same data behind a deadline no aggregate can meet: every answer must be the timeout's 503.
        strict = Collector(
            tmp / "collector", "--token-file", str(tmp / "token"), "--aggregate-timeout-s", "0.001", port=collector.port
        ).start()
        timed: Counter[str] = Counter()
        for q in ["dashboard", *questions]:
            status, headers, body = request(
                strict.url,
                "GET",
                "/dashboard" if q == "dashboard" else f"/v1/aggregates/{q}",
                headers={"Authorization": f"Bearer {token}"},
                timeout_s=30,
            )
            timed[f"{status} {orjson.loads(body).get('error', '') if body.startswith(b'{') else ''}".strip()] += 1
            timed["with Retry-After"] += bool(headers.get("retry-after"))
        after = Ledger(bodies={rid: ledger.bodies[rid] for rid in [ledger.new(registry) for _ in range(20)]})
        Load(strict.url, after, list(after.bodies), concurrency=4, retry=False, deadline_s=30).start().join(60)
        ledger.acked |= after.acked
        code = strict.stop() or code
    finally:
        stop.set()
        code = collector.stop() or code
    row.faults += f"; {sum(answers.values())} aggregate answers {dict(answers)}"
    row.check(
        "ingest kept answering",
        during.no_answer == 0 and during.acked == set(more),
        f"{during.no_answer} without answer, {len(set(more) - during.acked)} never acknowledged; answers {dict(during.statuses)}",
    )
    row.check(
        "every query answered (200, or 503 query_timeout at the deadline)",
        not problems and sum(answers.values()) > 0,
        "; ".join(problems[:3]),
    )
    row.check(
        "a query past its deadline answers 503 query_timeout",
        timed["503 query_timeout"] == len(questions) + 1,
        f"with a 1 ms deadline: {dict(timed)}",
    )
    row.check(
        "that 503 carries Retry-After",
        timed["with Retry-After"] == len(questions) + 1,
        f"with a 1 ms deadline: {dict(timed)}",
    )
    row.check(
        "ingest answers after interrupted queries", after.acked == set(after.bodies), f"answers {dict(after.statuses)}"
    )
    row.check("window beyond the row cap refused", too_wide == 400, f"a 26-year window answered {too_wide}")
    row.check("clean shutdown", code == 0, f"exit {code}")
    in_db = stored(collector.db)
    row.sent, row.acked, row.stored = len(ledger.sent), len(ledger.acked), len(in_db)
    exactly_once(row, ledger.acked, ledger.sent, in_db)
    _privacy(row, collector, (token,))
    return row


SCENARIOS: dict[str, Any] = {
    "long_outage": long_outage,
    "overload": overload,
    "crash_restart": crash_restart,
    "disk_full": disk_full,
    "db_locked": db_locked,
    "network_faults": network_faults,
    "soak": soak,
    "analysis_under_ingest": analysis_under_ingest,
}
