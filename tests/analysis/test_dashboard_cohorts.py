"""The dashboard's retention question and its comparison of two windows, in a real collector and Chromium.

Cohorts of installations start in each of eight past weeks (reports posted to a real collector
on 127.0.0.1 as queues send them), the collector releases every closed week, and the page is
loaded in headless Chromium: no console error, no request leaving the collector, no two text
boxes overlapping, one chart per answer with its intervals; screenshots under tests/analysis/out/.
Bad comparison parameters are refused in test_live.py, with the other filters.
The budget is raised so that the small cohorts are shown rather than hidden (the page is the test).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from optin.collector import CollectorThread, Config
from optin.contract import Registry

from ..helpers import request
from . import chromium
from .test_live import post_wednesday, week_ago

TOKEN = "analysis-" + uuid.uuid4().hex
COHORTS = 8  # cohorts start 9 .. 2 weeks ago
PER_COHORT = 24
OUT = Path(__file__).parent / "out"


@dataclass
class Live:
    url: str
    last_monday: dt.date  # the latest week with reports (two weeks ago)


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
            metrics = {"system.os_family": family, "toolpath.pocket": 2, "session.usage_seconds": 3600}
            for _ in range(PER_COHORT):
                installation = str(uuid.uuid4())
                for weeks_ago in range(started, 1, -1):
                    age = started - weeks_ago
                    if age == 0 or rng.random() < max(0.3, 0.9 - 0.1 * age):
                        post_wednesday(collector.url, registry, week_ago(weeks_ago), installation, metrics)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        status, _, body = request(collector.url, "POST", "/v1/releases", headers=auth)
        assert status == 200 and json.loads(body)["made"] > 0, body
        yield Live(collector.url, week_ago(2))


def load(live: Live, query: str, name: str) -> chromium.PageLoad:
    return chromium.checked_page(live.url, f"/dashboard?token={TOKEN}&{query}", OUT / f"dashboard-{name}.png")


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
    compared = text.split("<section")[1]  # the comparison opens its table: both periods side by side
    assert "<details open><summary>Table</summary>" in compared
    for column in ("share_before", "share_after", "share_change", "beyond_noise"):
        assert f"<th>{column}</th>" in compared, column
    before = last - dt.timedelta(weeks=1) if name == "compare-previous" else early
    assert f"period from {before}; after: period from {last}" in text
    assert f'<option value="{name.removeprefix("compare-")}" selected>' in text
    if name == "compare-dates":  # five weeks earlier nearly all ran Windows; now most run Linux: beyond the noise
        assert re.search(r"<td>windows</td>(<td>[^<]*</td>){3}<td>-[^<]*</td><td>yes</td>", text)
        assert "no change: one side is hidden" in text  # Linux, hidden five weeks earlier
