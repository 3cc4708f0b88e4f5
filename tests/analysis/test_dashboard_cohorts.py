"""The dashboard's retention question and its comparison of two windows, in a real collector and Chromium.

Cohorts of installations start in each of eight past weeks (reports posted to a real collector
on 127.0.0.1 as queues send them), the collector releases every closed week, and the page is
loaded in headless Chromium: no console error, no request leaving the collector, no two text
boxes overlapping, one chart per answer with its intervals; screenshots under tests/analysis/out/.
The budget is raised so that the small cohorts are shown rather than hidden (the page is the test).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from optin.collector import CollectorThread, Config
from optin.contract import Registry

from ..helpers import make_report, post_json, request
from . import chromium

TOKEN = "analysis-" + uuid.uuid4().hex
COHORTS = 8  # cohorts start 9 .. 2 weeks ago
PER_COHORT = 24
OUT = Path(__file__).parent / "out"


@dataclass
class Live:
    url: str
    last_monday: dt.date  # the latest week with reports (two weeks ago)


def monday(weeks_ago: int) -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=today.weekday() + 7 * weeks_ago)


def post_week(url: str, registry: Registry, installation: str, week: dt.date, family: str) -> None:
    """One report for the Wednesday of ``week``, sent now (as a queue sends it)."""
    end = int(dt.datetime.combine(week + dt.timedelta(days=2), dt.time(18), dt.UTC).timestamp())
    metrics = {"system.os_family": family, "toolpath.pocket": 2, "session.usage_seconds": 3600}
    report = make_report(
        registry,
        metrics,
        installation_id=installation,
        period={"start": end - 3600, "end": end},
        sent_at=int(time.time()),
    )
    status, _ = post_json(url, report)
    assert status == 202


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("cohorts")
    config = Config(db=root / "optin.duckdb", host="127.0.0.1", port=0, token=TOKEN, privacy_budget_rho=50.0)
    rng = random.Random(16)
    OUT.mkdir(exist_ok=True)
    with CollectorThread(config) as collector:
        for cohort in range(COHORTS):
            started = 9 - cohort
            family = "windows" if cohort < COHORTS // 2 else "linux"  # later cohorts run Linux: the OS mix moves
            for _ in range(PER_COHORT):
                installation = str(uuid.uuid4())
                for weeks_ago in range(started, 1, -1):
                    age = started - weeks_ago
                    if age == 0 or rng.random() < max(0.3, 0.9 - 0.1 * age):
                        post_week(collector.url, registry, installation, monday(weeks_ago), family)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        status, _, body = request(collector.url, "POST", "/v1/releases", headers=auth)
        assert status == 200 and json.loads(body)["made"] > 0, body
        yield Live(collector.url, monday(2))


def load(live: Live, query: str, name: str) -> chromium.PageLoad:
    """The page for ``query`` in Chromium, checked for what every page must hold."""
    shot = OUT / f"dashboard-{name}.png"
    page = chromium.load_page(f"{live.url}/dashboard?token={TOKEN}&{query}", shot)
    assert page.errors == [] and page.failed == [], (page.errors, page.failed)  # a CSP violation is an error
    assert all(url.startswith((live.url, "data:")) for url in page.requests), page.requests
    drawn = page.drawn
    assert drawn["scripts"] == 0 and drawn["styled"] == 0 and drawn["forms"] == 1
    assert drawn["overlaps"] == [], drawn["overlaps"]
    for section in drawn["sectionsDetail"]:
        assert section["charts"] == (1 if section["rows"] else 0), section
    assert shot.read_bytes().startswith(b"\x89PNG")
    return page


@pytest.mark.skipif(chromium.CHROMIUM is None, reason="chromium is not installed (tasks.py installs it with apt-get)")
def test_the_retention_question_draws_one_line_per_cohort_with_intervals_in_chromium(live: Live) -> None:
    page = load(live, "question=retention&periods=8", "retention")
    sections = page.drawn["sectionsDetail"]
    assert [s["title"] for s in sections] == ["Retention by weekly cohort"]
    assert sections[0]["rows"] >= 20 and sections[0]["marks"] >= 20, sections
    assert page.drawn["lines"] >= 5 and page.drawn["errorbars"] >= 20, page.drawn


def test_retention_comes_after_the_active_installations_in_reading_order(live: Live) -> None:
    status, _, body = request(live.url, "GET", f"/dashboard?token={TOKEN}&periods=4")
    assert status == 200, body
    titles = re.findall(r"<h2>(.*?)</h2>", body.decode())
    assert titles.index("Active installations per day") < titles.index("Retention by weekly cohort")
    assert titles.index("Retention by weekly cohort") < titles.index("Usage time by week")


@pytest.mark.skipif(chromium.CHROMIUM is None, reason="chromium is not installed (tasks.py installs it with apt-get)")
@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("compare-previous", "question=os&from={last}&to={last_end}&compare=previous"),
        (
            "compare-dates",
            "question=os&from={last}&to={last_end}&compare=dates&before_from={early}&before_to={early_end}",
        ),
    ],
)
def test_the_dashboard_compares_two_periods_side_by_side_with_the_change_and_the_noise(
    live: Live, name: str, query: str
) -> None:
    last, early = live.last_monday, live.last_monday - dt.timedelta(weeks=5)
    six = dt.timedelta(days=6)
    query = query.format(last=last, last_end=last + six, early=early, early_end=early + six)
    page = load(live, query, name)
    sections = page.drawn["sectionsDetail"]
    assert len(sections) == 3 and all(s["charts"] == 1 for s in sections), sections
    assert " against " in sections[0]["title"] and sections[2]["title"].endswith("(compared)")
    status, _, body = request(live.url, "GET", f"/dashboard?token={TOKEN}&{query}")
    text = body.decode()
    assert status == 200
    for column in ("share_before", "share_after", "share_change", "beyond_noise"):
        assert column in text, column
    before = last - dt.timedelta(weeks=1) if name == "compare-previous" else early
    assert f"period from {before}; after: period from {last}" in text
    assert f'<option value="{name.removeprefix("compare-")}" selected>' in text
    if name == "compare-dates":  # five weeks earlier nearly all ran Windows; now most run Linux: beyond the noise
        assert re.search(r"<td>windows</td>(<td>[^<]*</td>){3}<td>-[^<]*</td><td>yes</td>", text)
        assert "no change: one side is hidden" in text  # Linux, hidden five weeks earlier


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("compare=sideways&question=os", "compare"),
        ("compare=previous", "compare"),  # which table? one must be chosen
        ("compare=previous&question=retention", "compare"),  # a curve since a start, not one period
        ("question=os&before_from=2026-01-05", "before_from"),  # days without compare=dates
        ("question=os&compare=dates&before_from=2026-01-05", "before_to"),
        ("question=os&compare=dates&before_from=2026-02-05&before_to=2026-01-05", "before_to"),
        ("question=os&compare=dates&before_from=soon&before_to=2026-01-05", "before_from"),
    ],
)
def test_a_bad_comparison_is_refused_with_400_naming_the_parameter(live: Live, query: str, name: str) -> None:
    status, _, body = request(live.url, "GET", f"/dashboard?token={TOKEN}&{query}")
    assert status == 400, body
    doc = json.loads(body)
    assert doc["error"] == "bad_filter" and doc["path"] == name and doc["detail"], doc
