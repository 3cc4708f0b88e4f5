"""Collector benchmarks (SPEC §6), one command: `python bench/collector.py`.

Prints, measured in this one run:
1. ingest reports/s of `python -m optin.collector` (workers + loader; every 202 on disk in a
   journal) against a bare aiohttp handler that reads, parses and answers 202 to the same
   bodies, and against the same bare handler running the collector's report check (the
   ceiling), all driven by wrk with the same connections (64 and 256), duration and bodies
   (about 48 values each, every report id distinct), plain JSON and gzip; p50 and p99 latency
   beside each and the load average before each round; after each collector run, how long the
   loader takes to load what is left, and at the end that every 202 is stored;
2. the loader's write path (journal records → keys, Arrow rows, transactions with positions)
   against a raw Arrow bulk insert of exactly the rows it wrote;
3. stored bytes per report in the checkpointed database against the report's gzip-compressed JSON;
4. the loader's rate with a deletion after every 1,000 reports against the same reports without.

Load goes to 127.0.0.1 only and every run is bounded in time. Needs `wrk` on PATH (Debian
package `wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import gzip
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb

from optin.collector._config import Config
from optin.collector._migrations import migrate
from optin.contract import Registry, Report, ReportChecker, bundled_registry

READY = re.compile(rb'"event":"ready","port":(\d+)')
RID, IID = "@RID@", "@IID@"  # placeholders wrk fills in per request

# wrk, every script: answers tallied by status over all threads, and how often a thread ran out of
# bodies (gzip pools); printed at the end. `tally` and `wraps` are globals of each thread's script,
# which the main script reads with thread:get() when the run is over (nothing is copied per answer:
# wrk shares the machine with the servers, so its own CPU per request is kept small).
WRK_TALLY = r"""
local threads = {}
tally = {}
wraps = 0
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function response(status, headers, body)
  tally[status] = (tally[status] or 0) + 1
end
function done(summary, latency, requests)
  local totals = {}
  local wrapped = 0
  for _, thread in ipairs(threads) do
    local t = thread:get("tally") or {}
    for status, n in pairs(t) do totals[status] = (totals[status] or 0) + n end
    wrapped = wrapped + (tonumber(thread:get("wraps")) or 0)
  end
  for status, n in pairs(totals) do io.write(string.format("STATUS %%d %%d\n", status, n)) end
  io.write(string.format("WRAPPED %%d\n", wrapped))
end
"""

# wrk, plain bodies: each request takes the next template and gives it a report id unique to this
# run and thread, and an installation id from a pool (installations send many reports over time).
WRK_SCRIPT = (
    WRK_TALLY
    + r"""
local templates = {}
local counter = 0
local tid = 0
local prefix = "%(prefix)s"
function init(args)
  for line in io.lines("%(templates)s") do table.insert(templates, line) end
  tid = tonumber(wrk.thread:get("tid")) or 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local body = templates[(counter %% #templates) + 1]
  local rid = string.format("%%s-%%04x-4000-8000-%%012x", prefix, tid, counter)
  local iid = string.format("00000000-0000-4000-8000-%%012x", (counter * 7919 + tid) %% %(installations)d)
  body = body:gsub("@RID@", rid, 1):gsub("@IID@", iid, 1)
  return wrk.format(nil, "/v1/reports", nil, body)
end
"""
)

# wrk, gzip bodies: wrk cannot compress per request, so the bodies are made beforehand, each with a
# report id of its own (a pool per run, fresh ids every run), and each thread sends its own share of
# the pool in order. A thread that runs out starts over and counts it: the run is then void for the
# collector (copies answered 200), and the bench says so and stops.
WRK_GZIP_SCRIPT = (
    WRK_TALLY
    + r"""
local bodies = {}
local counter = 0
function init(args)
  local tid = tonumber(wrk.thread:get("tid")) or 1
  local f = io.open("%(blob)s", "rb")
  local blob = f:read("*a")
  f:close()
  local at, i = 1, 0
  for line in io.lines("%(index)s") do
    local size = tonumber(line)
    if i %% %(threads)d == tid - 1 then table.insert(bodies, blob:sub(at, at + size - 1)) end
    at = at + size
    i = i + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Content-Encoding"] = "gzip"
end
function request()
  counter = counter + 1
  if counter > #bodies then
    counter = 1
    wraps = wraps + 1
  end
  return wrk.format(nil, "/v1/reports", nil, bodies[counter])
end
"""
)

BARE_SERVER = r"""
import asyncio, sys, time, zlib, orjson
from aiohttp import web

if sys.argv[1:] == ["--check"]:  # the ceiling: the collector's own report check, nothing stored
    from optin.contract import ReportChecker, bundled_registry
    registry = bundled_registry("millwright")
    checker = ReportChecker({(registry.app, registry.version): registry})
    parse = lambda body: checker.check(body, int(time.time()))
else:
    parse = orjson.loads

async def handle(request):
    body = await request.read()
    if request.headers.get("Content-Encoding") == "gzip":
        body = zlib.decompress(body, 31)
    parse(body)
    return web.json_response({"status": "stored"}, status=202, dumps=lambda o: orjson.dumps(o).decode())

async def main():
    app = web.Application(client_max_size=(1 << 20) + 1)
    app.router.add_post("/v1/reports", handle)
    runner = web.AppRunner(app, access_log=None, auto_decompress=False, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f'"event":"ready","port":{port}', flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


# --- realistic reports ------------------------------------------------------------------------


def realistic_metrics(registry: Registry, rng: random.Random) -> dict[str, Any]:
    """About 40 stored values: every system fact, most usage counters, a few labels and buckets."""
    out: dict[str, Any] = {}
    for metric in registry.metrics.values():
        kind = metric.kind.value
        if kind == "enum":
            out[metric.name] = rng.choice(metric.values)
        elif kind == "quantity":
            out[metric.name] = int(rng.choice(metric.buckets))
        elif kind == "boolean":
            out[metric.name] = rng.random() < 0.5
        elif kind == "duration":
            counts = [0] * (len(metric.buckets) + 1)
            for _ in range(rng.randint(1, 6)):
                counts[rng.randrange(len(counts))] += 1
            out[metric.name] = counts
        elif metric.labels:
            chosen = rng.sample(metric.labels, rng.randint(1, 3))
            out[metric.name] = {label: rng.randint(1, 40) for label in chosen}
        elif rng.random() < 0.7:
            out[metric.name] = rng.randint(1, metric.max if metric.max < 500 else 500)
    return out


def make_doc(registry: Registry, rng: random.Random, report_id: str, installation_id: str) -> dict[str, Any]:
    end = int(time.time()) - rng.randint(3600, 20 * 86400)
    report = Report(
        report_id,
        installation_id,
        registry.app,
        rng.choice(["2025.1.0", "2025.2.1", "2025.3.0"]),
        registry.version,
        registry.hash,
        end - 86400,
        end,
        end + 60,
        realistic_metrics(registry, rng),
        {"dropped": 0, "evicted": 0, "rejected": 0},
    )
    return report.to_wire()


def value_rows(registry: Registry, doc: dict[str, Any]) -> int:
    from optin.contract import encode_value

    return sum(len(encode_value(registry.metrics[name], value)) for name, value in doc["metrics"].items())


# --- processes --------------------------------------------------------------------------------


def start(cmd: list[str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    with open(log, "wb") as out:  # the child holds its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = READY.search(log.read_bytes())
        if match:
            return proc, int(match.group(1))
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_tree(pid: int) -> float:
    """CPU time of a process and its running children (the collector's loader and workers)."""
    total = cpu_seconds(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += cpu_seconds(int(child))
    return total


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_wrk(
    port: int, script: Path, seconds: float, connections: int, threads: int
) -> tuple[float, dict[int, int], dict[str, float], int]:
    """wrk's rate, answers by status, p50 and p99 latency (ms), and how often a gzip pool ran out."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    statuses = {int(s): int(n) for s, n in re.findall(r"STATUS (\d+) (\d+)", out)}
    latency = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    wrapped = re.search(r"WRAPPED (\d+)", out)
    return rate, statuses, latency, int(wrapped.group(1)) if wrapped else 0


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def metrics(port: int) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def drain_seconds(port: int, accepted: int, limit_s: float = 60) -> float:
    """From the end of a run until the loader has loaded every report the workers accepted."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        m = metrics(port)
        if m.get("optin_load_lag_bytes", 1) == 0 and m.get("optin_reports_accepted_total", 0) >= accepted:
            return time.monotonic() - started
        time.sleep(0.05)
    return float("inf")


def wrk_script(folder: Path, templates: Path, installations: int) -> Path:
    prefix = uuid.uuid4().hex[:8]
    path = folder / f"ingest-{prefix}.lua"
    path.write_text(WRK_SCRIPT % {"prefix": prefix, "templates": templates, "installations": installations})
    return path


def gzip_script(folder: Path, templates: list[str], count: int, installations: int, threads: int) -> Path:
    """A pool of ``count`` gzip bodies, every report id new (this pool's prefix), and the wrk script sending them."""
    prefix = uuid.uuid4().hex[:8]
    blob, index = folder / f"pool-{prefix}.bin", folder / f"pool-{prefix}.txt"
    sizes = []
    with open(blob, "wb") as out:
        for i in range(count):
            iid = f"00000000-0000-4000-8000-{(i * 7919) % installations:012x}"
            body = templates[i % len(templates)].replace(RID, f"{prefix}-{i >> 48:04x}-4000-8000-{i:012x}", 1)
            data = gzip.compress(body.replace(IID, iid, 1).encode(), compresslevel=6, mtime=0)
            out.write(data)
            sizes.append(len(data))
    index.write_text("".join(f"{size}\n" for size in sizes))
    path = folder / f"ingest-{prefix}.lua"
    path.write_text(WRK_GZIP_SCRIPT % {"blob": blob, "index": index, "threads": threads})
    return path


# --- the three measurements -------------------------------------------------------------------


def ingest(folder: Path, registry: Registry, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(1)
    templates = folder / "templates.jsonl"
    docs = [make_doc(registry, rng, RID, IID) for _ in range(args.templates)]
    # The placeholders are not UUIDs; write them bare so wrk can substitute them.
    templates.write_text("".join(json.dumps(doc) + "\n" for doc in docs))
    gz_sizes = []
    for doc in docs:
        real = {**doc, "report_id": str(uuid.uuid4()), "installation_id": str(uuid.uuid4())}
        gz_sizes.append(len(gzip.compress(json.dumps(real).encode())))
    raw_sizes = [
        len(json.dumps({**doc, "report_id": str(uuid.uuid4()), "installation_id": str(uuid.uuid4())}).encode())
        for doc in docs
    ]
    values = [value_rows(registry, doc) for doc in docs]

    db = folder / "ingest" / "optin.duckdb"
    nats = NatsLayout(folder, db) if args.journal == "nats" else None
    procs = {
        "bare": start([sys.executable, "-c", BARE_SERVER], folder / "bare.log"),
        "check": start([sys.executable, "-c", BARE_SERVER, "--check"], folder / "check.log"),
        "collector": start(
            [sys.executable, "-m", "optin.collector", "--db", str(db), "--host", "127.0.0.1", "--port", "0"]
            + (nats.flags if nats else []),
            folder / "collector.log",
        ),
    }
    slots = [(c, e) for c in args.connections for e in args.bodies]
    keys = [(n, c, e) for n in procs for c, e in slots]
    rates: dict[tuple[str, int, str], list[float]] = {key: [] for key in keys}
    cpu: dict[tuple[str, int, str], list[float]] = {key: [] for key in keys}  # CPU s per answer
    latency: dict[tuple[str, int, str], list[dict[str, float]]] = {key: [] for key in keys}
    drains: list[float] = []
    answered: dict[int, int] = {}
    pool_s: list[float] = []
    loads: dict[tuple[int, str], list[float]] = {slot: [] for slot in slots}  # 1-minute load average before each
    lines = templates.read_text().splitlines()
    try:
        for name, (_proc, port) in procs.items():  # warm all (connections, caches, first DuckDB blocks)
            _, statuses, _, _ = run_wrk(
                port, wrk_script(folder, templates, args.installations), 1, max(args.connections), args.wrk_threads
            )
            if name == "collector":
                for status, count in statuses.items():
                    answered[status] = answered.get(status, 0) + count
        for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits all alike
            for c, body in slots:
                if body == "gzip":  # a fresh pool of bodies (new report ids), the same for all three servers
                    started = time.perf_counter()
                    script = gzip_script(folder, lines, args.gzip_pool, args.installations, args.wrk_threads)
                    pool_s.append(time.perf_counter() - started)
                else:
                    script = wrk_script(folder, templates, args.installations)
                loads[(c, body)].append(os.getloadavg()[0])
                for name, (proc, port) in procs.items():
                    before = cpu_seconds_tree(proc.pid)
                    rate, statuses, lat, wrapped = run_wrk(port, script, args.seconds, c, args.wrk_threads)
                    key = (name, c, body)
                    rates[key].append(rate)
                    latency[key].append(lat)
                    cpu[key].append((cpu_seconds_tree(proc.pid) - before) / max(1, sum(statuses.values())))
                    if name == "collector":
                        if wrapped:
                            raise SystemExit("FAILED: the gzip pool ran out in a collector run; raise --gzip-pool")
                        for status, count in statuses.items():
                            answered[status] = answered.get(status, 0) + count
                        done = answered.get(202, 0)
                        drains.append(nats.drain_seconds(done) if nats else drain_seconds(port, done))
        final = metrics(nats.loader_port if nats else procs["collector"][1])
    finally:
        for proc, _ in procs.values():
            stop(proc)
        if nats:
            nats.stop()
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT count(*), count(DISTINCT report_id) FROM reports").fetchone()
    con.close()
    size = db.stat().st_size
    wal = db.with_name(db.name + ".wal")
    size += wal.stat().st_size if wal.exists() else 0
    assert stored is not None
    return {
        "rps": {key: statistics.median(values) for key, values in rates.items()},
        "latency": {
            key: {p: statistics.median(run[p] for run in runs if p in run) for p in ("50", "99")}
            for key, runs in latency.items()
        },
        "rates": rates,
        "drains": drains,
        "pool_s": pool_s,
        "loads": loads,
        "final": final,
        "cpu_us": {key: statistics.median(values) * 1e6 for key, values in cpu.items()},
        "answered": answered,
        "stored_reports": stored[0],
        "distinct_ids": stored[1],
        "db_bytes": size,
        "gzip_bytes": statistics.mean(gz_sizes),
        "json_bytes": statistics.mean(raw_sizes),
        "values_per_report": statistics.mean(values),
    }


def write_path(folder: Path, registry: Registry, reports: int, batch: int) -> dict[str, Any]:
    from optin.collector import _records as rec
    from optin.collector._loader import Loader

    rng = random.Random(2)
    registries = {(registry.app, registry.version): registry}
    now = int(time.time())
    installs = [str(uuid.uuid4()) for _ in range(max(1, reports // 20))]
    bodies = [
        json.dumps(make_doc(registry, rng, str(uuid.uuid4()), rng.choice(installs))).encode() for _ in range(reports)
    ]
    checker = ReportChecker(registries)  # the ingest check, outside the timed part: this measures loading
    checked = [checker.check(body, now) for body in bodies]
    db = folder / "write" / "optin.duckdb"
    journal = folder / "write" / "journal"

    def journal_part(part: list[bytes], name: str) -> None:
        """What the workers would have written (not timed)."""
        write_journal(journal / name, checker, registries, part)

    # Two halves, each through a freshly opened loader, so the database size after the first
    # half's checkpoint gives the marginal bytes of the second half (without fixed overhead).
    records = [rec.encode_report(report, now) for report in checked]
    halves = ("w0", records[: reports // 2]), ("w1", records[reports // 2 :])
    gz = statistics.mean(len(gzip.compress(body)) for body in bodies[:2000])
    # The loader runs in a process of its own, holding none of these objects: without them the
    # timed part is not charged for the garbage collector walking the bench's own set-up.
    del bodies, checked
    gc.collect()
    elapsed, opening, cpu, sizes, batches = 0.0, 0.0, 0.0, [], 0
    for name, part in halves:
        journal_part(part, name)
        loader = Loader(db, journal, registries, batch, 0.0)
        cpu_started = time.process_time()
        started = time.perf_counter()
        loader.open()
        opening += time.perf_counter() - started
        loader.caught_up().result(600)
        elapsed += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        batches += loader.stats.batches
        loader.close()  # checkpoints, deletes loaded segments
        sizes.append(db.stat().st_size)
    con = duckdb.connect(str(db), read_only=True)
    tables = {
        name: con.sql(f"SELECT * FROM {name}").to_arrow_table()
        for name in ("installations", "reports", "report_values", "apps", "app_versions", "metrics", "labels")
    }
    con.close()
    rows = tables["report_values"].num_rows

    def raw(batches: int, cpu: list[float] | None = None) -> float:
        path = folder / f"raw-{batches}-{'bulk' if cpu is not None else 'batched'}.duckdb"
        con = duckdb.connect(str(path))
        migrate(con)  # the same tables as the collector's, at the same schema version
        for name in ("apps", "app_versions", "metrics", "labels"):
            con.register("_t", tables[name])
            con.execute(f"INSERT INTO {name} SELECT * FROM _t")
            con.unregister("_t")
        per = [t.num_rows // batches + 1 for t in (tables["installations"], tables["reports"], tables["report_values"])]
        con.execute("SET python_enable_replacements = true")
        cpu_started = time.process_time()
        started = time.perf_counter()
        for i in range(batches):
            # One call into DuckDB per transaction, finding the slices by name: the cheapest way we know.
            _installations, _reports, _report_values = (
                tables[name].slice(i * size, size)
                for name, size in zip(("installations", "reports", "report_values"), per, strict=False)
            )
            con.execute(
                "BEGIN TRANSACTION; INSERT INTO installations SELECT * FROM _installations; INSERT INTO reports SELECT * FROM _reports; INSERT INTO report_values SELECT * FROM _report_values; COMMIT"
            )
        took = time.perf_counter() - started
        if cpu is not None:
            cpu.append(time.process_time() - cpu_started)  # this process, DuckDB's threads included
        con.close()
        return took

    bulk_cpu: list[float] = []
    bulk = raw(1, bulk_cpu)
    batched = raw(max(1, reports // batch))
    return {
        "rows": rows,
        "reports": reports,
        "ours_s": elapsed,
        "open_s": opening,
        "load": os.getloadavg()[0],
        "ours_cpu_us": cpu / reports * 1e6,
        "loader_batches": batches,
        "bulk_s": bulk,
        "batched_s": batched,
        "bulk_cpu_us": bulk_cpu[0] / reports * 1e6,
        "sizes": sizes,
        "gzip_bytes": gz,
    }


def write_journal(
    folder: Path, checker: ReportChecker, registries: dict[tuple[str, int], Registry], payloads: list[bytes]
) -> None:
    """A worker's journal holding ``payloads`` (records of `_records`), all on disk (not timed)."""
    from optin.collector import _records as rec
    from optin.collector._journal import JournalWriter

    async def run() -> None:
        header = rec.encode_metrics(checker.metric_names, registries)
        writer = JournalWriter(folder, 64 << 20, 0.0, len(payloads) + 1, header)
        writer.open(asyncio.get_running_loop())
        await asyncio.gather(*[writer.append(payload) for payload in payloads])
        writer.close()

    asyncio.run(run())


def deletions(folder: Path, registry: Registry, reports: int, every: int, batch: int) -> dict[str, Any]:
    """The loader on the same reports with and without a deletion after every ``every`` of them.

    Each deletion erases an installation that sent reports earlier in the journal and sends no
    more (as the workers' tombstones ensure). Both runs start from an empty database and journal.
    """
    from optin.collector import _records as rec
    from optin.collector._loader import Loader

    rng = random.Random(3)
    registries = {(registry.app, registry.version): registry}
    checker = ReportChecker(registries)
    now = int(time.time())
    active = [str(uuid.uuid4()) for _ in range(max(1, reports // 20))]
    plain: list[bytes] = []
    mixed: list[bytes] = []
    for i in range(reports):
        body = json.dumps(make_doc(registry, rng, str(uuid.uuid4()), rng.choice(active))).encode()
        payload = rec.encode_report(checker.check(body, now), now)
        plain.append(payload)
        mixed.append(payload)
        if i % every == every - 1:
            gone = active.pop(rng.randrange(len(active)))  # it sent reports before (almost surely) and sends no more
            active.append(str(uuid.uuid4()))
            mixed.append(rec.encode_deletion(gone, now))
    out: dict[str, Any] = {"reports": reports, "deletions": len(mixed) - len(plain), "load": os.getloadavg()[0]}
    for name, payloads in (("without", plain), ("with", mixed)):
        root = folder / f"deletions-{name}"
        write_journal(root / "journal" / "w0", checker, registries, payloads)
        loader = Loader(root / "optin.duckdb", root / "journal", registries, batch, 0.0)
        started = time.perf_counter()
        loader.open()
        loader.caught_up().result(600)
        swept = time.perf_counter()
        loader.call(lambda running: running.sweep(force=True)).result(600)  # the erased reports' value rows
        out[name] = {
            "seconds": time.perf_counter() - started,  # the sweep included
            "sweep_s": time.perf_counter() - swept,
            "batches": loader.stats.batches,
            "batch_max_s": loader.stats.batch_seconds_max,
            "batch_mean_s": loader.stats.batch_seconds_sum / max(1, loader.stats.batches),
            "deleted": loader.stats.deletions,
        }
        loader.close()
        con = duckdb.connect(str(root / "optin.duckdb"), read_only=True)
        out[name]["stored"] = con.execute("SELECT count(*) FROM reports").fetchone()[0]  # type: ignore[index]
        con.close()
    return out


class NatsLayout:
    """`--journal nats`: a three-node JetStream cluster on loopback (replicas 3) and the stream's loader."""

    def __init__(self, folder: Path, db: Path) -> None:
        from optin.collector._cluster import Cluster

        self.cluster = Cluster(folder / "nats", 3).start()
        self.flags = ["--journal", self.cluster.urls, "--nats-replicas", "3", "--nats-max-bytes", str(2 << 30)]
        self.loader, self.loader_port = start(
            [sys.executable, "-m", "optin.collector", "loader", "--db", str(db), "--host", "127.0.0.1", "--port", "0"]
            + self.flags,
            folder / "loader.log",
        )

    def drain_seconds(self, accepted: int, limit_s: float = 120) -> float:
        """From the end of a run until the loader has loaded every report acknowledged by the stream."""
        started = time.monotonic()
        while time.monotonic() - started < limit_s:
            m = metrics(self.loader_port)
            if m.get("optin_stream_pending_messages", 1) == 0 and m.get("optin_reports_stored_total", 0) >= accepted:
                return time.monotonic() - started
            time.sleep(0.05)
        return float("inf")

    def stop(self) -> None:
        stop(self.loader)
        self.cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved runs of each server; the median counts")
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--bodies", nargs="+", choices=("plain", "gzip"), default=["plain", "gzip"])
    parser.add_argument(
        "--gzip-pool", type=int, default=150000, help="gzip bodies made for each run (each a new report id)"
    )
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--templates", type=int, default=500, help="distinct report bodies (ids are filled in per request)"
    )
    parser.add_argument("--installations", type=int, default=20000)
    parser.add_argument(
        "--write-reports", type=int, default=100000, help="reports through the write path; also the stored-size sample"
    )
    parser.add_argument(
        "--delete-every",
        type=int,
        default=1000,
        help="the deletions run: one deletion after this many reports (0: none)",
    )
    parser.add_argument("--deletion-reports", type=int, default=50000, help="reports in the deletions run")
    parser.add_argument(
        "--batch", type=int, default=Config().batch_max_reports, help="the loader's batch_max_reports (its default)"
    )
    parser.add_argument(
        "--journal",
        choices=("file", "nats"),
        default="file",
        help="nats: stateless collectors on a three-node JetStream cluster (replicas 3) and a loader process",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the ingest comparison (Debian: apt-get install wrk)")
    registry = bundled_registry("millwright")
    folder = Path(tempfile.mkdtemp(prefix="optin-bench-"))
    try:
        i = ingest(folder, registry, args)
        w = write_path(folder, registry, args.write_reports, args.batch)
        d = (
            deletions(folder, registry, args.deletion_reports, args.delete_every, args.batch)
            if args.delete_every
            else None
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    non_202 = {s: n for s, n in i["answered"].items() if s != 202}
    accepted = i["answered"].get(202, 0)
    rps, lat = i["rps"], i["latency"]
    print(
        f"collector benchmarks ({args.journal} journal), {os.cpu_count()} CPUs, wrk -t{args.wrk_threads},"
        f" {args.rounds}x{args.seconds:g}s each,"
        f" interleaved; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"reports: {i['values_per_report']:.1f} stored values each, {i['json_bytes']:.0f} B JSON,"
        f" {i['gzip_bytes']:.0f} B gzip; every report id distinct; bodies: {' and '.join(args.bodies)}"
    )
    print()
    print(f"{'what':<58}{'ours':>12}{'reference':>12}{'ratio':>9}{'target':>10}")
    slots = [(c, b) for c in args.connections for b in args.bodies]
    for c, body in slots:
        target = ">= 0.45x" if c <= 64 else ">= 0.8x"
        ours, bare, check = (rps[(n, c, body)] for n in ("collector", "bare", "check"))
        what = f"ingest, reports/s, {c} conn., {body},"
        print(f"{what + ' vs bare handler':<58}{ours:>12,.0f}{bare:>12,.0f}{ours / bare:>8.2f}x{target:>10}")
        print(f"{what + ' vs bare + check':<58}{ours:>12,.0f}{check:>12,.0f}{ours / check:>8.2f}x{'>= 0.85x':>10}")
    ours = w["rows"] / w["ours_s"]
    bulk = w["rows"] / w["bulk_s"]
    batched = w["rows"] / w["batched_s"]
    print(
        f"{'write path (loader), rows/s vs one raw Arrow insert':<52}{ours:>12,.0f}{bulk:>12,.0f}{ours / bulk:>8.2f}x{'>= 0.5x':>10}"
    )
    print(
        f"{'write path (loader), rows/s vs raw, same batches':<52}{ours:>12,.0f}{batched:>12,.0f}{ours / batched:>8.2f}x"
    )
    total = w["sizes"][1] / w["reports"]
    marginal = (w["sizes"][1] - w["sizes"][0]) / (w["reports"] - w["reports"] // 2)
    gz = w["gzip_bytes"]
    print(f"{'stored bytes per report vs gzip JSON':<52}{total:>12,.0f}{gz:>12,.0f}{total / gz:>8.2f}x{'<= 0.3x':>10}")
    print(f"{'  marginal (second half of the reports)':<52}{marginal:>12,.0f}{gz:>12,.0f}{marginal / gz:>8.2f}x")
    print()
    print("latency p50 / p99, ms (medians over rounds):")
    for c, body in slots:
        print(
            f"  {c:>3} conn., {body:<5}: "
            + ", ".join(
                f"{name} {lat[(name, c, body)]['50']:.1f} / {lat[(name, c, body)]['99']:.1f}"
                for name in ("collector", "bare", "check")
            )
        )
    print("ingest runs, reports/s:")
    for c, body in slots:
        print(
            f"  {c:>3} conn., {body:<5}: "
            + ", ".join(f"{n} {[round(r) for r in i['rates'][(n, c, body)]]}" for n in ("collector", "bare", "check"))
            + f"; load average before each round {[round(x, 1) for x in i['loads'][(c, body)]]}"
        )
    print("server CPU per answered report (every process and thread):")
    for c, body in slots:
        print(
            f"  {c:>3} conn., {body:<5}: "
            + ", ".join(f"{n} {i['cpu_us'][(n, c, body)]:.0f} us" for n in ("collector", "bare", "check"))
        )
    if i["pool_s"]:
        print(
            f"gzip bodies: {args.gzip_pool:,} made before each gzip run (not timed against anyone),"
            f" {statistics.mean(i['pool_s']):.1f}s each"
        )
    if args.journal == "nats":
        print(
            f"loader lag (stream emptied and every 202 loaded) after each collector run: "
            f"{', '.join(f'{d:.2f}s' for d in i['drains'])}; largest load transaction"
            f" {i['final'].get('optin_loader_batch_reports_max', 0):,.0f} reports; server CPU above counts the"
            " collectors only (not the three nats-server processes, nor the loader)"
        )
    else:
        print(
            f"load lag after each collector run drained in: {', '.join(f'{d:.2f}s' for d in i['drains'])} (target <= 2 s);"
            f" largest load transaction {i['final'].get('optin_loader_batch_reports_max', 0):,.0f} reports;"
            f" journal groups {i['final'].get('optin_journal_groups_total', 0):,.0f} for"
            f" {i['final'].get('optin_journal_records_total', 0):,.0f} records,"
            f" fdatasync+write mean {i['final'].get('optin_journal_fsync_seconds_sum', 0) / max(1, i['final'].get('optin_journal_groups_total', 1)) * 1000:.2f} ms,"
            f" max {i['final'].get('optin_journal_fsync_seconds_max', 0) * 1000:.1f} ms"
        )
    print(
        f"collector answered 202 to {accepted:,} requests (other answers: {non_202 or 'none'}); database holds"
        f" {i['stored_reports']:,} reports, {i['distinct_ids']:,} distinct ids, {i['db_bytes']:,} bytes after shutdown"
    )
    print(
        f"write path: {w['reports']:,} reports = {w['rows']:,} value rows loaded from journals by the loader"
        f" ({w['loader_batches']} transactions: {args.batch:,} reports, more while behind) in {w['ours_s']:.2f}s"
        f" (opening the loader twice: {w['open_s']:.2f}s of it), {w['ours_cpu_us']:.0f} us CPU"
        f" per report; raw Arrow insert of the same rows: {w['bulk_s']:.2f}s in one transaction"
        f" ({w['bulk_cpu_us']:.0f} us CPU per report), {w['batched_s']:.2f}s in the same batches;"
        f" load average {w['load']:.1f}"
    )
    print(
        f"stored size: {w['sizes'][0]:,} bytes after {w['reports'] // 2:,} reports, {w['sizes'][1]:,} bytes after"
        f" {w['reports']:,} (checkpointed database file)"
    )
    if d is not None:
        plain, mixed = d["without"], d["with"]
        added_ms = (mixed["seconds"] - plain["seconds"]) / max(1, d["deletions"]) * 1000
        print(
            f"deletions: {d['reports']:,} reports with a deletion after every {args.delete_every:,}"
            f" ({d['deletions']} deletions, each of an installation with earlier reports) loaded at"
            f" {d['reports'] / mixed['seconds']:,.0f} reports/s against {d['reports'] / plain['seconds']:,.0f} without"
            f" ({plain['seconds'] / mixed['seconds']:.2f}x); each deletion added {added_ms:.1f} ms of loader time"
            f" (the sweep of the erased reports' value rows included: {mixed['sweep_s'] * 1000:.0f} ms);"
            f" transactions {mixed['batches']} (mean {mixed['batch_mean_s'] * 1000:.0f} ms, largest"
            f" {mixed['batch_max_s'] * 1000:.0f} ms) against {plain['batches']} (mean"
            f" {plain['batch_mean_s'] * 1000:.0f} ms, largest {plain['batch_max_s'] * 1000:.0f} ms);"
            f" stored {mixed['stored']:,} and {plain['stored']:,} reports; load average {d['load']:.1f}"
        )
    if i["stored_reports"] < accepted or i["distinct_ids"] != i["stored_reports"]:
        raise SystemExit("FAILED: every 202 must be stored exactly once")


if __name__ == "__main__":
    main()
