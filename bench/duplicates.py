"""python bench/duplicates.py: a retry storm of copies of stored reports, against new reports, in one run.

Stores `--stored` reports through `python -m optin.collector` (default settings), restarts the
collector (no worker remembers an id any more, so every copy is a "maybe" of the loader's
filter that the loader must look up), then sends, from `--senders` concurrent connections,
`--copies` new reports, the same number of copies of stored reports, and those copies again.
It prints each rate, the collector's CPU per request (every process and thread, from /proc),
the ratios of the copies to the new reports, and how many database lookups answered the
workers' questions (`/metrics`). Load goes to 127.0.0.1 only and is bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.collector import cpu_seconds_tree, make_doc, metrics, start, stop  # noqa: E402
from optin.contract import bundled_registry  # noqa: E402


async def _send(port: int, bodies: list[bytes], senders: int) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    slots = asyncio.Semaphore(senders)
    url = f"http://127.0.0.1:{port}/v1/reports"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=senders)) as session:

        async def one(body: bytes) -> None:
            async with slots, session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one(body) for body in bodies))
        return time.perf_counter() - started, statuses


def _run(pid: int, port: int, bodies: list[bytes], senders: int) -> tuple[float, float, dict[int, int]]:
    """Requests per second, collector CPU µs per request, answers by status."""
    cpu = cpu_seconds_tree(pid)
    took, statuses = asyncio.run(_send(port, bodies, senders))
    return len(bodies) / took, (cpu_seconds_tree(pid) - cpu) / len(bodies) * 1e6, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=60000, help="reports stored before the restart")
    parser.add_argument("--copies", type=int, default=5000, help="new reports, and copies of stored ones, sent")
    parser.add_argument("--senders", type=int, default=64, help="concurrent connections")
    args = parser.parse_args()
    registry = bundled_registry("millwright")
    rng = random.Random(3)
    installations = [str(uuid.uuid4()) for _ in range(2000)]

    def body() -> bytes:
        doc = make_doc(registry, rng, str(uuid.uuid4()), rng.choice(installations))
        return json.dumps(doc).encode()

    stored = [body() for _ in range(args.stored)]
    fresh = [body() for _ in range(args.copies)]
    copies = stored[: args.copies]
    folder = Path(tempfile.mkdtemp(prefix="optin-duplicates-"))
    command = [sys.executable, "-m", "optin.collector", "--db", str(folder / "optin.duckdb")]
    command += ["--host", "127.0.0.1", "--port", "0"]
    try:
        proc, port = start(command, folder / "first.log")
        try:
            _, _, statuses = _run(proc.pid, port, stored, args.senders)
        finally:
            stop(proc)
        if statuses != {202: len(stored)}:
            raise SystemExit(f"storing: {statuses}")
        proc, port = start(command, folder / "again.log")
        try:
            rows = [
                ("new reports", *_run(proc.pid, port, fresh, args.senders)),
                ("copies of stored reports", *_run(proc.pid, port, copies, args.senders)),
                ("the same copies again", *_run(proc.pid, port, copies, args.senders)),
            ]
            seen = metrics(port)
        finally:
            stop(proc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"retry storm: {args.stored:,} reports stored, the collector restarted, {args.senders} senders;"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'what':<28}{'requests/s':>12}{'CPU/request':>14}{'vs new':>9}  answers")
    for name, rate, cpu, answers in rows:
        print(f"{name:<28}{rate:>12,.0f}{cpu:>11,.0f} us{rate / rows[0][1]:>8.2f}x  {answers}")
    print(
        f"the workers asked the loader {seen.get('optin_stored_questions_total', 0):,.0f} times;"
        f" {seen.get('optin_stored_lookups_total', 0):,.0f} database lookups answered them"
    )
    if rows[1][3] != {200: len(copies)} or rows[2][3] != {200: len(copies)}:
        raise SystemExit("FAILED: every copy of a stored report must be answered 200")


if __name__ == "__main__":
    main()
