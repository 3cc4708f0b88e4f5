"""Every canned question agrees with an independent plain-Python computation over a generated fleet."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optin.analysis import QUESTIONS, Gateway, LocalSource, Table, Window, open_database, open_snapshot
from optin.contract import Registry

from . import fleet as F

K = 10
SEED = 7
FIRST = F.START + dt.timedelta(days=3)  # a Thursday: the first week and month are cut by the window
LAST = F.START + dt.timedelta(days=40)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> tuple[F.Fleet, Path, Path]:
    folder = tmp_path_factory.mktemp("truth")
    fleet = F.generate(SEED)
    db = F.write_database(fleet, [registry, dataclasses.replace(registry, app="lathekit")], folder / "fleet.duckdb")
    return fleet, db, F.write_snapshot(db, folder / "snapshot")


def truth_for(name: str, fleet: F.Fleet, window: Window, registry: Registry) -> F.Truth:
    reports = F.in_window(fleet, window.app, window.first_day, window.last_day)
    p = window.period
    table: dict[str, Callable[[], F.Truth]] = {
        "features": lambda: F.truth_features(reports),
        "os": lambda: F.truth_share(reports, "system.os_family"),
        "os-version": lambda: F.truth_share(reports, "system.os_version"),
        "versions": lambda: F.truth_versions(reports),
        "active-daily": lambda: F.truth_active(reports, "day"),
        "active-weekly": lambda: F.truth_active(reports, "week"),
        "active-monthly": lambda: F.truth_active(reports, "month"),
        "os-trend": lambda: F.truth_share(reports, "system.os_family", p),
        "os-version-trend": lambda: F.truth_share(reports, "system.os_version", p),
        "cpu-cores-trend": lambda: F.truth_share(reports, "system.cpu_cores", p),
        "ram-trend": lambda: F.truth_share(reports, "system.ram_gib", p),
        "display-trend": lambda: F.truth_share(reports, "system.display_class", p),
        "displays-trend": lambda: F.truth_share(reports, "system.displays", p),
        "versions-trend": lambda: F.truth_versions(reports, p),
        "usage-time": lambda: F.truth_usage_time(reports, p),
        "session-lengths": lambda: F.truth_session_lengths(reports, registry),
        "client-losses": lambda: F.truth_client_losses(reports, p),
        "rejections": lambda: F.truth_rejections(fleet, window.first_day, window.last_day, p),
    }
    assert set(table) == set(QUESTIONS), "every canned question needs a ground truth here"
    return table[name]()


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def check(
    table: Table,
    truth: F.Truth,
    k: int,
    measures_of: Callable[[tuple[Any, ...], tuple[Any, ...]], tuple[Any, ...]] | None = None,
) -> None:
    count_at = next(i for i, c in enumerate(table.columns) if c in ("installations", "reports"))
    rows = {tuple(row[:count_at]): row for row in table.rows}
    assert len(rows) == len(table.rows), "one row per cell"
    assert set(rows) == set(truth.counts), table.title
    hidden = F.expected_hidden(truth, k)
    assert table.suppressed == len(hidden), table.title
    for cell, n in truth.counts.items():
        row = rows[cell]
        if cell in hidden:
            assert all(v is None for v in row[count_at:]), (table.title, cell)
            continue
        assert row[count_at] == n, (table.title, cell)
        expected = measures_of(cell, truth.measures[cell]) if measures_of else truth.measures[cell]
        got = row[count_at + 1 :]
        assert len(got) == len(expected) and all(close(a, b) for a, b in zip(got, expected, strict=False)), (
            table.title,
            cell,
            got,
            expected,
        )
    # Suppressed rows come after the visible ones (of their period, in trends): position says nothing.
    groups: dict[Any, list[bool]] = {}
    for row in table.rows:
        groups.setdefault(row[0] if table.columns[0] == "period" else None, []).append(row[count_at] is None)
    for flags in groups.values():
        assert flags == sorted(flags), table.title


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_every_question_matches_the_plain_python_answer(
    generated: tuple[F.Fleet, Path, Path], registry: Registry, period: str
) -> None:
    fleet, db, _ = generated
    window = Window("millwright", FIRST, LAST, period)  # type: ignore[arg-type]
    gateway = Gateway(open_database(db), K)
    reports = F.in_window(fleet, "millwright", FIRST, LAST)
    active = len({r.inst for r in reports})
    for name, question in QUESTIONS.items():
        table = question(gateway, window)
        truth = truth_for(name, fleet, window, registry)
        assert truth.counts, f"the generated fleet must exercise {name}"
        if name == "features":
            counts = truth.counts

            def shares(cell: tuple[Any, ...], m: tuple[Any, ...]) -> tuple[Any, ...]:
                return (counts[cell] / active, m[0] / active, m[1], m[2])  # noqa: B023 (used in this pass only)

            check(table, truth, K, shares)
            visible = [row for row in table.rows if row[1] is not None]
            uses = {row[0]: truth.measures[(row[0],)][0] for row in visible}
            assert [r[0] for r in visible] == sorted(uses, key=lambda f: (-truth.counts[(f,)], -uses[f], f)), "ranked"
            assert f"active installations: {active}" in table.notes
        else:
            check(table, truth, K)


def test_the_fleet_exercises_suppression_and_complementary_suppression(
    generated: tuple[F.Fleet, Path, Path], registry: Registry
) -> None:
    fleet, db, _ = generated
    window = Window("millwright", FIRST, LAST, "week")
    source = LocalSource(open_database(db), K)
    features = source.ask("features", window)
    assert any(row[1] is None for row in features.rows), "a rare feature is suppressed"
    # Somewhere a partition hides a row of k or more installations to protect a smaller one.
    truths = [truth_for(name, fleet, window, registry) for name in QUESTIONS]
    assert any(t.counts[c] >= K for t in truths if t.partition_by is not None for c in F.expected_hidden(t, K))


def test_a_higher_k_suppresses_more_and_still_agrees(generated: tuple[F.Fleet, Path, Path], registry: Registry) -> None:
    fleet, db, _ = generated
    window = Window("millwright", FIRST, LAST, "month")
    gateway = Gateway(open_database(db), 40)
    for name in ("os-version", "ram-trend", "active-weekly", "features"):
        truth = truth_for(name, fleet, window, registry)
        table = QUESTIONS[name](gateway, window)
        assert table.k == 40
        if name != "features":
            check(table, truth, 40)
        else:
            assert {row[0] for row in table.rows if row[1] is None} == {c[0] for c in F.expected_hidden(truth, 40)}


def test_k_can_only_be_raised() -> None:
    import duckdb

    with pytest.raises(ValueError):
        Gateway(duckdb.connect(), 9)


def test_the_parquet_snapshot_gives_the_same_answers_as_the_database(generated: tuple[F.Fleet, Path, Path]) -> None:
    _, db, snapshot = generated
    from_db = LocalSource(open_database(db), K)
    from_snapshot = LocalSource(open_snapshot(snapshot), K)
    for period in ("day", "week"):
        window = Window("millwright", FIRST, LAST, period)
        for name in QUESTIONS:
            a, b = from_db.ask(name, window), from_snapshot.ask(name, window)
            assert a.columns == b.columns and a.suppressed == b.suppressed, name
            assert len(a.rows) == len(b.rows) and all(
                all(close(x, y) for x, y in zip(ra, rb, strict=False)) for ra, rb in zip(a.rows, b.rows, strict=False)
            ), name


def test_another_application_and_days_outside_the_window_are_not_counted(generated: tuple[F.Fleet, Path, Path]) -> None:
    fleet, db, _ = generated
    source = LocalSource(open_database(db), K)
    lathekit = [r for r in fleet.reports if r.app == "lathekit"]
    table = source.ask("active-monthly", Window("lathekit", F.START, F.START + dt.timedelta(days=60), "week"))
    assert [row[1] for row in table.rows] == [len({r.inst for r in lathekit if r.day.month == m}) for m in (3, 4)]
    assert source.ask("features", Window("nosuchapp", FIRST, LAST)).rows == []


@pytest.mark.parametrize(
    "bad",
    [
        dict(app="Millwright; DROP TABLE reports", first_day=FIRST, last_day=LAST),
        dict(app="millwright", first_day=LAST, last_day=FIRST),
        dict(app="millwright", first_day="2026-03-01", last_day=LAST),
        dict(app="millwright", first_day=FIRST, last_day=LAST, period="year"),
    ],
)
def test_filters_are_typed_values_checked_before_any_query(bad: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        Window(**bad)
