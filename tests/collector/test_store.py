"""The store and the collector's behaviours on a real server: idempotency under concurrency,
backpressure, deletion, retention, live aggregates, snapshots, configuration."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import random
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from optin.collector import CollectorThread, Config, load_config
from optin.contract import SNAPSHOT_PARTITIONED, SNAPSHOT_TABLES, Registry
from tests.helpers import (
    db_rows,
    make_report,
    monday_weeks_ago,
    past_report,
    post_answer,
    post_json,
    random_metrics,
    request,
    self_signed_cert,
)

TOKEN = "store-test-token-abcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_concurrent_copies_of_a_report_are_stored_once_and_answered_202_then_200(
    collector_thread: CollectorThread, registry: Registry
) -> None:
    reports = [json.dumps(make_report(registry)).encode() for _ in range(20)]
    jobs = [body for body in reports for _ in range(8)]  # 8 copies of each, all at once
    random.Random(3).shuffle(jobs)
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        statuses = list(
            pool.map(
                lambda body: request(
                    collector_thread.url, "POST", "/v1/reports", body, {"Content-Type": "application/json"}
                )[0],
                jobs,
            )
        )
    assert statuses.count(202) == 20 and statuses.count(200) == 140
    collector_thread.stop()
    rows = db_rows(collector_thread.config.db, "SELECT count(*), count(DISTINCT report_id) FROM reports")
    assert rows == [(20, 20)]


def test_a_full_write_queue_sheds_with_503_and_retry_after_and_every_202_is_stored(
    tmp_path: Path, registry: Registry
) -> None:
    # A queue of 4 and slow-to-fill batches: concurrent senders overflow it.
    config = Config(
        db=tmp_path / "db" / "o.duckdb",
        port=0,
        max_pending_reports=4,
        batch_max_reports=2,
        batch_max_wait_ms=50,
        retry_after_s=7,
    )
    docs = [make_report(registry) for _ in range(120)]
    with CollectorThread(config) as running:
        with concurrent.futures.ThreadPoolExecutor(48) as pool:
            answers = list(
                pool.map(
                    lambda doc: request(
                        running.url,
                        "POST",
                        "/v1/reports",
                        json.dumps(doc).encode(),
                        {"Content-Type": "application/json"},
                    ),
                    docs,
                )
            )
        _, _, metrics = request(running.url, "GET", "/metrics")
    shed = [headers for status, headers, _ in answers if status == 503]
    assert shed, "expected some 503s"
    assert all(h["retry-after"] == "7" for h in shed)
    accepted = {doc["report_id"] for doc, (status, _, _) in zip(docs, answers, strict=False) if status == 202}
    assert {status for status, _, _ in answers} <= {202, 503}
    stored = {row[0] for row in db_rows(config.db, "SELECT CAST(report_id AS VARCHAR) FROM reports")}
    assert stored == accepted
    assert f'optin_requests_rejected_total{{reason="unavailable"}} {len(shed)}'.encode() in metrics


def test_too_many_requests_in_flight_are_answered_429_with_retry_after(tmp_path: Path, registry: Registry) -> None:
    config = Config(db=tmp_path / "db" / "o.duckdb", port=0, max_requests_in_flight=1, retry_after_s=3)
    with CollectorThread(config) as running:
        import socket

        # One request whose body never finishes holds the only slot.
        slow = socket.create_connection(("127.0.0.1", running.port))
        slow.sendall(
            b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        deadline = time.monotonic() + 10
        status, headers = 0, dict[str, str]()
        while time.monotonic() < deadline:
            status, headers, _ = post_answer(running.url, make_report(registry))
            if status == 429:
                break
        slow.close()
    assert status == 429 and headers["retry-after"] == "3"


def test_deletion_removes_every_row_of_an_installation_and_is_idempotent(
    collector_thread: CollectorThread, registry: Registry
) -> None:
    gone, kept = str(uuid.uuid4()), str(uuid.uuid4())
    for installation in (gone, gone, gone, kept):
        assert post_json(collector_thread.url, make_report(registry, installation_id=installation))[0] == 202
    for _ in range(2):
        assert post_json(collector_thread.url, {"installation_id": gone}, path="/v1/deletions") == (
            202,
            {"status": "deleted"},
        )
    assert (
        post_json(collector_thread.url, {"installation_id": str(uuid.uuid4())}, path="/v1/deletions")[0] == 202
    )  # never seen
    collector_thread.stop()
    db = collector_thread.config.db
    assert db_rows(db, "SELECT CAST(installation_id AS VARCHAR) FROM installations") == [(kept,)]
    assert db_rows(db, "SELECT count(*) FROM reports") == [(1,)]
    assert db_rows(
        db, "SELECT count(*) FROM report_values v LEFT JOIN reports r USING (report_key) WHERE r.report_key IS NULL"
    ) == [(0,)]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_retention_rolls_old_raw_rows_up_into_daily_aggregates_and_deletes_them(
    tmp_path: Path, registry: Registry
) -> None:
    clock = Clock(time.time())
    config = Config(db=tmp_path / "db" / "o.duckdb", port=0, retention_days=30, maintenance_interval_s=3600)
    old_installs = [str(uuid.uuid4()) for _ in range(3)]
    with CollectorThread(config, clock) as running:
        for installation in old_installs:  # received 40 days ago (by the collector's clock)
            clock.now = time.time() - 40 * 86400
            doc = make_report(
                registry, {"toolpath.pocket": 5, "file.import": {"step": 2}}, installation_id=installation
            )
            shift = 40 * 86400
            doc["period"] = {"start": doc["period"]["start"] - shift, "end": doc["period"]["end"] - shift}
            doc["sent_at"] -= shift
            assert post_json(running.url, doc)[0] == 202
        clock.now = time.time()
        recent = make_report(registry, {"toolpath.pocket": 1})
        assert post_json(running.url, recent)[0] == 202
        result = running.maintain()
        assert result.reports_rolled_up == 3
        assert running.maintain().reports_rolled_up == 0  # nothing left to roll up
    db = config.db
    assert db_rows(db, "SELECT CAST(report_id AS VARCHAR) FROM reports") == [(recent["report_id"],)]
    assert db_rows(db, "SELECT count(*) FROM installations") == [(1,)]  # the old installations' UUIDs are gone
    rollup = db_rows(
        db,
        "SELECT m.name, r.label_key, r.installations, r.total FROM daily_rollup r JOIN metrics m USING (metric_key) ORDER BY 1",
    )
    assert rollup == [("file.import", 1, 3, 6), ("toolpath.pocket", 0, 3, 15)]


def test_retention_and_snapshots_run_on_the_schedule_inside_the_collector(tmp_path: Path, registry: Registry) -> None:
    snapshots = tmp_path / "snapshots"
    config = Config(db=tmp_path / "db" / "o.duckdb", port=0, snapshot_dir=snapshots, maintenance_interval_s=0.05)
    with CollectorThread(config) as running:
        doc = make_report(registry)
        assert post_json(running.url, doc)[0] == 202
        deadline = time.monotonic() + 20
        found = 0
        while time.monotonic() < deadline and not found:  # poll: a later scheduled run must pick the report up
            try:
                row = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{snapshots}/reports/*/*.parquet')")
                found = int(row.fetchone()[0])  # type: ignore[index]
            except duckdb.Error:
                found = 0
        assert found == 1


def test_a_snapshot_is_parquet_partitioned_by_day_without_installation_ids(tmp_path: Path, registry: Registry) -> None:
    snapshots = tmp_path / "out" / "snapshots"
    config = Config(
        db=tmp_path / "db" / "o.duckdb", port=0, snapshot_dir=snapshots, token=TOKEN, maintenance_interval_s=3600
    )
    docs = [make_report(registry) for _ in range(12)]
    with CollectorThread(config) as running:
        for doc in docs:
            assert post_json(running.url, doc)[0] == 202
        status, _, body = request(running.url, "POST", "/v1/snapshots", b"", AUTH)
        assert (status, json.loads(body)["reports"]) == (200, 12)
        assert sorted(p.name for p in snapshots.iterdir()) == sorted(
            t if t in SNAPSHOT_PARTITIONED else t + ".parquet" for t in SNAPSHOT_TABLES
        )
        for table in SNAPSHOT_PARTITIONED:
            assert all(p.name.startswith("day=") for p in (snapshots / table).iterdir())
        con = duckdb.connect()
        values = con.execute(
            f"SELECT count(*), count(DISTINCT day) FROM read_parquet('{snapshots}/report_values/*/*.parquet', hive_partitioning = true)"
        ).fetchone()
        live = _live_count(running)
        assert values == (live, 1)
        columns = {
            row[0]
            for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{snapshots}/reports/*/*.parquet')").fetchall()
        }
        assert "inst_key" in columns and not columns & {"installation_id", "report_id"}
        blob = b"".join(p.read_bytes() for p in snapshots.rglob("*.parquet"))
        assert not any(
            doc["installation_id"].encode() in blob or uuid.UUID(doc["installation_id"]).bytes in blob for doc in docs
        )
        # A second snapshot replaces the first whole; no staging folder is left behind.
        assert post_json(running.url, make_report(registry))[0] == 202
        assert request(running.url, "POST", "/v1/snapshots", b"", AUTH)[0] == 200
        assert con.execute(f"SELECT count(*) FROM read_parquet('{snapshots}/reports/*/*.parquet')").fetchone() == (13,)
        assert [p.name for p in snapshots.parent.iterdir()] == ["snapshots"]
    import pyarrow.parquet as pq  # another engine than DuckDB reads the same files

    reports = pq.read_table(snapshots / "reports", partitioning="hive")
    assert reports.num_rows == 13 and "day" in reports.column_names


def _live_count(running: CollectorThread) -> int:
    cursor = running.loader.reader()
    try:
        row = cursor.execute("SELECT count(*) FROM report_values").fetchone()
        return int(row[0]) if row else 0
    finally:
        cursor.close()


def test_the_snapshot_command_writes_from_a_stopped_collectors_database(tmp_path: Path, registry: Registry) -> None:
    config = Config(db=tmp_path / "db" / "o.duckdb", port=0)
    with CollectorThread(config) as running:
        for _ in range(3):
            assert post_json(running.url, make_report(registry))[0] == 202
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "optin.collector",
            "snapshot",
            "--db",
            str(config.db),
            "--snapshot-dir",
            str(tmp_path / "snap"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["reports"] == 3
    assert duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/snap/reports/*/*.parquet')"
    ).fetchone() == (3,)


def test_aggregates_answer_from_releases_with_the_token_and_are_off_without_one(
    tmp_path: Path, registry: Registry
) -> None:
    config = Config(db=tmp_path / "db" / "o.duckdb", port=0, token=TOKEN)
    week = monday_weeks_ago(2)
    with CollectorThread(config) as running:
        # 120 installations: a count of 40 fell under k = 10 once in ~20 runs at the feature table's noise (sd 18)
        for _ in range(120):
            assert post_json(running.url, past_report(registry, None, week + dt.timedelta(days=1)))[0] == 202
        status, _, body = request(running.url, "POST", "/v1/releases", b"", AUTH)
        assert status == 200 and json.loads(body)["made"] > 0
        status, headers, body = request(running.url, "GET", "/v1/aggregates", b"", AUTH)
        names = json.loads(body)["questions"]
        assert status == 200 and "features" in names and headers["cache-control"] == "no-store"
        status, _, body = request(
            running.url,
            "GET",
            f"/v1/aggregates/features?app=millwright&from={week}&to={week + dt.timedelta(days=6)}",
            b"",
            AUTH,
        )
        table = json.loads(body)
        assert status == 200 and table["columns"][:3] == ["feature", "installations", "installations_ci95"]
        count, ci = {row[0]: row[1:3] for row in table["rows"]}["toolpath.pocket"]
        assert abs(count - 120) <= 2 * ci  # 120 installations, plus noise
        status, _, body = request(running.url, "GET", "/v1/budget?app=millwright", b"", AUTH)
        assert status == 200 and json.loads(body)["weeks"]
        status, headers, page = request(running.url, "GET", f"/dashboard?token={TOKEN}", b"")
        assert status == 200 and headers["content-type"].startswith("text/html") and b"<svg" in page
        assert "default-src 'none'" in headers["content-security-policy"]
        assert request(running.url, "GET", "/v1/aggregates/features?app=lathe", b"", AUTH)[0] == 400
        assert request(running.url, "GET", "/v1/aggregates/os?period=fortnight", b"", AUTH)[0] == 400
    config = Config(db=tmp_path / "db2" / "o.duckdb", port=0)  # no token configured: never open
    with CollectorThread(config) as running:
        for path in ("/v1/aggregates", "/v1/aggregates/features", "/dashboard", "/v1/budget"):
            assert request(running.url, "GET", path, b"", {"Authorization": "Bearer "})[0] == 404
        assert request(running.url, "POST", "/v1/snapshots", b"", AUTH)[0] == 404
        assert request(running.url, "POST", "/v1/releases", b"", AUTH)[0] == 404


def test_settings_layer_defaults_file_environment_flags(tmp_path: Path) -> None:
    file = tmp_path / "collector.toml"
    file.write_text('port = 9000\nretention_days = 90\nbatch_max_reports = 64\nhost = "0.0.0.0"\n')
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    env = {
        "OPTIN_COLLECTOR_RETENTION_DAYS": "120",
        "OPTIN_COLLECTOR_TOKEN_FILE": str(token_file),
        "OPTIN_COLLECTOR_BATCH_MAX_REPORTS": "32",
    }
    config = load_config(file, env, batch_max_reports=16)
    assert (config.port, config.host, config.retention_days, config.batch_max_reports, config.token) == (
        9000,
        "0.0.0.0",
        120,
        16,
        "from-file",
    )
    assert load_config(None, {"OPTIN_COLLECTOR_TOKEN": "from-env"}).token == "from-env"
    assert Config().resolved_db().name == "optin.duckdb"  # the embedded default, in the user data folder
    file.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_config(file, {})


def test_tls_when_given_a_certificate_and_key(tmp_path: Path, registry: Registry) -> None:
    cert, key = self_signed_cert(tmp_path, "localhost")
    config = Config(db=tmp_path / "db" / "o.duckdb", port=0, tls_cert=cert, tls_key=key)
    with CollectorThread(config) as running:
        import http.client

        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", running.port, context=context, timeout=10)
        conn.request(
            "POST", "/v1/reports", body=json.dumps(make_report(registry)), headers={"Content-Type": "application/json"}
        )
        assert conn.getresponse().status == 202
        conn.close()
        with pytest.raises((OSError, http.client.HTTPException)):
            request(running.url, "GET", "/healthz", timeout_s=5)  # plain HTTP is not served


def test_sigterm_drains_commits_and_checkpoints(tmp_path: Path, registry: Registry) -> None:
    from tests.helpers import start_collector

    running = start_collector(
        tmp_path / "db" / "optin.duckdb", tmp_path / "log", "--batch-max-wait-ms", "200", "--batch-max-reports", "1000"
    )
    docs = [make_report(registry) for _ in range(10)]
    results: list[int] = []
    threads = [threading.Thread(target=lambda d=doc: results.append(post_json(running.url, d)[0])) for doc in docs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert running.stop() == 0
    assert results.count(202) == 10
    assert not (tmp_path / "db" / "optin.duckdb.wal").exists()  # checkpointed
    assert db_rows(running.db, "SELECT count(*) FROM reports") == [(10,)]
    assert '"event":"stopped"' in (tmp_path / "log").read_text()


def test_a_taken_port_is_an_error_that_closes_the_database_cleanly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = tmp_path / "db" / "o.duckdb"
        done = subprocess.run(
            [sys.executable, "-m", "optin.collector", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert '"event":"listen_failed"' in done.stderr
    assert not db.parent.exists()  # refused before any process opened the database or a journal


def test_the_seen_filter_never_says_no_to_an_added_id_and_rarely_maybe_to_a_new_one() -> None:
    from optin.collector._seen import SeenIds

    added = [str(uuid.uuid4()) for _ in range(20000)]
    seen = SeenIds(added[:10000], 10000)
    for report_id in added[10000:]:
        seen.add(report_id)
    assert all(seen.maybe(i) for i in added)
    assert sum(seen.maybe(str(uuid.uuid4())) for _ in range(20000)) < 100  # about 0.07 % expected
    assert not SeenIds([], 0).full and SeenIds(added, 1).count == 20000


def test_a_database_locked_by_another_process_degrades_then_recovers_by_itself(
    tmp_path: Path, registry: Registry
) -> None:
    from tests.helpers import start_collector

    db = tmp_path / "db" / "optin.duckdb"
    db.parent.mkdir()
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read(); con.close()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        running = start_collector(db, tmp_path / "log")
        assert request(running.url, "GET", "/healthz")[0] == 503
        status, headers, answer = post_answer(running.url, make_report(registry))
        assert (status, answer["error"]) == (503, "unavailable") and headers["retry-after"]
        assert holder.stdin is not None
        holder.stdin.close()  # the other process lets go
        holder.wait(30)
        deadline = time.monotonic() + 30
        while request(running.url, "GET", "/healthz")[0] != 200:
            assert time.monotonic() < deadline, "still degraded after the lock was released"
            time.sleep(0.05)
        doc = make_report(registry)
        # Another worker may hold the loader's state from its last heartbeat (0.2 s): 503 with
        # Retry-After until then is the documented answer, never a lost report.
        while (status := post_json(running.url, doc)[0]) == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status == 202
        assert running.stop() == 0
    finally:
        if holder.poll() is None:
            holder.kill()
    assert db_rows(db, "SELECT CAST(report_id AS VARCHAR) FROM reports") == [(doc["report_id"],)]
    log = (tmp_path / "log").read_text()
    assert (
        '"event":"store_unavailable"' in log and str(db.parent) not in log
    )  # the reason's type, not DuckDB's message with paths


def test_a_folder_of_registries_decides_which_applications_are_accepted(tmp_path: Path, registry: Registry) -> None:
    from optin.contract import load_registry

    folder = tmp_path / "registries"
    folder.mkdir()
    (folder / "lathe.toml").write_text(
        'schema = 1\napp = "lathe"\nversion = 3\napp_versions = ["2025.3.0"]\n'
        '[categories.usage]\ntitle = "Usage"\ndescription = "Feature use."\n'
        '[metrics."turn.rough"]\nkind = "counter"\ncategory = "usage"\ndescription = "Roughing passes."\n'
    )
    lathe = load_registry(folder / "lathe.toml")
    config = Config(db=tmp_path / "db" / "o.duckdb", port=0, registries=folder)
    with CollectorThread(config) as running:
        assert post_json(running.url, make_report(lathe, {"turn.rough": 4}))[0] == 202
        assert post_json(running.url, make_report(registry)) == (
            422,
            {"error": "unknown_registry", "path": "app.name"},
        )  # not in the folder


def test_the_console_script_runs_the_collector() -> None:
    script = Path(sys.executable).with_name("optin-collector")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert (
        done.returncode == 0
        and "--snapshot-dir" in done.stdout
        and "--token" not in done.stdout.replace("--token-file", "")
    )


def test_numbered_migrations_bring_a_version_1_database_forward_keeping_its_rows(
    tmp_path: Path, registry: Registry
) -> None:
    from optin.collector._migrations import MIGRATIONS
    from optin.contract import SCHEMA_V1

    db = tmp_path / "db" / "o.duckdb"
    db.parent.mkdir()
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statement in SCHEMA_V1:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO installations VALUES (7, ?)", [str(uuid.uuid4())])
    con.execute(
        "INSERT INTO reports VALUES (41, ?, 7, 1, 1, 1, DATE '2026-01-01', 86400, 0, 0, 0)", [str(uuid.uuid4())]
    )
    con.close()
    with CollectorThread(Config(db=db, port=0)) as running:
        assert post_json(running.url, make_report(registry))[0] == 202
    assert db_rows(db, "SELECT max(version) FROM schema_version") == [(len(MIGRATIONS),)]
    assert db_rows(db, "SELECT report_key, inst_key, discarded FROM reports ORDER BY report_key") == [
        (41, 7, 0),
        (42, 8, 0),
    ]  # kept (counting no discarded report, a column of migration 3), and keys go on after them
    # Upgraded in place, it journals: the new report came through a journal, loaded with its position.
    assert [row[0] for row in db_rows(db, "SELECT journal FROM journal_positions")] == ["w0"]
    assert (db.parent / "o.duckdb.journal" / "w0").is_dir()


def test_analysis_reads_a_snapshot_and_answers_as_the_live_endpoint_does(tmp_path: Path, registry: Registry) -> None:
    from optin.analysis import LocalSource, Window as AnalysisWindow, open_snapshot, table_to_dict

    snapshots = tmp_path / "snapshots"
    config = Config(
        db=tmp_path / "db" / "o.duckdb", port=0, token=TOKEN, snapshot_dir=snapshots, maintenance_interval_s=3600
    )
    rng = random.Random(9)
    week = monday_weeks_ago(2)
    window = f"from={week}&to={week + dt.timedelta(days=6)}"
    with CollectorThread(config) as running:
        for _ in range(40):
            report = past_report(registry, random_metrics(registry, rng), week + dt.timedelta(days=2))
            assert post_json(running.url, report)[0] == 202
        assert request(running.url, "POST", "/v1/releases", b"", AUTH)[0] == 200
        assert request(running.url, "POST", "/v1/snapshots", b"", AUTH)[0] == 200
        live = {
            q: json.loads(request(running.url, "GET", f"/v1/aggregates/{q}?app=millwright&{window}", b"", AUTH)[2])
            for q in ("features", "os")
        }
    source = LocalSource(open_snapshot(snapshots))
    try:
        for question, answer in live.items():
            offline = table_to_dict(
                source.ask(question, AnalysisWindow("millwright", week, week + dt.timedelta(days=6)))
            )
            assert offline == {k: v for k, v in answer.items() if k != "question"}
    finally:
        source.close()


def test_a_loader_behind_its_bound_sheds_with_503_loader_behind_then_recovers(
    tmp_path: Path, registry: Registry
) -> None:
    # The loader reads every 3 s at most; the journal may run only 8 KB (a few dozen reports) ahead of it.
    config = Config(
        db=tmp_path / "db" / "o.duckdb", port=0, max_unloaded_bytes=8192, load_interval_ms=3000, retry_after_s=2
    )
    accepted: list[str] = []
    with CollectorThread(config) as running:
        time.sleep(0.5)  # the loader's first round is done: the next one is ~3 s away
        for _ in range(200):
            doc = make_report(registry)
            status, headers, body = request(
                running.url, "POST", "/v1/reports", json.dumps(doc).encode(), {"Content-Type": "application/json"}
            )
            if status == 503:
                break
            assert status == 202
            accepted.append(doc["report_id"])
        assert (status, json.loads(body)["error"], headers["retry-after"]) == (503, "loader_behind", "2")
        assert 0 < len(accepted) < 200
        deadline = time.monotonic() + 30
        while post_json(running.url, doc)[0] != 202:  # the loader catches up: accepted again
            assert time.monotonic() < deadline
            time.sleep(0.2)
        accepted.append(doc["report_id"])
    stored = {row[0] for row in db_rows(config.db, "SELECT CAST(report_id AS VARCHAR) FROM reports")}
    assert stored == set(accepted)
