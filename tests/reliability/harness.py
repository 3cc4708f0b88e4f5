"""The reliability harness: real collector processes, real client processes, a faulty network, load.

Everything here runs on 127.0.0.1 and is bounded in count and time. Scenarios (scenarios.py)
combine these parts, inject faults, and end with the invariant checks of SPEC §7, which they
record as a `Row` of the table printed by bench/reliability.py and asserted by the tests.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psutil

from optin.contract import Registry
from tests.helpers import CollectorProcess, db_rows, launch_collector, make_report, request, wait_ready

WORKER = Path(__file__).with_name("client_worker.py")
ROOT = Path(__file__).resolve().parents[2]
DAY = 86400
# Sent by the load tool with every request: none of these may reach a file or a log line.
CANARY_UA = "ReliabilityCanary/1.0 (canary-ua-51d2)"
CANARY_HEADERS = {
    "User-Agent": CANARY_UA,
    "X-Forwarded-For": "203.0.113.51, 198.51.100.52",
    "X-Real-IP": "203.0.113.51",
}
NEEDLES = ("127.0.0.1", "203.0.113.51", "198.51.100.52", "canary-ua-51d2", "ReliabilityCanary")
METRICS = {
    "toolpath.pocket": 3,
    "toolpath.drill": 1,
    "file.import": {"step": 2, "dxf": 1},
    "simulation.duration": [1, 2, 0, 0, 0, 0],
    "system.os_family": "windows",
    "system.ram_gib": 32,
    "ui.theme": "dark",
}


# --- the table ---------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Row:
    """One scenario's line of the table, and the invariant checks behind it."""

    scenario: str
    load: str = ""
    faults: str = ""
    sent: int = 0
    acked: int = 0
    stored: int = 0
    evicted: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def explain(self) -> str:
        return "\n".join(f"{self.scenario}: FAILED {c.name}: {c.detail}" for c in self.failed)


def render_table(rows: list[Row]) -> str:
    head = "| scenario | load held | faults injected | sent | acknowledged | stored | evicted | dropped (by reason) | invariant checks |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(r.dropped.items()) if v) or "0"
        passed = sum(c.ok for c in r.checks)
        failed = ", ".join(c.name for c in r.failed)
        verdict = f"{passed}/{len(r.checks)} passed" + (f"; FAILED: {failed}" if failed else "")
        lines.append(
            f"| {r.scenario} | {r.load} | {r.faults} | {r.sent} | {r.acked} | {r.stored} | {r.evicted} | {dropped} | {verdict} |"
        )
    return "\n".join(lines)


# --- the collector as a process ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Collector:
    """`python -m optin.collector` on a fixed port (clients keep their endpoint across restarts)."""

    def __init__(self, folder: Path, *flags: str, port: int | None = None) -> None:
        self.folder = folder
        self.db = folder / "db" / "optin.duckdb"
        self.port = port or free_port()
        self.flags = flags
        self.logs: list[Path] = []
        self.running: CollectorProcess | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.running is not None
        return self.running.proc.pid

    def launch(self, *more: str, fsize_limit: int | None = None) -> subprocess.Popen[bytes]:
        """Start the process; do not wait for it."""
        self.starts += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (
            self.folder / f"collector-{len(list(self.folder.glob('collector-*.log'))) + 1}.log"
        )  # a fresh log: "ready" is per process
        self.logs.append(log)

        def limits() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
            if fsize_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))

        self.running = launch_collector(self.db, log, *self.flags, *more, port=self.port, preexec_fn=limits)
        return self.running.proc

    def wait_ready(self, timeout_s: float = 30) -> bool:
        """True once the process logged "ready"; False if it exited first."""
        assert self.running is not None
        return wait_ready(self.running, timeout_s)

    def start(self, *more: str, fsize_limit: int | None = None) -> Collector:
        self.launch(*more, fsize_limit=fsize_limit)
        if not self.wait_ready():
            raise RuntimeError(f"collector exited: {self.running.log.read_text() if self.running else ''}")
        return self

    def kill(self) -> None:
        """kill -9 of the supervisor; its loader and workers die with it (waited for)."""
        if self.running is not None and self.running.proc.poll() is None:
            self.running.stop(signal.SIGKILL)

    def pids(self) -> list[int]:
        """The supervisor, the loader and the workers (restarted ones included) that still run."""
        assert self.running is not None
        return [p for p in [self.running.proc.pid, *self.running.children()] if psutil.pid_exists(p)]

    def limit_file_size(self, soft: int | None) -> None:
        """RLIMIT_FSIZE on every process of the collector (None: back to the hard limit): a full "disk"."""
        for pid in self.pids():
            hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard if soft is None else soft, hard))

    def stop(self) -> int:
        """SIGTERM: drain, commit, checkpoint; the exit status."""
        return self.running.stop() if self.running is not None else 0

    def get(self, path: str) -> tuple[int, bytes]:
        status, _, body = request(self.url, "GET", path, timeout_s=10)
        return status, body

    def metrics(self) -> dict[str, float]:
        _, body = self.get("/metrics")
        out: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out


def stored(db: Path) -> Counter[str]:
    """Report ids in the database, opened as the next collector would (the WAL replayed)."""
    con = duckdb.connect(str(db))
    try:
        return Counter(row[0] for row in con.execute("SELECT CAST(report_id AS VARCHAR) FROM reports").fetchall())
    finally:
        con.close()


def durable(db: Path) -> Counter[str]:
    """After a kill: report ids in the database plus those its journals hold beyond the loaded positions.

    What the next start will have stored (the loader stores each id once): the database must open,
    and the journals are read with the collector's own reader, whole records only.
    """
    from optin.collector import _records as records
    from optin.collector._journal import read_segment, segment_name, segments

    in_db = stored(db)
    con = duckdb.connect(str(db))
    try:
        positions = {n: (s, o) for n, s, o in con.execute("SELECT * FROM journal_positions").fetchall()}
    finally:
        con.close()
    root = db.with_name(db.name + ".journal")
    pending: set[str] = set()
    for folder in [p for p in root.iterdir() if p.is_dir()] if root.exists() else []:
        seq, offset = positions.get(folder.name, (0, 0))
        for number in [n for n in segments(folder) if n >= seq]:
            scan = read_segment(folder / segment_name(number), offset if number == seq else 0)
            pending |= {records.decode_report(p)[0].report_id for p in scan.payloads if p[:1] == records.REPORT}
    for report_id in pending - set(in_db):
        in_db[report_id] = 1
    return in_db


def evicted_reported(db: Path) -> dict[str, int]:
    """Per installation: the sum of the `evicted` counters its stored reports carried."""
    rows = db_rows(
        db,
        "SELECT CAST(i.installation_id AS VARCHAR), sum(r.evicted) FROM reports r JOIN installations i USING (inst_key) GROUP BY 1",
    )
    return {str(i): int(n) for i, n in rows}


def privacy_hits(files: list[Path], needles: tuple[str, ...]) -> list[str]:
    """`needle in file` for every needle found, as text or UTF-16 (the collector privacy test's grep)."""
    hits = []
    for path in files:
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            continue
        for needle in needles:
            if needle.encode() in content or needle.encode("utf-16-le") in content:
                hits.append(f"{needle!r} in {path.name}")
    return hits


def collector_files(collector: Collector) -> list[Path]:
    return [p for p in collector.folder.rglob("*") if p.is_file()]


def exactly_once(row: Row, acked: set[str], sent: set[str], in_db: Counter[str]) -> None:
    """The invariants of SPEC §7 that concern counts."""
    twice = [rid for rid, n in in_db.items() if n > 1]
    lost = acked - set(in_db)
    unknown = set(in_db) - sent
    row.check("acknowledged stored", not lost, f"{len(lost)} acknowledged reports missing: {sorted(lost)[:3]}")
    row.check("stored once", not twice, f"{len(twice)} reports stored more than once: {twice[:3]}")
    row.check("nothing unsent stored", not unknown, f"{len(unknown)} stored reports nobody sent: {sorted(unknown)[:3]}")


# --- client processes ------------------------------------------------------------------------------


class Client:
    """One installation (client_worker.py) as a child process."""

    def __init__(
        self, root: Path, endpoint: str, start: float, period_s: int, max_reports: int, timeout_s: float = 10.0
    ) -> None:
        self.root = root
        self.args = {
            "root": str(root),
            "endpoint": endpoint,
            "start": start,
            "period_s": period_s,
            "max_reports": max_reports,
            "timeout_s": timeout_s,
        }
        self.proc: subprocess.Popen[str] | None = None
        self.last: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []  # every answer of every process of this installation
        self.spawn()

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(self.args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def read(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"client process ended ({self.proc.wait()})")
        self.last = json.loads(line)
        self.history.append(self.last)
        self.args["start"] = self.last["now"]  # a restarted process continues this installation's time
        return self.last

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.kill()
        self.spawn()
        self.read()


class Fleet:
    """Several installations; each command goes to all at once, answers are read in order."""

    def __init__(
        self,
        folder: Path,
        n: int,
        endpoint: str,
        start: float,
        period_s: int,
        max_reports: int,
        timeout_s: float = 10.0,
    ) -> None:
        self.clients = [
            Client(folder / f"installation-{i:03d}", endpoint, start, period_s, max_reports, timeout_s)
            for i in range(n)
        ]
        for client in self.clients:
            client.read()

    def all(self, **cmd: Any) -> list[dict[str, Any]]:
        for client in self.clients:
            client.send(cmd)
        return [client.read() for client in self.clients]

    def close(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        answers = self.all(op="close", timeout=timeout)
        for client in self.clients:
            assert client.proc is not None
            client.proc.wait(30)
        return answers

    def kill(self) -> None:
        for client in self.clients:
            client.kill()

    # --- what the fleet says happened ---------------------------------------------------------

    def built(self) -> set[str]:
        return {rid for c in self.clients for answer in c.history for rid in answer["built"]}

    def results(self) -> dict[str, set[str]]:
        """Every history result seen per report id, over all processes of every installation."""
        out: dict[str, set[str]] = {}
        for c in self.clients:
            for answer in c.history:
                for rid, rs in answer["results"].items():
                    out.setdefault(rid, set()).update(rs)
        return out

    def acked(self) -> set[str]:
        return {
            rid
            for rid, rs in self.results().items()
            if any(r in ("accepted", "duplicate (already stored)") for r in rs)
        }

    def queued(self) -> set[str]:
        return {rid for c in self.clients for rid in c.last.get("queued", [])}


# --- a faulty network ----------------------------------------------------------------------------------


class Proxy:
    """A TCP proxy between clients and the collector, on its own event loop thread.

    Modes: "forward"; "refuse" (nothing listens: connection refused); "reset" (read the headers
    and part of the body, then reset the connection); "hang" (accept, read, never answer);
    "drop_response" (forward the request, let the collector answer, then reset the client
    connection instead of passing the answer on: the report is stored, the client never knows).
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.mode = "forward"
        self.seen: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._hanging: list[asyncio.StreamWriter] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="reliability-proxy", daemon=True)
        self._thread.start()
        self.set_mode("forward")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def set_mode(self, mode: str) -> None:
        self._call(self._set_mode(mode))

    async def _set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == "refuse":
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
                self._server = None
        elif self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        for writer in self._hanging:
            writer.transport.abort()
        self._hanging.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        self.seen[mode] += 1
        try:
            if mode == "reset":
                await reader.readuntil(b"\r\n\r\n")
                await reader.read(16)  # part of the body
                writer.transport.abort()  # RST mid-upload
                return
            if mode == "hang":
                self._hanging.append(writer)
                await reader.read(1 << 20)
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            pump = asyncio.ensure_future(self._pump(reader, up_writer))
            answer = await up_reader.read(-1)  # the client sends Connection: close; so does the answer
            pump.cancel()
            up_writer.close()
            if mode == "drop_response":
                writer.transport.abort()  # committed upstream; the client gets a reset instead of the answer
                return
            writer.write(answer)
            await writer.drain()
            writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.transport.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass

    def close(self) -> None:
        self.set_mode("refuse")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


# --- load ----------------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the load tool sent and what it was answered (thread-safe)."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    acked: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0
    shed_without_retry_after: int = 0
    latencies: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # permanent answers (4xx but 408/429), "status reason"
    refused_ids: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new(self, registry: Registry, metrics: dict[str, Any] | None = None) -> str:
        doc = make_report(registry, metrics or METRICS, installation_id=str(uuid.uuid4()))
        with self.lock:
            self.bodies[doc["report_id"]] = json.dumps(doc).encode()
        return str(doc["report_id"])

    @property
    def sent(self) -> set[str]:
        with self.lock:
            return set(self.bodies)


@dataclass(eq=False)
class Load:
    """An aiohttp client with many concurrent connections, on its own thread.

    ``ids`` are sent once each; with ``retry`` a shed (429/503) report is sent again after its
    Retry-After (times ``retry_scale``) and one without an answer after a short pause, until
    acknowledged or ``deadline_s`` passes. ``rate`` paces the whole load (requests per second).
    """

    url: str
    ledger: Ledger
    ids: list[str]
    concurrency: int = 64
    retry: bool = True
    retry_scale: float = 1.0
    rate: float | None = None
    deadline_s: float = 60.0
    timeout_s: float = 15.0
    stop_event: threading.Event = field(default_factory=threading.Event, init=False)
    error: BaseException | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._main, name="reliability-load", daemon=True)

    def start(self) -> Load:
        self._thread.start()
        return self

    def join(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self.stop_event.set()
        self.join(60)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as error:  # surfaced by join()
            self.error = error

    async def _run(self) -> None:
        import aiohttp

        queue: asyncio.Queue[str] = asyncio.Queue()
        for rid in self.ids:
            queue.put_nowait(rid)
        started = time.monotonic()
        end = started + self.deadline_s
        counter = [0]
        pending = [len(self.ids)]
        connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=False)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=CANARY_HEADERS) as session:

            async def one(rid: str) -> bool:
                """True when this report needs no further attempt."""
                body = self.ledger.bodies[rid]
                t0 = time.monotonic()
                try:
                    async with session.post(
                        self.url + "/v1/reports", data=body, headers={"Content-Type": "application/json"}
                    ) as answer:
                        text = await answer.read()
                        status, retry_after = answer.status, answer.headers.get("Retry-After")
                except (TimeoutError, aiohttp.ClientError, OSError):
                    with self.ledger.lock:
                        self.ledger.no_answer += 1
                    if self.retry:
                        await asyncio.sleep(0.05)
                    return not self.retry
                with self.ledger.lock:
                    self.ledger.statuses[status] += 1
                    self.ledger.latencies.append(time.monotonic() - t0)
                    if status in (200, 202):
                        self.ledger.acked.add(rid)
                    if status in (429, 503) and not retry_after:
                        self.ledger.shed_without_retry_after += 1
                    if 400 <= status < 500 and status not in (408, 429):
                        reason = json.loads(text).get("error", "") if text.startswith(b"{") else ""
                        self.ledger.refused[f"{status} {reason}".strip()] += 1
                        self.ledger.refused_ids.add(rid)
                if status in (429, 503) and self.retry:
                    wait = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
                    await asyncio.sleep(min(wait * self.retry_scale, 5.0) * random.uniform(0.5, 1.0))
                    return False
                return True

            async def worker() -> None:
                while not self.stop_event.is_set() and time.monotonic() < end and pending[0] > 0:
                    try:
                        rid = await asyncio.wait_for(queue.get(), 0.1)
                    except TimeoutError:
                        continue
                    if self.rate:
                        counter[0] += 1
                        due = started + counter[0] / self.rate
                        if due > time.monotonic():
                            await asyncio.sleep(due - time.monotonic())
                    if await one(rid):
                        pending[0] -= 1
                    else:
                        queue.put_nowait(rid)

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))


# --- sampling a process ------------------------------------------------------------------------------


class Sampler:
    """RSS and open file descriptors summed over processes (a collector's), and WAL size, every ``interval_s``."""

    def __init__(self, pids: list[int], wal: Path, interval_s: float = 0.2) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.wal = wal
        self.interval_s = interval_s
        self.samples: list[tuple[float, int, int, int]] = []  # (t, rss, fds, wal bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reliability-sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                rss = sum(p.memory_info().rss for p in self.processes)
                fds = sum(p.num_fds() for p in self.processes)
            except psutil.Error:
                return
            try:
                wal = self.wal.stat().st_size
            except FileNotFoundError:
                wal = 0
            self.samples.append((time.monotonic() - t0, rss, fds, wal))
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def peak(self, index: int, since: float = 0.0, until: float = float("inf")) -> int:
        values = [s[index] for s in self.samples if since <= s[0] <= until]
        return int(max(values)) if values else 0


MIB = 1 << 20


def poll(condition: Any, timeout_s: float, interval_s: float = 0.05) -> bool:
    """Wait for a condition with a deadline (never a bare sleep standing in for work)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return bool(condition())


def days_ago(n: float) -> float:
    return float(int(time.time()) // DAY * DAY - n * DAY)
