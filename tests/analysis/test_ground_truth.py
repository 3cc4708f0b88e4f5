"""Releases against ground truth: a generated fleet, released by the real job, checked in plain Python.

The bounded vectors the job noises equal the plan's (computed without SQL); the released numbers
fall inside their 95 % intervals about as often as they should (coverage, over thousands of
cells); and every question, from the database and from a snapshot, shows those releases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from optin.analysis import (
    QUESTIONS,
    LocalSource,
    Window,
    open_database,
    open_snapshot,
    render_html,
    render_table,
    tables_to_csv,
    tables_to_json,
)
from optin.contract import Registry

from . import fleet as F
from .conftest import TODAY, release_all


def cells(db: Path) -> list[tuple[Any, ...]]:
    """Every released cell: app, question, source period, start, end, key position, measure, value, sd."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT r.app, r.question, r.period, r.period_start, r.period_end, c.position, c.measure, c.value, c.sd"
            " FROM release_cells c JOIN releases r USING (release_id) ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def truth_of(fleet: F.Fleet, registries: list[Registry]) -> dict[tuple[Any, ...], int]:
    from optin.analysis._release_plan import SPEC_BY_NAME

    by_app = {r.app: r for r in registries}
    out: dict[tuple[Any, ...], int] = {}
    cache: dict[tuple[Any, ...], dict[str, list[int]]] = {}
    for app, question, _, start, end, position, measure, _, _ in cells_cache:
        spec = SPEC_BY_NAME[question]
        key = (app, question, start, end)
        if key not in cache:
            cache[key] = F.bounded_truth(fleet, by_app[app], app, spec.source, spec.metric, start, end)
        out[(app, question, start, end, position, measure)] = cache[key][measure][position]
    return out


cells_cache: list[tuple[Any, ...]] = []


def test_the_bounded_vectors_equal_the_plain_python_plan(released: tuple[F.Fleet, Path, list[Registry]]) -> None:
    """What the job noises is exactly the plan, bounded: checked through the job's own SQL."""
    from optin.analysis._release_plan import SPECS, periods_between
    from optin.analysis._release_sql import Bounding

    fleet, db, registries = released
    con = duckdb.connect(str(db), read_only=True)
    checked = 0
    try:
        for registry in registries:
            bounding = Bounding(con, registry)
            for kind in ("week", "month"):
                for start, end in periods_between(F.START, F.START + dt.timedelta(days=44), kind):
                    for spec in (s for s in SPECS if kind in s.kinds):
                        exact = bounding.bounded(spec, start, end)
                        truth = F.bounded_truth(fleet, registry, registry.app, spec.source, spec.metric, start, end)
                        assert {m: v for m, (v, _) in exact.parts.items()} == truth, (registry.app, spec.name, start)
                        checked += 1
    finally:
        con.close()
    monthly = sum(1 for s in SPECS if "month" in s.kinds)
    assert checked == 2 * (7 * (len(SPECS)) + 2 * monthly)  # two apps, 7 weeks and 2 months, every question


def test_released_cells_fall_in_their_95_percent_interval_as_often_as_they_should(
    released: tuple[F.Fleet, Path, list[Registry]],
) -> None:
    """Coverage: over every released cell (thousands), 92 % to 98 % hold the truth within ±1.96 sd."""
    fleet, db, registries = released
    cells_cache[:] = cells(db)
    truth = truth_of(fleet, registries)
    inside = total = 0
    for app, question, _, start, end, position, measure, value, sd in cells_cache:
        exact = truth[(app, question, start, end, position, measure)]
        total += 1
        inside += abs(value - exact) <= 1.959964 * sd
    assert total >= 2000, total
    assert 0.92 <= inside / total <= 0.98, (inside, total)


def test_a_release_is_never_recomputed_and_asking_again_returns_the_same_numbers(
    released: tuple[F.Fleet, Path, list[Registry]], tmp_path: Path
) -> None:
    _, db, registries = released
    copy = tmp_path / "again.duckdb"
    copy.write_bytes(db.read_bytes())
    before = cells(copy)
    release_all(copy, registries)  # the job again, and later: nothing new, nothing replaced
    release_all(copy, registries, TODAY + dt.timedelta(days=1))
    after = cells(copy)
    closed_before = {c for c in after if c[4] <= TODAY - dt.timedelta(days=3)}
    assert closed_before <= set(before) and set(before) <= set(after)
    source = LocalSource(open_database(copy))
    window = Window("millwright", F.START, F.START + dt.timedelta(days=41), "week")
    assert source.ask("os-trend", window) == source.ask("os-trend", window)
    source.close()


def test_the_budget_of_every_week_is_never_exceeded(released: tuple[F.Fleet, Path, list[Registry]]) -> None:
    _, db, _ = released
    source = LocalSource(open_database(db))
    weeks = source.budget("millwright")
    source.close()
    assert weeks and all(w.spent <= 0.5 * (1 + 1e-9) and w.refused == 0 for w in weeks)
    assert max(w.spent for w in weeks) > 0.45  # whole weeks spend nearly all of it: the split is used


def test_every_question_in_every_format_shows_releases_with_intervals_and_no_count_under_k(
    released: tuple[F.Fleet, Path, list[Registry]],
) -> None:
    _, db, _ = released
    source = LocalSource(open_database(db), k=10)
    window = Window("millwright", dt.date(2026, 3, 1), F.START + dt.timedelta(days=41), "week")  # holds March
    tables = {name: source.ask(name, window) for name in QUESTIONS}
    source.close()
    for name, table in tables.items():
        assert table.rows, name
        n_keys = table.columns.index("installations")
        assert table.columns[n_keys + 1] == "installations_ci95"
        for row in table.rows:
            assert row[n_keys] is None or row[n_keys] >= 10, name
            assert (row[n_keys] is None) == (row[n_keys + 1] is None)
        assert any("privacy cost: ρ" in note for note in table.notes), name
        assert any("covers" in note for note in table.notes), name
    text = "".join(render_table(t) for t in tables.values())
    assert "±" in text and "hidden" in text and "fewer than" not in text
    assert "installations_ci95" in tables_to_csv(list(tables.values()))
    assert '"installations_ci95"' in tables_to_json(tables)
    page = render_html(list(tables.values()), "t")
    assert 'class="errorbar"' in page and "95 % interval" in page


def test_a_window_is_answered_as_the_released_periods_it_holds_and_says_so(
    released: tuple[F.Fleet, Path, list[Registry]],
) -> None:
    _, db, _ = released
    source = LocalSource(open_database(db))
    cut = Window("millwright", F.START + dt.timedelta(days=3), F.START + dt.timedelta(days=30), "week")
    table = source.ask("active-weekly", cut)
    assert [row[0] for row in table.rows] == [F.START + dt.timedelta(days=7 * i) for i in (1, 2, 3)]
    assert any("released periods inside" in note for note in table.notes)
    months = source.ask("active-monthly", Window("millwright", dt.date(2026, 3, 1), dt.date(2026, 4, 20), "month"))
    assert [row[0] for row in months.rows] == [dt.date(2026, 3, 1)]  # April ends after the window does
    source.close()


def test_the_snapshot_and_another_application_give_what_the_database_gives(
    released: tuple[F.Fleet, Path, list[Registry]], tmp_path: Path
) -> None:
    _, db, _ = released
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    con = duckdb.connect(str(db), read_only=True)
    for table in ("releases", "release_cells", "privacy_ledger", "release_refusals"):
        con.execute(f"COPY {table} TO '{snapshot / (table + '.parquet')}' (FORMAT parquet)")
    con.close()
    window = Window("millwright", F.START, F.START + dt.timedelta(days=41), "week")
    local, snap = LocalSource(open_database(db)), LocalSource(open_snapshot(snapshot))
    for name in QUESTIONS:
        assert local.ask(name, window) == snap.ask(name, window), name
    other = local.ask("active-weekly", dataclasses.replace(window, app="lathekit"))
    mine = local.ask("active-weekly", window)
    assert other.rows != mine.rows
    assert local.ask("features", dataclasses.replace(window, app="nosuchapp")).rows == []
    local.close()
    snap.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"app": "Robert'); DROP TABLE reports;--"},
        {"first_day": "2026-01-01"},
        {"first_day": dt.date(2026, 5, 1), "last_day": dt.date(2026, 4, 1)},
        {"period": "fortnight"},
        {"first_day": dt.date(2000, 1, 1), "last_day": dt.date(2030, 1, 1)},
    ],
)
def test_filters_are_typed_values_checked_before_any_query(bad: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"app": "millwright", "first_day": F.START, "last_day": F.START, "period": "week"}
    with pytest.raises((ValueError, TypeError)):
        Window(**{**fields, **bad})
