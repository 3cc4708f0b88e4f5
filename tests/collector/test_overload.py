"""Overload: more than the collector will hold is shed with 429/503 and Retry-After; memory stays bounded."""

from __future__ import annotations

import concurrent.futures
import json
import re
from pathlib import Path

import duckdb

from optin.contract import Registry
from tests.helpers import make_report, request, start_collector

PAD_BYTES = 256 * 1024  # JSON whitespace: each body is large, so holding many of them would show


def _peak_rss_mib(pid: int) -> float:
    return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024  # type: ignore[union-attr]


def test_a_flood_is_shed_with_retry_after_memory_stays_bounded_and_every_202_is_stored(
    tmp_path: Path, registry: Registry
) -> None:
    running = start_collector(
        tmp_path / "db" / "optin.duckdb",
        tmp_path / "log",
        "--max-requests-in-flight",
        "16",
        "--max-pending-reports",
        "16",
        "--batch-max-reports",
        "8",
        "--batch-max-wait-ms",
        "20",
    )
    docs = [make_report(registry) for _ in range(400)]
    bodies = [json.dumps(doc).encode()[:-1] + b" " * PAD_BYTES + b"}" for doc in docs]
    try:
        baseline = _peak_rss_mib(running.proc.pid)
        with concurrent.futures.ThreadPoolExecutor(96) as pool:
            answers = list(
                pool.map(
                    lambda body: request(
                        running.url, "POST", "/v1/reports", body, {"Content-Type": "application/json"}
                    ),
                    bodies,
                )
            )
        grown = _peak_rss_mib(running.proc.pid) - baseline
    finally:
        assert running.stop() == 0
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {202, 429, 503} and statuses.count(202) > 0
    shed = [headers for status, headers, _ in answers if status in (429, 503)]
    assert shed and all(int(h["retry-after"]) > 0 for h in shed)
    # 96 bodies of 256 KiB arrive at once (24 MiB on the wire); the collector reads at most 16 and
    # queues at most 16 parsed reports, so its peak memory grows by far less than what was sent (100 MiB).
    print(f"peak memory grew by {grown:.0f} MiB; answers {sorted(set(statuses))}, 202: {statuses.count(202)}")
    assert grown < 64, f"peak memory grew by {grown:.0f} MiB"
    con = duckdb.connect(str(running.db), read_only=True)
    try:
        stored = {row[0] for row in con.execute("SELECT CAST(report_id AS VARCHAR) FROM reports").fetchall()}
    finally:
        con.close()
    assert stored == {doc["report_id"] for doc, status in zip(docs, statuses, strict=False) if status == 202}
