"""Analysis against a real collector: reports pushed over HTTP, answers read back through its
token-protected endpoints, its Parquet snapshot and (stopped) its database, and its dashboard
page rendered in headless Chromium."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import subprocess
import sys
import time
import uuid
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
from optin.analysis._charts import X_TITLES, measure_column
from optin.analysis._dashboard import SECTIONS
from optin.collector import CollectorThread, Config
from optin.contract import Registry

from ..helpers import make_report, post_json, request
from . import chromium

K = 10
TOKEN = "analysis-" + uuid.uuid4().hex
# Large groups far above the display threshold (noise of sd ≈ 5 cannot hide them), and small ones.
OS_GROUPS = {"windows": 44, "linux": 7, "macos": 5, "other": 1}
VERSIONS = ["2025.3.0"] * 30 + ["2025.2.1"] * 19 + ["2025.1.4"] * 8


@dataclass
class Live:
    url: str
    db: Path
    snapshot: Path
    remote: dict[str, Table]  # every question, as the endpoints answered while the collector ran
    budget: dict[str, Any]
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
            metrics["surface.patch"] = 2  # four installations
        if i % 2 == 0:
            metrics["file.import"] = {"step": 1}
        fleet.append((str(uuid.uuid4()), version, metrics))
    return fleet


def week_ago(weeks: int) -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=today.weekday() + 7 * weeks)


def post_wednesday(
    url: str, registry: Registry, monday: dt.date, installation: str, metrics: dict[str, Any], version: str = "2025.3.0"
) -> None:
    """One report for the Wednesday of the week from ``monday``, sent now (as a queue sends it)."""
    end = int(dt.datetime.combine(monday + dt.timedelta(days=2), dt.time(18), dt.UTC).timestamp())
    report = make_report(
        registry,
        metrics,
        installation_id=installation,
        period={"start": end - 3600, "end": end},
        sent_at=int(time.time()),
    )
    report["app"]["version"] = version
    status, _ = post_json(url, report)
    assert status == 202


def send_plan(url: str, registry: Registry, monday: dt.date) -> None:
    """The plan's reports for the Wednesday of a past week, sent now (as a queue sends them)."""
    for installation, version, metrics in plan():
        post_wednesday(url, registry, monday, installation, metrics, version)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    config = Config(
        db=root / "collector" / "optin.duckdb", host="127.0.0.1", port=0, token=TOKEN, snapshot_dir=root / "snapshot"
    )
    shots = Path(__file__).parent / "out"
    shots.mkdir(exist_ok=True)
    monday = week_ago(2)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with CollectorThread(config) as collector:
        send_plan(collector.url, registry, monday)
        status, _, body = request(collector.url, "POST", "/v1/releases", headers=auth)
        assert status == 200 and json.loads(body)["made"] > 0, body
        status, _, body = request(collector.url, "POST", "/v1/snapshots", headers=auth)
        assert status == 200, body
        status, _, body = request(collector.url, "GET", "/v1/budget?app=millwright", headers=auth)
        assert status == 200, body
        remote = RemoteSource(collector.url, TOKEN)
        days = remote.days("millwright")
        assert days is not None and days[0] <= monday  # later closed weeks are released too (zeros, noised)
        window = Window("millwright", monday, monday + dt.timedelta(days=6))
        answers = {name: remote.ask(name, window) for name in QUESTIONS}
        page = None
        if chromium.CHROMIUM:
            query = f"token={TOKEN}&from={window.first_day}&to={window.last_day}"
            page = chromium.load_page(f"{collector.url}/dashboard?{query}", shots / "dashboard.png")
        assert config.snapshot_dir is not None
        yield Live(
            collector.url,
            config.db,
            config.snapshot_dir,
            answers,
            json.loads(body),
            window,
            shots / "dashboard.png",
            page,
        )


def cells(table: Table) -> dict[str, tuple[int | None, float]]:
    """value -> (count, sd) as the analyst reads them."""
    return {str(row[0]): (row[1], (row[2] or 0) / 1.959964) for row in table.rows}


def near(cell: tuple[int | None, float], truth: int) -> bool:
    count, sd = cell
    return count is not None and abs(count - truth) <= 4 * sd


def test_the_endpoints_answer_from_releases_near_the_plan_s_counts(live: Live) -> None:
    os_cells = cells(live.remote["os"])
    assert near(os_cells["windows"], 44)
    assert set(os_cells) == set(OS_GROUPS)  # every declared value has a row: presence says nothing
    versions = cells(live.remote["versions"])
    assert set(versions) == {"2025.1.0", "2025.1.4", "2025.2.1", "2025.3.0"}  # the registry's closed set
    assert near(versions["2025.3.0"], 30)
    features = cells(live.remote["features"])
    assert near(features["toolpath.pocket"], 57)
    assert any(note.startswith("active installations: ") for note in live.remote["features"].notes)
    assert all(any("privacy cost" in n for n in t.notes) for t in live.remote.values())


def test_the_budget_endpoint_shows_spent_and_remaining_per_week(live: Live) -> None:
    weeks = {w["week"]: w for w in live.budget["weeks"]}
    week = weeks[live.window.first_day.isoformat()]
    assert 0 < week["spent_rho"] <= live.budget["budget_rho"]
    assert abs(week["spent_rho"] + week["remaining_rho"] - live.budget["budget_rho"]) < 1e-6
    assert live.budget["refusals"] == [] and live.budget["budget_epsilon"] > 0


def rows(table: Table) -> list[list[Any]]:
    return [list(row) for row in table_to_dict(table)["rows"]]


def same(local: Table, remote: Table) -> bool:
    return (local.columns, rows(local), local.suppressed) == (
        remote.columns,
        [list(r) for r in remote.rows],
        remote.suppressed,
    )


def test_the_collector_s_snapshot_gives_its_endpoints_answers(live: Live) -> None:
    snapshot = LocalSource(open_snapshot(live.snapshot), K)
    for name, remote in live.remote.items():
        assert same(snapshot.ask(name, live.window), remote), name
    snapshot.close()


def test_the_stopped_collector_s_database_gives_its_endpoints_answers(tmp_path: Path, registry: Registry) -> None:
    config = Config(db=tmp_path / "optin.duckdb", host="127.0.0.1", port=0, token=TOKEN)
    with CollectorThread(config) as collector:
        send_plan(collector.url, registry, week_ago(3))
        status, _, _ = request(collector.url, "POST", "/v1/releases", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        remote = RemoteSource(collector.url, TOKEN)
        days = remote.days("millwright")
        assert days is not None
        window = Window("millwright", *days, "month")
        answers = {name: remote.ask(name, window) for name in QUESTIONS}
    local = LocalSource(open_database(config.db), K)
    for name, answer in answers.items():
        assert same(local.ask(name, window), answer), name
    local.close()


def test_a_wrong_token_is_refused_and_the_token_is_never_echoed(live: Live) -> None:
    with pytest.raises(RemoteError) as refused:
        RemoteSource(live.url, "not-the-token").ask("os", live.window)
    assert "401" in str(refused.value) and "not-the-token" not in str(refused.value)
    for path in ("/dashboard", "/v1/budget"):
        status, _, body = request(live.url, "GET", path)
        assert status == 401 and TOKEN.encode() not in body
    status, _, _ = request(live.url, "POST", "/v1/releases")
    assert status == 401


def test_the_cli_reads_the_live_collector_with_a_token_file(live: Live, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    base = [sys.executable, "-m", "optin.analysis"]
    where = ["--url", live.url, "--token-file", str(token_file)]
    window = ["--from", live.window.first_day.isoformat(), "--to", live.window.last_day.isoformat()]
    out = subprocess.run([*base, "os", *where, *window, "--format", "json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    table = json.loads(out.stdout)["tables"]["os"]
    assert [r[:3] for r in table["rows"]] == [list(r[:3]) for r in live.remote["os"].rows]
    out = subprocess.run([*base, "budget", *where], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and live.window.first_day.isoformat() in out.stdout, out.stderr


@pytest.mark.skipif(chromium.CHROMIUM is None, reason="chromium is not installed (tasks.py installs it with apt-get)")
def test_the_dashboard_renders_in_headless_chromium_with_charts_intervals_and_no_errors(live: Live) -> None:
    page = live.page
    assert page is not None
    assert page.errors == [], page.errors
    assert page.failed == [], page.failed
    assert all(url.startswith((live.url, "data:")) for url in page.requests), (
        page.requests
    )  # nothing from elsewhere (data: is inline: the date field's own icon)
    drawn = page.drawn
    shown = [live.remote[name] for name in SECTIONS]  # without a breakdown: every question but those
    assert drawn["sections"] == len(SECTIONS) and drawn["scripts"] == 0
    assert drawn["charts"] == sum(1 for t in shown if t.rows)  # every question with data has a chart
    visible_bars = sum(
        1
        for t in shown
        if t.columns[0] not in X_TITLES
        for row in t.rows
        if row[t.columns.index(measure_column(t))] is not None
    )
    assert drawn["bars"] == visible_bars and drawn["drawnWidth"] > 0
    assert drawn["points"] > 0 and drawn["errorbars"] == visible_bars + drawn["points"]  # an interval on every mark
    png = live.screenshot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_no_dashboard_cell_shows_a_number_for_a_row_under_k(live: Live) -> None:
    query = f"token={TOKEN}&from={live.window.first_day}&to={live.window.last_day}"
    status, _, body = request(live.url, "GET", f"/dashboard?{query}")
    assert status == 200
    sections = {
        re.search(r"<h2>(.*?)</h2>", part).group(1): part  # type: ignore[union-attr]
        for part in body.decode().split("<section")[1:]
    }
    shown = [live.remote[name] for name in SECTIONS]
    under = [(t, row) for t in shown for row in t.rows if row[1] is None and t.columns[0] not in X_TITLES]
    assert under, "the plan has small groups"
    for table, row in under:  # looked up in its own table: "other" is a value of several
        found = re.search(rf"<tr><td>{re.escape(html.escape(str(row[0])))}</td>(.*?)</tr>", sections[table.title])
        assert found is not None, row[0]
        tds = re.findall(r"<td[^>]*>(.*?)</td>", found.group(1))
        assert tds[0] == "hidden" and set(tds[1:]) <= {"–"}, row[0]


@pytest.mark.parametrize(
    ("path", "name", "code"),
    [
        ("/v1/aggregates/os?k=1", "k", "unknown_parameter"),
        ("/v1/aggregates/os?perod=month", "perod", "unknown_parameter"),
        ("/v1/aggregates/os?app=millwright&app=lathekit", "app", "repeated_parameter"),
        ("/v1/aggregates/os?period=fortnight", "period", "bad_period"),
        ("/v1/aggregates?app=millwright", "app", "unknown_parameter"),
        ("/v1/budget?from=2026-01-01", "from", "unknown_parameter"),
        ("/v1/budget?token=x", "token", "unknown_parameter"),
    ],
)
def test_an_undeclared_or_invalid_parameter_is_refused_with_400_and_its_reason(
    live: Live, path: str, name: str, code: str
) -> None:
    status, _, body = request(live.url, "GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 400, body
    doc = json.loads(body)
    assert doc["error"] == code and doc["path"] == name and doc["detail"], doc


def test_the_release_and_snapshot_endpoints_take_no_parameters(live: Live) -> None:
    for path in ("/v1/releases?today=2030-01-01", "/v1/snapshots?folder=x"):
        status, _, body = request(live.url, "POST", path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 400 and json.loads(body)["error"] == "unknown_parameter", body


# Filter combinations a product team would choose: (screenshot name, query beyond the token).
FILTERS = {
    "breakdown-os": "question=features&breakdown=os",
    "version-breakdown-3-weeks": "breakdown=version&periods=3",
    "months": "period=month",
    "days": "period=day&periods=14&question=active-daily",
    "usage-time": "question=usage-time&periods=4",
}


@pytest.mark.skipif(chromium.CHROMIUM is None, reason="chromium is not installed (tasks.py installs it with apt-get)")
@pytest.mark.parametrize("name", list(FILTERS))
def test_the_filtered_dashboard_draws_one_chart_per_answer_with_no_overlapping_text(live: Live, name: str) -> None:
    shot = live.screenshot.with_name(f"dashboard-{name}.png")
    page = chromium.checked_page(live.url, f"/dashboard?token={TOKEN}&{FILTERS[name]}", shot)
    sections = page.drawn["sectionsDetail"]
    assert sections and any(s["rows"] for s in sections), sections
    assert page.drawn["labels"] > 0


def test_the_dashboard_shows_the_chosen_breakdown_after_feature_usage_in_reading_order(live: Live) -> None:
    status, headers, body = request(live.url, "GET", f"/dashboard?token={TOKEN}&breakdown=os&periods=2")
    assert status == 200, body
    titles = re.findall(r"<h2>(.*?)</h2>", body.decode())
    assert titles[:3] == ["Feature usage", "Feature usage by OS family", "App version adoption"], titles
    assert (
        titles.index("Active installations per week")
        < titles.index("Operating systems")
        < titles.index("Client-side losses by week")
    )
    csp = headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-") and "unsafe" not in csp
    assert '<form class="filters" method="get" action="/dashboard">' in body.decode()
    assert '<option value="os" selected>' in body.decode()


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("breakdown=shoe-size", "breakdown"),
        ("question=raw-rows", "question"),
        ("period=fortnight", "period"),
        ("periods=0", "periods"),
        ("periods=many", "periods"),
        ("k=1", "k"),
        ("from=yesterday", "from"),
        ("app=lathekit", "app"),
        ("breakdown=os&breakdown=ram", "breakdown"),
        ("compare=sideways&question=os", "compare"),
        ("compare=previous", "compare"),  # which table? one must be chosen
        ("compare=previous&question=retention", "compare"),  # a curve since a start, not one period
        ("question=os&before_from=2026-01-05", "before_from"),  # days without compare=dates
        ("question=os&compare=dates&before_from=2026-01-05", "before_to"),
        ("question=os&compare=dates&before_from=2026-02-05&before_to=2026-01-05", "before_to"),
        ("question=os&compare=dates&before_from=soon&before_to=2026-01-05", "before_from"),
    ],
)
def test_a_bad_dashboard_filter_is_refused_with_400_naming_it(live: Live, query: str, name: str) -> None:
    status, _, body = request(live.url, "GET", f"/dashboard?token={TOKEN}&{query}")
    assert status == 400, body
    doc = json.loads(body)
    assert doc["error"] == "bad_filter" and doc["path"] == name and doc["detail"], doc
