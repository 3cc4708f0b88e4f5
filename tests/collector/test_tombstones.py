"""A confirmed deletion is never undone: reports of a deleted installation id are refused and not stored."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb

from optin.collector._tombstones import Tombstones, generation_path, tombstones_path
from optin.contract import Registry
from tests.helpers import CollectorProcess, make_report, post_json, request, start_collector


def _rejected(collector: CollectorProcess, reason: str) -> int:
    _, _, body = request(collector.url, "GET", "/metrics")
    prefix = f'optin_requests_rejected_total{{reason="{reason}"}} '
    return sum(int(line.removeprefix(prefix)) for line in body.decode().splitlines() if line.startswith(prefix))


def _rows(db: Path, installation_id: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT count(*) FROM reports r JOIN installations i USING (inst_key) WHERE i.installation_id = ?",
            [installation_id],
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_report_of_an_installation_whose_deletion_was_confirmed_is_refused_and_not_stored(
    tmp_path: Path, registry: Registry
) -> None:
    db = tmp_path / "db" / "optin.duckdb"
    erased, other = str(uuid.uuid4()), str(uuid.uuid4())
    before = make_report(registry, installation_id=erased)
    collector = start_collector(db, tmp_path / "collector-1.log")
    try:
        assert post_json(collector.url, before)[0] == 202
        assert post_json(collector.url, {"installation_id": erased}, "/v1/deletions")[0] == 202  # confirmed

        # A retry of a report sent before the deletion, and a new one built by a client that kept it queued.
        for late in (before, make_report(registry, installation_id=erased)):
            status, body = post_json(collector.url, late, gzipped=True)
            assert status == 410 and body["error"] == "installation_deleted" and body["path"] == "installation_id"
        assert post_json(collector.url, make_report(registry, installation_id=other))[0] == 202  # others unaffected
        assert post_json(collector.url, {"installation_id": erased}, "/v1/deletions")[0] == 202  # idempotent
        assert _rejected(collector, "installation_deleted") == 2
    finally:
        assert collector.stop() == 0

    # The tombstone survives a restart.
    collector = start_collector(db, tmp_path / "collector-2.log")
    try:
        status, body = post_json(collector.url, make_report(registry, installation_id=erased))
        assert status == 410 and body["error"] == "installation_deleted"
    finally:
        assert collector.stop() == 0
    assert _rows(db, erased) == 0 and _rows(db, other) == 1

    # It holds the id only: one canonical UUID per line, nothing else; the file is private.
    path = tombstones_path(db)
    assert path.read_text(encoding="ascii").splitlines() == [erased, erased]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_tombstones_added_by_one_process_are_seen_by_another_and_torn_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "optin.duckdb.tombstones"
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    writer, reader = Tombstones(path), Tombstones(path)
    writer.load()
    reader.load()
    writer.add(first)
    assert writer.contains(first) and not reader.contains(first)
    reader.refresh()  # what another process appended since this one loaded
    assert reader.contains(first) and not reader.contains(second)
    with open(path, "ab") as file:
        file.write(second[:20].encode())  # a line torn by a power loss
    later = Tombstones(path)
    later.load()  # completes the torn line, so the next one starts afresh
    later.add(third)
    fresh = Tombstones(path)
    fresh.load()
    assert fresh.contains(first) and fresh.contains(third) and not fresh.contains(second) and len(fresh) == 2


def test_a_deletion_confirmed_by_one_worker_is_refused_at_once_by_every_other(
    tmp_path: Path, registry: Registry
) -> None:
    """Four workers share the port; right after the 202 of a deletion, reports on new connections reach all of them."""
    db = tmp_path / "db" / "optin.duckdb"
    erased = str(uuid.uuid4())
    env = {**os.environ, "OPTIN_COLLECTOR_WORKERS": "4"}
    collector = start_collector(db, tmp_path / "collector.log", env=env)
    try:
        assert post_json(collector.url, make_report(registry, installation_id=erased))[0] == 202
        assert post_json(collector.url, {"installation_id": erased}, "/v1/deletions")[0] == 202
        # Each request is a new connection: the kernel spreads them over the workers (all 16 at the
        # worker that confirmed the deletion: one chance in 4**15).
        answers = [post_json(collector.url, make_report(registry, installation_id=erased)) for _ in range(16)]
        assert [(status, body["error"]) for status, body in answers] == [(410, "installation_deleted")] * 16
        assert _rejected(collector, "installation_deleted") == 16
    finally:
        assert collector.stop() == 0
    assert _rows(db, erased) == 0
    counter = generation_path(tombstones_path(db))
    assert counter.stat().st_size == 8 and stat.S_IMODE(os.stat(counter).st_mode) == 0o600
    assert int.from_bytes(counter.read_bytes(), "little") == 1  # one add() counted; nothing else is in it


_ADD_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from optin.collector._tombstones import Tombstones
tombstones = Tombstones(Path(sys.argv[1]))
tombstones.load()
for installation_id in sys.argv[2:]:
    tombstones.add(installation_id)
"""


def test_refresh_reads_the_file_when_another_process_counted_an_add_and_sync_reads_any_append(
    tmp_path: Path,
) -> None:
    path = tmp_path / "optin.duckdb.tombstones"
    reader = Tombstones(path)
    reader.load()
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    subprocess.run([sys.executable, "-c", _ADD_IN_ANOTHER_PROCESS, str(path), first, second], check=True)
    assert not reader.contains(first)
    reader.refresh()  # the other process's adds moved the shared counter: the file is read
    assert reader.contains(first) and reader.contains(second) and len(reader) == 2

    # A line appended without add() (say, by a collector of an older version) moves no counter:
    # sync() finds it by the file's size (the workers' heartbeat calls it; refresh() once a second).
    with open(path, "ab") as file:
        file.write(third.encode() + b"\n")
    reader.sync()
    assert reader.contains(third) and len(reader) == 3
