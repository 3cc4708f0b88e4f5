"""Analysis against a real collector: reports pushed over HTTP, answers read back through its
token-protected endpoints, its Parquet snapshot and (stopped) its database, and its dashboard
page rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from optin.analysis import (
    QUESTIONS,
    LocalSource,
    RemoteError,
    RemoteSource,
    Table,
    Window,
    open_database,
    open_snapshot,
    table_to_dict,
)
from optin.collector import CollectorThread, Config
from optin.contract import Registry

from ..helpers import make_report, post_json, request
from . import chromium

K = 10
TOKEN = "analysis-" + uuid.uuid4().hex
OS_GROUPS = {"windows": 22, "linux": 7, "macos": 5, "other": 1}  # three small groups: 13 together
VERSIONS = ["2025.3.0"] * 15 + ["2025.2.1"] * 12 + ["2025.1.4"] * 8  # one small group: its neighbour hides too


@dataclass
class Live:
    url: str
    db: Path
    snapshot: Path
    remote: dict[str, Table]  # every question, as the endpoints answered while the collector ran
    window: Window
    screenshot: Path
    page: chromium.PageLoad | None


def plan() -> list[tuple[str, str, dict[str, Any]]]:
    families = [f for f, n in OS_GROUPS.items() for _ in range(n)]
    fleet = []
    for i, (family, version) in enumerate(zip(families, VERSIONS, strict=False)):
        metrics: dict[str, Any] = {
            "system.os_family": family,
            "toolpath.pocket": 1 + i % 5,
            "session.usage_seconds": 3600,
        }
        if i % 9 == 0:
            metrics["surface.patch"] = 2  # four installations: suppressed
        if i % 2 == 0:
            metrics["file.import"] = {"step": 1}
        fleet.append((str(uuid.uuid4()), version, metrics))
    return fleet


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    config = Config(
        db=root / "collector" / "optin.duckdb", host="127.0.0.1", port=0, token=TOKEN, snapshot_dir=root / "snapshot"
    )
    shots = Path(__file__).parent / "out"
    shots.mkdir(exist_ok=True)
    with CollectorThread(config) as collector:
        for installation, version, metrics in plan():
            report = make_report(registry, metrics, installation_id=installation)
            report["app"]["version"] = version
            status, _ = post_json(collector.url, report)
            assert status == 202
        status, _, body = request(collector.url, "POST", "/v1/snapshots", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200, body
        remote = RemoteSource(collector.url, TOKEN)
        days = remote.days("millwright")
        assert days is not None
        window = Window("millwright", *days)
        answers = {name: remote.ask(name, window) for name in QUESTIONS}
        page = None
        if chromium.CHROMIUM:
            page = chromium.load_page(f"{collector.url}/dashboard?token={TOKEN}", shots / "dashboard.png")
        yield Live(collector.url, config.db, config.snapshot_dir, answers, window, shots / "dashboard.png", page)  # type: ignore[arg-type]


def cells(table: Table) -> dict[str, int | None]:
    return {str(row[0]): row[1] for row in table.rows}


def test_the_endpoints_answer_with_the_plan_s_counts_small_groups_suppressed(live: Live) -> None:
    assert cells(live.remote["os"]) == {"windows": 22, "linux": None, "macos": None, "other": None}
    versions = Counter(VERSIONS)
    assert versions["2025.1.4"] < K <= versions["2025.2.1"] < versions["2025.3.0"]
    assert cells(live.remote["versions"]) == {"2025.3.0": 15, "2025.2.1": None, "2025.1.4": None}
    features = cells(live.remote["features"])
    assert features["toolpath.pocket"] == 35 and features["file.import"] == 18 and features["surface.patch"] is None
    assert "active installations: 35" in live.remote["features"].notes


def rows(table: Table) -> list[list[Any]]:
    return [list(row) for row in table_to_dict(table)["rows"]]


def test_the_collector_s_snapshot_gives_the_same_answers_as_its_endpoints(live: Live) -> None:
    with_snapshot = LocalSource(open_snapshot(live.snapshot), K)
    for name, remote in live.remote.items():
        local = with_snapshot.ask(name, live.window)
        assert (local.columns, rows(local), local.suppressed) == (
            remote.columns,
            [list(r) for r in remote.rows],
            remote.suppressed,
        ), name


def test_the_stopped_collector_s_database_gives_the_same_answers_as_its_endpoints(
    tmp_path: Path, registry: Registry
) -> None:
    config = Config(db=tmp_path / "optin.duckdb", host="127.0.0.1", port=0, token=TOKEN)
    with CollectorThread(config) as collector:
        for installation, version, metrics in plan():
            report = make_report(registry, metrics, installation_id=installation)
            report["app"]["version"] = version
            assert post_json(collector.url, report)[0] == 202
        remote = RemoteSource(collector.url, TOKEN)
        days = remote.days("millwright")
        assert days is not None
        window = Window("millwright", *days)
        answers = {name: remote.ask(name, window) for name in QUESTIONS}
    local = LocalSource(open_database(config.db), K)
    for name, answer in answers.items():
        table = local.ask(name, window)
        assert (table.columns, rows(table)) == (answer.columns, [list(r) for r in answer.rows]), name


def test_a_wrong_token_is_refused_and_the_token_is_never_echoed(live: Live) -> None:
    with pytest.raises(RemoteError) as refused:
        RemoteSource(live.url, "not-the-token").ask("os", live.window)
    assert "401" in str(refused.value) and "not-the-token" not in str(refused.value)
    status, _, body = request(live.url, "GET", "/dashboard")
    assert status == 401 and TOKEN.encode() not in body


def test_the_cli_reads_the_live_collector_with_a_token_file(live: Live, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "optin.analysis",
            "os",
            "--url",
            live.url,
            "--token-file",
            str(token_file),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["tables"]["os"]["rows"]
    assert {r[0]: r[1] for r in rows} == {"windows": 22, "linux": None, "macos": None, "other": None}


@pytest.mark.skipif(chromium.CHROMIUM is None, reason="chromium is not installed (tasks.py installs it with apt-get)")
def test_the_dashboard_renders_in_headless_chromium_with_charts_and_no_errors(live: Live) -> None:
    page = live.page
    assert page is not None
    assert page.errors == [], page.errors
    assert page.failed == [], page.failed
    assert all(url.startswith(live.url) for url in page.requests), page.requests  # nothing from elsewhere
    drawn = page.drawn
    assert drawn["sections"] == len(QUESTIONS) and drawn["scripts"] == 0
    assert drawn["charts"] == sum(1 for t in live.remote.values() if t.rows)  # every question with data has a chart
    visible_bars = sum(
        1 for name, t in live.remote.items() if t.columns[0] != "period" for row in t.rows if row[1] is not None
    )
    assert drawn["bars"] == visible_bars and drawn["drawnWidth"] > 0
    assert drawn["points"] > 0
    png = live.screenshot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_no_endpoint_answer_or_dashboard_cell_reveals_a_group_under_k(live: Live) -> None:
    from . import fleet as F
    from .test_suppression import assert_nothing_small_is_revealed

    reports = [
        F.Report(i + 1, i, "millwright", version, live.window.last_day, 0, 0, 0, metrics)
        for i, (_, version, metrics) in enumerate(plan())
    ]
    truths = {
        "os": F.truth_share(reports, "system.os_family"),
        "versions": F.truth_versions(reports),
        "features": F.truth_features(reports),
    }
    for name, truth in truths.items():
        assert_nothing_small_is_revealed(name, live.remote[name], truth)
    status, _, body = request(live.url, "GET", f"/dashboard?token={TOKEN}")
    assert status == 200
    page = body.decode()
    for value in ("linux", "macos", "other", "2025.2.1", "2025.1.4", "surface.patch"):
        row = re.search(rf"<tr><td>{re.escape(value)}</td>(.*?)</tr>", page)
        assert row is not None, value
        assert re.findall(r"<td[^>]*>(.*?)</td>", row.group(1)) == ["hidden"] + ["–"] * (
            len(re.findall(r"<td", row.group(1))) - 1
        ), value
