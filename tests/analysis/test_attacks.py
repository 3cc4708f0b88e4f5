"""The three attacks of issue 11, rerun against a real collector: each now finds only noise.

A real collector (aiohttp on 127.0.0.1, a DuckDB file) receives reports over HTTP for three past
weeks, makes its releases (`POST /v1/releases`), and is asked only through its documented,
token-protected endpoints, as an analyst would. Bounds below are 4 released standard deviations
(a false alarm about once in 16,000 cells); the interval the analyst sees is 1.96 of them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from optin.analysis import RemoteSource, Table, Window
from optin.collector import CollectorThread, Config
from optin.contract import Registry

from ..helpers import make_report, post_json, request

TOKEN = "attack-" + uuid.uuid4().hex
# Per family, a large OS version and a small one (under the display threshold): the hidden groups.
OS = {"windows": ("windows-10", 30, "windows-11", 6), "linux": ("linux-kernel-6", 14, "linux-kernel-5", 4),
      "macos": ("macos-14", 12, "macos-15", 3), "other": ("other", 11, "other", 0)}  # fmt: skip
SMALL = {"windows-11": "windows", "linux-kernel-5": "linux", "macos-15": "macos"}
FAKES = 9


def monday(weeks_ago: int) -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=today.weekday() + 7 * weeks_ago)


@dataclass
class Attack:
    url: str
    weeks: tuple[dt.date, dt.date, dt.date]  # A, B (A's fleet plus one newcomer), C (B's fleet plus fakes)
    fleet: list[tuple[str, str, str]]  # (installation, family, version) of the real fleet
    newcomer: tuple[str, str, str]


def send(url: str, registry: Registry, installation: str, day: dt.date, metrics: dict[str, Any]) -> None:
    end = int(dt.datetime.combine(day, dt.time(18), dt.UTC).timestamp())
    report = make_report(
        registry,
        metrics,
        installation_id=installation,
        period={"start": end - 36000, "end": end},
        sent_at=int(time.time()),  # sent now (it waited in the queue): the day is the period's
    )
    status, body = post_json(url, report)
    assert status == 202, body


def facts(family: str, version: str) -> dict[str, Any]:
    return {"system.os_family": family, "system.os_version": version, "toolpath.pocket": 2}


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Attack]:
    root = tmp_path_factory.mktemp("attack")
    fleet = [
        (str(uuid.uuid4()), family, version)
        for family, (v1, n1, v2, n2) in OS.items()
        for version, n in ((v1, n1), (v2, n2))
        for _ in range(n)
    ]
    newcomer = (str(uuid.uuid4()), "macos", "macos-15")
    weeks = (monday(4), monday(3), monday(2))
    with CollectorThread(Config(db=root / "optin.duckdb", host="127.0.0.1", port=0, token=TOKEN)) as collector:
        for week in weeks:
            for installation, family, version in fleet:
                send(collector.url, registry, installation, week + dt.timedelta(days=2), facts(family, version))
        send(collector.url, registry, newcomer[0], weeks[1] + dt.timedelta(days=3), facts(*newcomer[1:]))
        send(collector.url, registry, newcomer[0], weeks[2] + dt.timedelta(days=3), facts(*newcomer[1:]))
        for version, family in SMALL.items():  # nine hand-made installations per small row
            for _ in range(FAKES):
                send(
                    collector.url, registry, str(uuid.uuid4()), weeks[2] + dt.timedelta(days=4), facts(family, version)
                )
        status, _, body = request(collector.url, "POST", "/v1/releases", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and json.loads(body)["made"] > 0, body
        yield Attack(collector.url, weeks, fleet, newcomer)


def released(url: str, question: str, window: Window) -> Table:
    return RemoteSource(url, TOKEN).ask(question, window)


def by_period(table: Table) -> dict[tuple[Any, Any], tuple[int | None, float]]:
    """(period, value) -> (count, sd) as the analyst reads them (sd from the 95 % interval)."""
    return {(row[0], row[1]): (row[2], (row[3] or 0) / 1.959964) for row in table.rows}


def test_attack_1_differencing_two_windows_finds_the_newcomer_only_within_noise(attack: Attack) -> None:
    a, b, _ = attack.weeks
    # Days 1-10 and then days 1-11: both windows hold the same released week, so the answers are equal.
    ten = Window("millwright", a, a + dt.timedelta(days=9))
    eleven = Window("millwright", a, a + dt.timedelta(days=10))
    assert released(attack.url, "os", ten).rows == released(attack.url, "os", eleven).rows  # notes name the window
    # Asking again returns the same release: averaging repeated answers gains nothing.
    assert len({json.dumps(released(attack.url, "os", ten).rows, default=str) for _ in range(5)}) == 1
    # Week B holds week A's fleet plus one macOS newcomer: the difference is 1 plus noise.
    weekly = released(attack.url, "active-weekly", Window("millwright", a, b + dt.timedelta(days=6)))
    trend = {row[0]: (row[1], (row[2] or 0) / 1.959964) for row in weekly.rows}  # periods as JSON sends them
    (count_a, sd_a), (count_b, sd_b) = trend[a.isoformat()], trend[b.isoformat()]
    assert count_a is not None and count_b is not None
    difference = count_b - count_a
    assert abs(difference - 1) <= 4 * math.hypot(sd_a, sd_b)  # one installation, lost in the noise
    total = len(attack.fleet)
    assert count_a != total or count_b != total + 1, "the releases are not noisy"


def test_attack_2_os_minus_os_version_gives_no_exact_count(attack: Attack) -> None:
    a = attack.weeks[0]
    window = Window("millwright", a, a + dt.timedelta(days=6))
    os_table = {row[0]: (row[1], (row[2] or 0) / 1.959964) for row in released(attack.url, "os", window).rows}
    versions = released(attack.url, "os-version", window)
    exact = []
    for family, (v1, n1, v2, n2) in OS.items():
        count, sd = os_table[family]
        if count is None:
            continue
        shown = [
            (row[1], (row[2] or 0) / 1.959964)
            for row in versions.rows
            if row[0].startswith(family[:5]) and row[1] is not None
        ]
        hidden_estimate = count - sum(c for c, _ in shown)
        truth_hidden = (
            n1
            + n2
            - sum(n for v, n in ((v1, n1), (v2, n2)) if any(r[0] == v and r[1] is not None for r in versions.rows))
        )
        spread = math.sqrt(sd**2 + sum(s**2 for _, s in shown))
        assert abs(hidden_estimate - truth_hidden) <= 4 * spread + 1e-9, family
        exact.append(hidden_estimate == truth_hidden)
    assert exact and not all(exact), "os minus os-version recovered every hidden group exactly"


def test_attack_3_fake_installations_shift_counts_by_their_number_plus_noise(attack: Attack) -> None:
    b, c = attack.weeks[1], attack.weeks[2]
    table = by_period(released(attack.url, "os-version-trend", Window("millwright", b, c + dt.timedelta(days=6))))
    recovered = []
    for version in SMALL:
        real = sum(1 for _, _, v in attack.fleet if v == version) + (version == attack.newcomer[2])
        count, sd = table[(c.isoformat(), version)]
        if count is None:  # noise kept it under the display threshold: nothing to subtract from
            recovered.append(False)
            continue
        assert abs(count - (real + FAKES)) <= 4 * sd, version  # their own number, plus noise
        recovered.append(count - FAKES == real)  # what subtracting the fakes gives
    assert not all(recovered), "subtracting the fakes gave every real small count exactly"
