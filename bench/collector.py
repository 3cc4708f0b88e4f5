"""Collector benchmarks (SPEC §6), one command: `python bench/collector.py`.

Prints, measured in this one run:
1. ingest reports/s of `python -m optin.collector` (every 202 durable) against a bare aiohttp
   handler that reads, parses and answers 202 to the same bodies, both driven by wrk with the
   same connections, duration and bodies (about 40 values each, every report id distinct);
2. the collector's DuckDB write path (Store: keys, Arrow batches, group commit) against a raw
   Arrow bulk insert of exactly the rows it wrote;
3. stored bytes per report in the checkpointed database against the report's gzip-compressed JSON.

Load goes to 127.0.0.1 only and every run is bounded in time. Needs `wrk` on PATH (Debian
package `wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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

from optin.collector._migrations import migrate
from optin.contract import CheckedReport, Registry, Report, ReportChecker, bundled_registry

READY = re.compile(rb'"event":"ready","port":(\d+)')
RID, IID = "@RID@", "@IID@"  # placeholders wrk fills in per request

# wrk: each request takes the next template and gives it a report id unique to this run and
# thread, and an installation id from a pool (installations send many reports over time).
WRK_SCRIPT = r"""
local templates = {}
local counter = 0
local tid = 0
local threads = {}
local tally = {}
local prefix = "%(prefix)s"
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
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
function response(status, headers, body)
  tally[status] = (tally[status] or 0) + 1
end
function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local t = thread:get("tally")
    for status, n in pairs(t) do totals[status] = (totals[status] or 0) + n end
  end
  for status, n in pairs(totals) do io.write(string.format("STATUS %%d %%d\n", status, n)) end
end
"""
# wrk copies `tally` into each thread's table only if we publish it; do so on every response batch.
WRK_PUBLISH = r"""
local _response = response
response = function(status, headers, body)
  _response(status, headers, body)
  wrk.thread:set("tally", tally)
end
"""

BARE_SERVER = r"""
import asyncio, sys, time, orjson
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


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_wrk(port: int, script: Path, seconds: float, connections: int, threads: int) -> tuple[float, dict[int, int]]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "30s",
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
    return rate, statuses


def wrk_script(folder: Path, templates: Path, installations: int) -> Path:
    prefix = uuid.uuid4().hex[:8]
    path = folder / f"ingest-{prefix}.lua"
    path.write_text(
        WRK_SCRIPT % {"prefix": prefix, "templates": templates, "installations": installations} + WRK_PUBLISH
    )
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
    procs = {
        "bare": start([sys.executable, "-c", BARE_SERVER], folder / "bare.log"),
        "check": start([sys.executable, "-c", BARE_SERVER, "--check"], folder / "check.log"),
        "collector": start(
            [sys.executable, "-m", "optin.collector", "--db", str(db), "--host", "127.0.0.1", "--port", "0"],
            folder / "collector.log",
        ),
    }
    rates: dict[str, list[float]] = {name: [] for name in procs}
    cpu: dict[str, list[float]] = {name: [] for name in procs}  # server CPU seconds per answered request
    answered: dict[int, int] = {}
    try:
        for name, (_proc, port) in procs.items():  # warm all (connections, caches, first DuckDB blocks)
            _, statuses = run_wrk(
                port, wrk_script(folder, templates, args.installations), 1, args.connections, args.wrk_threads
            )
            if name == "collector":
                for status, count in statuses.items():
                    answered[status] = answered.get(status, 0) + count
        for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits all alike
            for name, (proc, port) in procs.items():
                before = cpu_seconds(proc.pid)
                rate, statuses = run_wrk(
                    port,
                    wrk_script(folder, templates, args.installations),
                    args.seconds,
                    args.connections,
                    args.wrk_threads,
                )
                rates[name].append(rate)
                cpu[name].append((cpu_seconds(proc.pid) - before) / max(1, sum(statuses.values())))
                if name == "collector":
                    for status, count in statuses.items():
                        answered[status] = answered.get(status, 0) + count
    finally:
        for proc, _ in procs.values():
            stop(proc)
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT count(*), count(DISTINCT report_id) FROM reports").fetchone()
    con.close()
    size = db.stat().st_size
    wal = db.with_name(db.name + ".wal")
    size += wal.stat().st_size if wal.exists() else 0
    assert stored is not None
    return {
        "collector_rps": statistics.median(rates["collector"]),
        "bare_rps": statistics.median(rates["bare"]),
        "check_rps": statistics.median(rates["check"]),
        "rates": rates,
        "cpu_us": {name: statistics.median(values) * 1e6 for name, values in cpu.items()},
        "answered": answered,
        "stored_reports": stored[0],
        "distinct_ids": stored[1],
        "db_bytes": size,
        "gzip_bytes": statistics.mean(gz_sizes),
        "json_bytes": statistics.mean(raw_sizes),
        "values_per_report": statistics.mean(values),
    }


def write_path(folder: Path, registry: Registry, reports: int, batch: int) -> dict[str, Any]:
    from optin.collector import Config  # noqa: F401  (public package; the Store is internal)
    from optin.collector._store import Store

    rng = random.Random(2)
    registries = {(registry.app, registry.version): registry}
    now = int(time.time())
    installs = [str(uuid.uuid4()) for _ in range(max(1, reports // 20))]
    bodies = [
        json.dumps(make_doc(registry, rng, str(uuid.uuid4()), rng.choice(installs))).encode() for _ in range(reports)
    ]
    checker = ReportChecker(registries)  # the ingest check, outside the timed part: this measures storing
    checked = [checker.check(body, now) for body in bodies]
    db = folder / "write" / "optin.duckdb"

    async def feed(part: list[CheckedReport]) -> float:
        received = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        futures = [store.submit(report, received) for report in part]
        await asyncio.gather(*futures)
        return time.perf_counter() - started

    # Two halves, each through a freshly opened Store, so the database size after the first
    # half's checkpoint gives the marginal bytes of the second half (without fixed overhead).
    elapsed, sizes = 0.0, []
    for part in (checked[: reports // 2], checked[reports // 2 :]):
        store = Store(db, registries, batch, 0.005, reports + 1)
        store.open()
        elapsed += asyncio.run(feed(part))
        store.close()  # drains, commits, checkpoints
        sizes.append(db.stat().st_size)
    con = duckdb.connect(str(db), read_only=True)
    tables = {
        name: con.sql(f"SELECT * FROM {name}").to_arrow_table()
        for name in ("installations", "reports", "report_values", "apps", "app_versions", "metrics", "labels")
    }
    con.close()
    rows = tables["report_values"].num_rows

    def raw(batches: int, cpu: list[float] | None = None) -> float:
        path = folder / f"raw-{batches}.duckdb"
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

    def read_json_bulk() -> float:
        """The same rows written as newline-delimited JSON, bulk-inserted with DuckDB's read_json."""
        path = folder / "raw-json.duckdb"
        con = duckdb.connect(str(path))
        migrate(con)
        for name in ("apps", "app_versions", "metrics", "labels"):
            con.register("_t", tables[name])
            con.execute(f"INSERT INTO {name} SELECT * FROM _t")
            con.unregister("_t")
        files = {}
        for name in ("installations", "reports", "report_values"):
            files[name] = folder / f"{name}.ndjson"
            con.register("_t", tables[name])
            con.execute(f"COPY (SELECT * FROM _t) TO '{files[name]}' (FORMAT json)")  # not timed
            con.unregister("_t")
        started = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        for name, file in files.items():
            columns = dict(
                con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                    [name],
                ).fetchall()
            )
            spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in columns.items()) + "}"
            con.execute(
                f"INSERT INTO {name} SELECT * FROM read_json('{file}', format = 'newline_delimited', columns = {spec})"
            )
        con.execute("COMMIT")
        took = time.perf_counter() - started
        con.close()
        return took

    bulk = raw(1)
    batched = raw(max(1, reports // batch))
    json_bulk = read_json_bulk()
    per_64_cpu: list[float] = []
    per_64 = raw(
        max(1, reports // 64), per_64_cpu
    )  # DuckDB alone, one transaction per 64 reports: what 64 waiting connections allow
    gz = statistics.mean(len(gzip.compress(body)) for body in bodies[:2000])
    return {
        "rows": rows,
        "reports": reports,
        "ours_s": elapsed,
        "bulk_s": bulk,
        "batched_s": batched,
        "json_s": json_bulk,
        "per_64_s": per_64,
        "per_64_cpu_us": per_64_cpu[0] / reports * 1e6,
        "sizes": sizes,
        "gzip_bytes": gz,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved runs of each server; the median counts")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--templates", type=int, default=500, help="distinct report bodies (ids are filled in per request)"
    )
    parser.add_argument("--installations", type=int, default=20000)
    parser.add_argument(
        "--write-reports", type=int, default=100000, help="reports through the write path; also the stored-size sample"
    )
    parser.add_argument("--batch", type=int, default=512, help="the collector's default batch_max_reports")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the ingest comparison (Debian: apt-get install wrk)")
    registry = bundled_registry("millwright")
    folder = Path(tempfile.mkdtemp(prefix="optin-bench-"))
    try:
        i = ingest(folder, registry, args)
        w = write_path(folder, registry, args.write_reports, args.batch)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    non_202 = {s: n for s, n in i["answered"].items() if s != 202}
    accepted = i["answered"].get(202, 0)
    print(
        f"collector benchmarks, {os.cpu_count()} CPUs, wrk -t{args.wrk_threads} -c{args.connections}, {args.rounds}x{args.seconds:g}s each, interleaved"
    )
    print(
        f"reports: {i['values_per_report']:.1f} stored values each, {i['json_bytes']:.0f} B JSON, {i['gzip_bytes']:.0f} B gzip; every report id distinct"
    )
    print()
    print(f"{'what':<44}{'ours':>14}{'reference':>14}{'ratio':>9}{'target':>10}")
    ratio = i["collector_rps"] / i["bare_rps"]
    print(
        f"{'ingest, reports/s (all 202 durable)':<44}{i['collector_rps']:>14,.0f}{i['bare_rps']:>14,.0f}{ratio:>8.2f}x{'>= 0.7x':>10}"
    )
    ours = w["rows"] / w["ours_s"]
    bulk = w["rows"] / w["bulk_s"]
    batched = w["rows"] / w["batched_s"]
    print(
        f"{'write path, rows/s vs one bulk insert':<44}{ours:>14,.0f}{bulk:>14,.0f}{ours / bulk:>8.2f}x{'>= 0.5x':>10}"
    )
    print(
        f"{'write path, rows/s vs bulk in same batches':<44}{ours:>14,.0f}{batched:>14,.0f}{ours / batched:>8.2f}x{'':>10}"
    )
    from_json = w["rows"] / w["json_s"]
    print(
        f"{'write path, rows/s vs read_json bulk insert':<44}{ours:>14,.0f}{from_json:>14,.0f}{ours / from_json:>8.2f}x{'':>10}"
    )
    total = w["sizes"][1] / w["reports"]
    marginal = (w["sizes"][1] - w["sizes"][0]) / (w["reports"] - w["reports"] // 2)
    print(
        f"{'stored bytes per report vs gzip JSON':<44}{total:>14,.0f}{w['gzip_bytes']:>14,.0f}{total / w['gzip_bytes']:>8.2f}x{'<= 0.3x':>10}"
    )
    print(
        f"{'  marginal (second half of the reports)':<44}{marginal:>14,.0f}{w['gzip_bytes']:>14,.0f}{marginal / w['gzip_bytes']:>8.2f}x"
    )
    small = i["db_bytes"] / max(1, i["stored_reports"])
    print(
        f"{'  the ingest run database (small, overhead)':<44}{small:>14,.0f}{i['gzip_bytes']:>14,.0f}{small / i['gzip_bytes']:>8.2f}x"
    )
    print()
    print("ceilings, measured in this run:")
    print(
        f"  the bare handler running the collector's report check instead of a plain parse, storing nothing: {i['check_rps']:,.0f} reports/s = {i['check_rps'] / i['bare_rps']:.2f}x the bare handler"
    )
    print(
        f"  DuckDB alone, raw Arrow inserts in one transaction per 64 reports (all 64 connections waiting on one commit): {w['reports'] / w['per_64_s']:,.0f} reports/s = {w['reports'] / w['per_64_s'] / i['bare_rps']:.2f}x the bare handler's rate, {w['per_64_cpu_us']:.0f} us CPU per report"
    )
    print(
        f"ingest runs, reports/s: collector {[round(r) for r in i['rates']['collector']]}, bare {[round(r) for r in i['rates']['bare']]}, bare+check {[round(r) for r in i['rates']['check']]}"
    )
    print(
        f"server CPU per answered report (all threads): collector {i['cpu_us']['collector']:.0f} us, bare {i['cpu_us']['bare']:.0f} us, bare+check {i['cpu_us']['check']:.0f} us; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"collector answered 202 to {accepted:,} requests (other answers: {non_202 or 'none'}); database holds {i['stored_reports']:,} reports, {i['distinct_ids']:,} distinct ids, {i['db_bytes']:,} bytes after shutdown"
    )
    print(
        f"write path: {w['reports']:,} reports = {w['rows']:,} value rows through Store (batches of {args.batch}) in {w['ours_s']:.2f}s; raw Arrow insert of the same rows: {w['bulk_s']:.2f}s in one transaction, {w['batched_s']:.2f}s in batches; read_json of the same rows: {w['json_s']:.2f}s"
    )
    print(
        f"stored size: {w['sizes'][0]:,} bytes after {w['reports'] // 2:,} reports, {w['sizes'][1]:,} bytes after {w['reports']:,} (checkpointed database file)"
    )
    if i["stored_reports"] < accepted:
        raise SystemExit("FAILED: fewer reports stored than acknowledged")


if __name__ == "__main__":
    main()
