"""A confirmed deletion is never undone: reports of a deleted installation id are refused and not stored."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import duckdb

from optin.collector._tombstones import Tombstones, tombstones_path
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
