"""Real processes for the NATS layout: a three-node JetStream cluster, stateless collectors, one loader, senders."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optin.collector import _nats as nt, _records as rec
from optin.collector._cluster import Cluster
from optin.collector._config import load_config
from optin.contract import Registry, ReportChecker
from tests.helpers import CollectorProcess, db_rows, make_report, start_collector

METRICS = {"toolpath.pocket": 3, "file.import": {"step": 2}, "system.os_family": "windows", "ui.theme": "dark"}


def launch(command: list[str], db: Path, log: Path, timeout_s: float = 60) -> CollectorProcess:
    """`python -m optin.collector [loader] ...`, waited on until ready; each life logs to a file of its own."""
    log.parent.mkdir(parents=True, exist_ok=True)
    life = 1 + sum(1 for _ in log.parent.glob(f"{log.stem}*.log"))
    subcommand = command[0] if command[:1] == ["loader"] else ""
    flags = command[1:] if subcommand else command
    return start_collector(
        db, log.with_name(f"{log.stem}-{life}.log"), *flags, timeout_s=timeout_s, subcommand=subcommand
    )


@dataclass
class Layout:
    """Two collectors and one loader on one stream of ``cluster``; each piece can be killed and started again."""

    cluster: Cluster
    tmp: Path
    stream: str = field(default_factory=lambda: "T" + uuid.uuid4().hex[:10])
    flags: tuple[str, ...] = ("--nats-max-bytes", str(64 << 20))  # JetStream reserves it on every node
    collectors: list[CollectorProcess | None] = field(default_factory=lambda: [None, None])
    loader: CollectorProcess | None = None
    db_folder: Path | None = None  # where the loader's database lives (default: <tmp>/db)

    @property
    def db(self) -> Path:
        return (self.db_folder or self.tmp / "db") / "optin.duckdb"

    def common(self) -> list[str]:
        return ["--journal", self.cluster.urls, "--nats-stream", self.stream, "--nats-replicas", "3", *self.flags]

    def start_collector(self, index: int) -> CollectorProcess:
        running = launch(
            [*self.common(), "--workers", "1"], self.tmp / f"c{index}" / "unused.duckdb", self.tmp / f"c{index}.log"
        )
        self.collectors[index] = running
        return running

    def start_loader(self, *extra: str) -> CollectorProcess:
        self.loader = launch(["loader", *self.common(), *extra], self.db, self.tmp / "loader.log")
        return self.loader

    def urls(self) -> list[str]:
        return [c.url for c in self.collectors if c is not None and c.proc.poll() is None]

    def stop(self) -> None:
        """Collectors first, then the loader, which loads everything the stream holds before it exits."""
        for running in self.collectors:
            if running is not None:
                running.stop()
        if self.loader is not None:
            assert self.loader.stop(timeout_s=120) == 0, self.loader.log.read_text()[-3000:]

    def stored(self) -> list[str]:
        return [row[0] for row in db_rows(self.db, "SELECT CAST(report_id AS VARCHAR) FROM reports")]

    def rejections(self) -> dict[str, int]:
        rows = db_rows(self.db, "SELECT reason, CAST(sum(count) AS BIGINT) FROM rejections GROUP BY reason")
        return {str(reason): int(count) for reason, count in rows}

    def publish_unchecked(self, registry: Registry, doc: dict[str, Any]) -> None:
        """Publish ``doc`` to the stream as a collector does, without its tombstone check.

        What a collector sends in the moment before it has seen another collector's tombstone.
        """
        config = load_config(environ={}, journal=self.cluster.urls, nats_stream=self.stream)
        checker = ReportChecker({(registry.app, registry.version): registry})
        report = checker.check(json.dumps(doc).encode(), int(time.time()))
        table_id = nt.table_id(rec.encode_metrics(checker.metric_names, {(registry.app, registry.version): registry}))

        async def publish() -> None:
            nc = await nt.connect(config, "test")
            try:
                headers = {nt.MSG_ID_HEADER: report.report_id, nt.TABLE_HEADER: table_id}
                js = nc.jetstream()
                await js.publish(
                    nt.subject(config, "report"), rec.encode_report(report, int(time.time())), headers=headers
                )
            finally:
                await nc.close()

        asyncio.run(publish())


class Senders:
    """Threads that post report after report to whichever collectors are up, and remember every answer.

    They send only as many reports as `allow` granted, so a run is bounded however fast the machine,
    and a test that waits for ingest to go on grants that many first (it never waits on spent senders).
    """

    def __init__(self, layout: Layout, registry: Registry, threads: int = 4) -> None:
        self.layout, self.registry = layout, registry
        self._quota = 0  # reports the threads may still send: bounded, and topped up by `allow`
        self.lock = threading.Lock()
        self.bodies: dict[str, bytes] = {}
        self.acked: set[str] = set()
        self.answers: dict[int, int] = {}
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Senders:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(60)

    def allow(self, reports: int) -> None:
        with self.lock:
            self._quota += reports

    def _take(self) -> bool:
        with self.lock:
            if self._quota <= 0:
                return False
            self._quota -= 1
            return True

    def _run(self, index: int) -> None:
        count = 0
        while not self.stop_event.is_set():
            urls = self.layout.urls()
            if not urls or not self._take():
                time.sleep(0.05)
                continue
            doc = make_report(self.registry, METRICS)
            body = json.dumps(doc).encode()
            with self.lock:
                self.bodies[doc["report_id"]] = body
            self.post(urls[(index + count) % len(urls)], doc["report_id"], body)
            count += 1

    def post(self, url: str, report_id: str, body: bytes) -> int:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=15)
        try:
            conn.request("POST", "/v1/reports", body=body, headers={"Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            status = answer.status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            conn.close()
        with self.lock:
            self.answers[status] = self.answers.get(status, 0) + 1
            if status in (200, 202):
                self.acked.add(report_id)
        if status not in (0, 200, 202, 503):
            raise AssertionError(f"unexpected answer {status}")
        return status

    def retry_unacked(self, rounds: int = 40) -> None:
        """As a client would: every report without a 2xx is sent again (to any collector) until one comes."""
        for _ in range(rounds):
            with self.lock:
                todo = [(rid, body) for rid, body in self.bodies.items() if rid not in self.acked]
            if not todo:
                return
            for i, (report_id, body) in enumerate(todo):
                urls = self.layout.urls()
                self.post(urls[i % len(urls)], report_id, body)
            time.sleep(0.2)
        raise AssertionError(f"reports never acknowledged: {len(todo)}")
