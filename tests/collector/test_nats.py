"""The NATS layout against real processes: a three-node JetStream cluster on loopback (replicas 3),
two stateless collectors, one loader owning DuckDB.

Every test ends like the single-machine fault tests: every report answered 2xx is stored
exactly once, nothing is stored that was not sent. Each test uses a stream of its own on one
cluster per module. The long fault form is marked slow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from optin.collector import _nats as nt
from optin.collector._cluster import Cluster, free_ports, server_binary
from optin.collector._config import load_config
from optin.collector._tombstones import tombstones_path
from optin.contract import Registry
from tests.collector.disks import fill, small_disk
from tests.collector.nats_cluster import METRICS, Layout, Senders, launch
from tests.helpers import (
    db_rows,
    make_report,
    monday_weeks_ago,
    past_report,
    post_answer,
    post_json,
    request,
    stop_process,
)

try:
    server_binary()
    HAVE_SERVER = True
except FileNotFoundError:
    HAVE_SERVER = False

pytestmark = pytest.mark.skipif(not HAVE_SERVER, reason="nats-server not installed (python3 tasks.py test installs it)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("nats"), 3) as running:
        yield running


@pytest.fixture
def layout(cluster: Cluster, tmp_path: Path) -> Iterator[Layout]:
    running = Layout(cluster, tmp_path)
    try:
        yield running
    finally:
        for index in range(len(cluster.nodes)):  # a test that killed a node leaves the cluster whole
            node = cluster.nodes[index]
            if node.proc is None or node.proc.poll() is not None:
                cluster.start_node(node)
        for c in [*running.collectors, running.loader]:
            if c is not None:
                c.stop(timeout_s=5)


def _wait_healthy(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, _, _ = request(url, "GET", "/healthz")
        if status == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} never healthy")


def _check_exactly_once(layout: Layout, senders: Senders) -> list[str]:
    stored = layout.stored()
    counts = Counter(stored)
    assert not [rid for rid, n in counts.items() if n > 1], "a report stored twice"
    assert set(stored) <= set(senders.bodies), "something stored that was not sent"
    assert senders.acked <= set(stored), f"{len(senders.acked - set(stored))} reports answered 2xx are missing"
    return stored


def test_two_collectors_one_loader_a_retry_on_the_other_collector_is_stored_once(
    layout: Layout, registry: Registry
) -> None:
    layout.start_loader()
    one, two = layout.start_collector(0), layout.start_collector(1)
    for running in (one, two, layout.loader):
        assert running is not None
        _wait_healthy(running.url)
    sent: set[str] = set()
    for i in range(40):
        doc = make_report(registry, METRICS)
        status, _ = post_json((one, two)[i % 2].url, doc)
        assert status == 202
        sent.add(doc["report_id"])
    # A lost response: the client sends the same report again, and this time it lands on the other collector.
    retried = make_report(registry, METRICS)
    assert post_json(one.url, retried)[0] == 202
    assert post_json(two.url, retried)[0] == 200  # JetStream's duplicate window: answered as a duplicate
    sent.add(retried["report_id"])
    # The client's own counters travel with the report, "discarded" too.
    counted = make_report(registry, METRICS, client={"dropped": 1, "evicted": 2, "rejected": 3, "discarded": 4})
    assert post_json(two.url, counted)[0] == 202
    sent.add(counted["report_id"])
    # A rejection is counted (through the stream) and not stored.
    bad = make_report(registry, {"no.such.metric": 1})
    assert post_json(one.url, bad)[0] == 422
    time.sleep(1.5)  # the collectors send their rejection counts about once a second
    one.stop()
    two.stop()
    assert layout.loader is not None and layout.loader.stop(timeout_s=120) == 0
    stored = layout.stored()
    assert sorted(stored) == sorted(sent), "every report once, the retried one too"
    assert layout.rejections() == {"undeclared_metric": 1}
    sql = "SELECT dropped, evicted, rejected, discarded FROM reports WHERE report_id = ?::UUID"
    assert db_rows(layout.db, sql, counted["report_id"]) == [(1, 2, 3, 4)]


def test_deletions_travel_the_stream_in_order_and_tombstones_hold(layout: Layout, registry: Registry) -> None:
    """As in the single-machine layout: what was acknowledged before a deletion is erased with it; what
    comes after is refused (410) by every collector or, taken in the moment before a collector saw the
    tombstone, dropped by the loader; each counted installation_deleted; across restarts of all of them."""
    layout.start_loader()
    one, two = layout.start_collector(0), layout.start_collector(1)
    for running in (one, two, layout.loader):
        assert running is not None
        _wait_healthy(running.url)
    erased, other = str(uuid.uuid4()), str(uuid.uuid4())
    before = [make_report(registry, METRICS, installation_id=erased) for _ in range(3)]
    for i, doc in enumerate(before):
        assert post_json((one, two)[i % 2].url, doc)[0] == 202
    kept = make_report(registry, METRICS, installation_id=other)
    assert post_json(two.url, kept)[0] == 202
    assert post_json(one.url, {"installation_id": erased}, path="/v1/deletions")[0] == 202  # confirmed
    # The collector that confirmed it refuses at once (a retry of an old report, a new one).
    for late in (before[0], make_report(registry, METRICS, installation_id=erased)):
        status, body = post_json(one.url, late)
        assert status == 410 and body["error"] == "installation_deleted", (status, body)
    # The other one has it from the bucket within milliseconds (a 202 here would be dropped by the loader).
    status, _ = post_json(two.url, make_report(registry, METRICS, installation_id=erased))
    assert status in (410, 202)
    # A report published right after the deletion by a collector that had not seen it yet: dropped by the loader.
    layout.publish_unchecked(registry, make_report(registry, METRICS, installation_id=erased))
    # kill -9 of the loader and of a collector: the loader's tombstones and the bucket survive.
    time.sleep(1.5)  # first the counts (a collector killed sooner takes the last second's rejection counts with it)
    assert layout.loader is not None
    layout.loader.stop(signal.SIGKILL)
    two.stop(signal.SIGKILL)
    layout.start_loader()
    two = layout.start_collector(1)
    _wait_healthy(two.url)
    status, body = post_json(two.url, make_report(registry, METRICS, installation_id=erased))
    assert status == 410 and body["error"] == "installation_deleted", (status, body)
    layout.publish_unchecked(registry, make_report(registry, METRICS, installation_id=erased))
    assert post_json(one.url, {"installation_id": erased}, path="/v1/deletions")[0] == 202  # idempotent
    time.sleep(1.5)  # the collectors send their rejection counts about once a second
    layout.stop()
    assert layout.stored() == [kept["report_id"]], "nothing of the deleted installation, the other report once"
    assert layout.rejections() == {"installation_deleted": 6}, "2 + 1 at the collectors or the loader + 1 + 2 dropped"
    assert tombstones_path(layout.db).read_text(encoding="ascii").splitlines() == [erased, erased]


TOKEN = "nats-test-token-abcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_the_loader_runs_releases_retention_snapshots_and_serves_the_database_endpoints(
    layout: Layout, registry: Registry, tmp_path: Path
) -> None:
    """The same periodic jobs and token-protected endpoints as the single-machine loader, on the loader's port."""
    (tmp_path / "token").write_text(TOKEN)
    lake = tmp_path / "lake"
    layout.start_loader("--token-file", str(tmp_path / "token"), "--snapshot-dir", str(lake))
    one, two = layout.start_collector(0), layout.start_collector(1)
    loader = layout.loader
    assert loader is not None
    for running in (one, two, loader):
        _wait_healthy(running.url)
    week = monday_weeks_ago(2)
    sent = 120  # 40 fell under k = 10 now and then at the feature table's noise (sd 18)
    for i in range(sent):
        doc = past_report(registry, METRICS, week + dt.timedelta(days=1))
        assert post_json((one, two)[i % 2].url, doc)[0] == 202
    # The collectors do not read the database: the loader answers.
    status, body = post_json(one.url, {}, path="/v1/releases")
    assert status == 404 and body["error"] == "served_by_loader"
    assert request(loader.url, "GET", "/v1/budget?app=millwright", b"", {"Authorization": "Bearer wrong"})[0] == 401
    status, _, answer = request(loader.url, "POST", "/v1/releases", b"", AUTH)
    assert status == 200 and json.loads(answer)["made"] > 0, answer
    status, _, answer = request(
        loader.url,
        "GET",
        f"/v1/aggregates/features?app=millwright&from={week}&to={week + dt.timedelta(days=6)}",
        b"",
        AUTH,
    )
    count, ci = {row[0]: row[1:3] for row in json.loads(answer)["rows"]}["toolpath.pocket"]
    assert status == 200 and abs(count - sent) <= 2 * ci  # one per installation, plus noise
    status, _, answer = request(loader.url, "GET", "/v1/budget?app=millwright", b"", AUTH)
    assert status == 200 and json.loads(answer)["weeks"]
    status, headers, page = request(loader.url, "GET", f"/dashboard?token={TOKEN}", b"")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"<svg" in page
    status, _, answer = request(loader.url, "POST", "/v1/snapshots", b"", AUTH)
    assert status == 200 and json.loads(answer)["reports"] == sent
    lake_reports = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{lake}/reports/*/*.parquet')")
    assert lake_reports.fetchone() == (sent,)
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{lake}/releases.parquet'").fetchone() != (0,)
    layout.stop()
    # The maintenance schedule (releases, retention, snapshot) runs at the loader's start and then every interval.
    for name in ("releases", "retention", "snapshot"):
        assert f'"event":"{name}"' in "".join(p.read_text() for p in tmp_path.glob("loader-*.log")), name


def test_a_retry_after_the_duplicate_window_is_still_stored_once(
    cluster: Cluster, tmp_path: Path, registry: Registry
) -> None:
    """JetStream forgets a message id after its window; the loader's check by report id does not."""
    layout = Layout(cluster, tmp_path, flags=("--nats-max-bytes", str(64 << 20), "--nats-duplicate-window-s", "1"))
    try:
        one, two = layout.start_collector(0), layout.start_collector(1)
        for running in (one, two):
            _wait_healthy(running.url)
        doc = make_report(registry, METRICS)
        assert post_json(one.url, doc)[0] == 202
        time.sleep(2.5)  # past the window: the stream takes the copy
        assert post_json(two.url, doc)[0] == 202
        layout.start_loader()
    finally:
        layout.stop()
    assert layout.stored() == [doc["report_id"]]


def test_stream_messages_carry_no_sender_metadata(layout: Layout, registry: Registry) -> None:
    """In the stream: the report's own fields, the report id and the table id; no request metadata."""
    collector = layout.start_collector(0)
    _wait_healthy(collector.url)
    doc = make_report(registry, METRICS)
    body = json.dumps(doc).encode()
    status, _, _ = request(
        collector.url,
        "POST",
        "/v1/reports",
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": "Millwright/9.9 (ws-7731.corp)",
            "X-Forwarded-For": "10.66.77.88",
        },
    )
    assert status == 202

    async def read_all() -> list[tuple[dict[str, str], bytes]]:
        import nats

        nc = await nats.connect(layout.cluster.urls.split(","))
        try:
            js = nc.jetstream()
            info = await js.stream_info(layout.stream)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(layout.stream, seq)
                out.append((dict(msg.headers or {}), msg.data or b""))
            return out
        finally:
            await nc.close()

    messages = asyncio.run(read_all())
    reports = [(h, d) for h, d in messages if d[:1] == b"R"]
    assert len(reports) == 1
    headers, data = reports[0]
    assert set(headers) == {"Nats-Msg-Id", "Optin-Table"} and headers["Nats-Msg-Id"] == doc["report_id"]
    everything = b"".join(d + json.dumps(h).encode() for h, d in messages)
    for secret in (b"127.0.0.1", b"10.66.77.88", b"Millwright/9.9", b"ws-7731", b"python", b"localhost"):
        assert secret not in everything


def _assert_refused(url: str, registry: Registry, code: str) -> None:
    """A report is answered 503 with Retry-After and the reason ``code``."""
    status, headers, answer = post_answer(url, make_report(registry))
    assert status == 503 and headers["retry-after"] and answer["error"] == code, (status, answer)


def test_unreachable_stream_and_full_stream_answer_503_with_retry_after(
    cluster: Cluster, tmp_path: Path, registry: Registry
) -> None:
    (nowhere,) = free_ports(1)
    down = launch(
        ["--journal", f"nats://127.0.0.1:{nowhere}", "--workers", "1", "--nats-publish-timeout-s", "1"],
        tmp_path / "a" / "x.duckdb",
        tmp_path / "a.log",
    )
    try:
        assert request(down.url, "GET", "/healthz")[0] == 503
        _assert_refused(down.url, registry, "stream_unreachable")
    finally:
        down.stop()
    # A stream that holds at most a few reports: full until the loader has taken them.
    small = Layout(cluster, tmp_path / "small", flags=("--nats-max-bytes", "3000"))
    collector = small.start_collector(0)
    try:
        _wait_healthy(collector.url)
        answers = [post_json(collector.url, make_report(registry, METRICS))[0] for _ in range(12)]
        assert 202 in answers and answers[-1] == 503, answers
        _assert_refused(collector.url, registry, "stream_full")
        small.start_loader()
        deadline = time.monotonic() + 60
        while post_json(collector.url, make_report(registry, METRICS))[0] != 202:
            assert time.monotonic() < deadline, "the stream never had room again"
            time.sleep(0.2)
    finally:
        small.stop()
    assert len(small.stored()) == answers.count(202) + 1


def test_a_full_disk_under_the_loader_fills_the_stream_and_is_answered_503_never_a_lost_202(
    cluster: Cluster, tmp_path: Path, registry: Registry
) -> None:
    """The loader cannot commit: nothing is acknowledged, the stream keeps what it has, and once the
    stream is full the collectors answer 503 stream_full with Retry-After; with room again, all is loaded."""
    with small_disk(tmp_path / "small", 48) as disk:
        layout = Layout(cluster, tmp_path, flags=("--nats-max-bytes", str(48 << 10)), db_folder=disk / "db")
        try:
            layout.start_loader("--min-free-bytes", str(1 << 20))
            collector = layout.start_collector(0)
            assert layout.loader is not None
            for running in (collector, layout.loader):
                _wait_healthy(running.url)
            first = make_report(registry, METRICS)
            assert post_json(collector.url, first)[0] == 202
            acked = {first["report_id"]}
            fill(disk / "filler")
            status, _, body = request(layout.loader.url, "GET", "/healthz")
            assert status == 503 and json.loads(body)["reason"] == "disk_full", body
            answers: list[int] = []
            for _ in range(1000):  # bounded: the stream holds about two hundred of these reports
                doc = make_report(registry, METRICS)
                status, _ = post_json(collector.url, doc)
                answers.append(status)
                if status == 202:
                    acked.add(doc["report_id"])
                elif status == 503:
                    break
            assert set(answers) <= {202, 503} and answers[-1] == 503, Counter(answers)
            _assert_refused(collector.url, registry, "stream_full")
            deadline = time.monotonic() + 30  # the loader's next round (load_interval_ms) fails to commit
            while '"event":"disk_full"' not in (
                loader_log := "".join(p.read_text() for p in tmp_path.glob("loader-*.log"))
            ):
                assert time.monotonic() < deadline, "the loader never logged the full disk"
                time.sleep(0.2)
            assert str(disk) not in loader_log
            (disk / "filler").unlink()  # room again: the loader commits, the stream empties, reports are taken
            deadline = time.monotonic() + 60
            while True:
                doc = make_report(registry, METRICS)
                if post_json(collector.url, doc)[0] == 202:
                    acked.add(doc["report_id"])
                    break
                assert time.monotonic() < deadline, "the stream never had room again"
                time.sleep(0.2)
        finally:
            layout.stop()
        stored = layout.stored()
        assert len(stored) == len(set(stored)) and set(stored) == acked, "every 202 stored once, nothing else"


def _ingest_with_kills(layout: Layout, registry: Registry, rounds: int, seconds: float) -> None:
    """kill -9 of a JetStream node, of a collector, of the loader, then of all three together, ``rounds`` times."""
    layout.start_loader()
    for index in (0, 1):
        _wait_healthy(layout.start_collector(index).url)
    with Senders(layout, registry) as senders:
        for round_ in range(rounds):
            for victim in ("node", "collector", "loader", "together"):
                senders.allow(4000)  # the load while it is killed and restarted
                time.sleep(seconds)
                node = round_ % len(layout.cluster.nodes)
                if victim in ("node", "together"):
                    layout.cluster.kill(node)
                if victim in ("collector", "together"):
                    collector = layout.collectors[round_ % 2]
                    assert collector is not None
                    collector.stop(signal.SIGKILL)
                if victim in ("loader", "together"):
                    assert layout.loader is not None
                    layout.loader.stop(signal.SIGKILL)
                time.sleep(seconds)
                if victim in ("node", "together"):
                    layout.cluster.start_node(layout.cluster.nodes[node])
                if victim in ("collector", "together"):
                    layout.start_collector(round_ % 2)
                if victim in ("loader", "together"):
                    layout.start_loader()
                layout.cluster.wait_ready()
                _wait_for_progress(senders, victim)
    assert senders.acked, senders.answers
    senders.retry_unacked()
    layout.stop()
    stored = _check_exactly_once(layout, senders)
    assert set(stored) == set(senders.bodies), "after the retries, every report sent is stored"


def _wait_for_progress(senders: Senders, after: str, timeout_s: float = 60) -> None:
    """Ingest goes on after a restart: more reports are acknowledged within ``timeout_s``."""
    with senders.lock:
        before = len(senders.acked)
    senders.allow(100)  # reports to send after the restart, whatever the load before it used up
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with senders.lock:
            if len(senders.acked) > before + 10:
                return
        time.sleep(0.05)
    raise AssertionError(f"no ingest after the {after} kill: {senders.answers}")


def test_kill_node_collector_loader_during_ingest(layout: Layout, registry: Registry) -> None:
    _ingest_with_kills(layout, registry, rounds=1, seconds=1.0)


@pytest.mark.slow
def test_kill_node_collector_loader_during_ingest_long(layout: Layout, registry: Registry) -> None:
    _ingest_with_kills(layout, registry, rounds=3, seconds=3.0)


def test_cluster_command_starts_and_stops_everything_on_loopback(tmp_path: Path, registry: Registry) -> None:
    """`optin-collector cluster --nodes 3 --workers 2`: nodes, collectors and loader up; SIGTERM stops all, loaded."""
    (port,) = free_ports(1)
    folder = tmp_path / "cluster"
    with open(tmp_path / "cluster.log", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "optin.collector", "cluster", "--nodes", "3", "--workers", "2"]
            + ["--port", str(port), "--dir", str(folder)],
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if request(url, "GET", "/healthz", timeout_s=2)[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "cluster.log").read_text()[-3000:]
            time.sleep(0.2)
        sent = [make_report(registry, METRICS) for _ in range(10)]
        assert [post_json(url, doc)[0] for doc in sent] == [202] * 10
    finally:
        assert stop_process(proc, signal.SIGTERM, timeout_s=120) == 0, (tmp_path / "cluster.log").read_text()[-3000:]
    node_processes = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout.split()
    assert node_processes == [], "a nats-server of the cluster outlived the command"
    stored = {row[0] for row in db_rows(folder / "optin.duckdb", "SELECT CAST(report_id AS VARCHAR) FROM reports")}
    assert stored == {doc["report_id"] for doc in sent}


def test_nats_settings_are_checked_before_anything_starts() -> None:
    assert load_config(environ={}, journal="nats://127.0.0.1:4222,nats://127.0.0.1:4223").uses_nats()
    assert not load_config(environ={}).uses_nats()  # the file journal stays the default
    with pytest.raises(ValueError, match="journal"):
        load_config(environ={}, journal="http://127.0.0.1:4222")
    with pytest.raises(ValueError, match="nats_stream"):
        load_config(environ={}, nats_stream="optin.reports")  # a dot would split the stream's subjects
    result = subprocess.run(
        [sys.executable, "-m", "optin.collector", "loader", "--db", "x.duckdb"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "--journal nats://" in result.stderr


def test_rejection_count_records_round_trip() -> None:
    counts = {"2026-11-29": {"undeclared_metric": 3, "bad_gzip": 1}, "2026-11-30": {"too_large": 2}}
    payload = nt.encode_counts(counts)
    assert payload[:1] == nt.COUNTS and nt.decode_counts(payload) == counts
