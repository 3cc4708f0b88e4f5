"""Compare: one question in two periods side by side, against the truth computed in plain Python."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from optin.analysis import LocalSource, Window, compare, open_database, render_html
from optin.analysis.__main__ import main
from optin.analysis._release_plan import SPEC_BY_NAME
from optin.contract import Registry, label_names

from . import fleet as F
from .released import Hand, write_releases

Released = tuple[F.Fleet, Path, list[Registry]]
CLEAR = 40  # rows whose true count is at least this on both sides are checked (shown all but always)
QUESTIONS = {"os": "os", "os-version": "os-version", "versions": "versions", "features": "features"}


def week(i: int) -> Window:
    start = F.START + dt.timedelta(days=7 * i)
    return Window("millwright", start, start + dt.timedelta(days=6), "week")


def truth(fleet: F.Fleet, registry: Registry, question: str, w: Window) -> dict[tuple[Any, ...], tuple[int, float]]:
    """Per row key: the true (bounded) count and the measure the table shows, from the plan alone."""
    spec = SPEC_BY_NAME[question]
    vectors = F.bounded_truth(fleet, registry, "millwright", spec.source, spec.metric, w.first_day, w.last_day)
    counts = vectors["installations"]
    if question == "features":
        names = F.usage_counters(registry)
        active = F.bounded_truth(fleet, registry, "millwright", "active", None, w.first_day, w.last_day)
        total = active["installations"][0]
        return {(n,): (c, c / total) for n, c in zip(names, counts, strict=True)}
    keys = registry.app_versions if question == "versions" else label_names(registry.metrics[str(spec.metric)])
    return {(k,): (c, c / sum(counts)) for k, c in zip(keys, counts, strict=True)}


def test_the_change_holds_the_true_change_within_its_interval_at_the_stated_rate(released: Released) -> None:
    """Every pair of the fleet's six whole weeks, for four questions: the change against the plan's."""
    fleet, db, registries = released
    source = LocalSource(open_database(db))
    inside = total = 0
    for question in QUESTIONS:
        for before, after in ((week(i), week(j)) for i in range(6) for j in range(i + 1, 6)):
            table = compare(source.ask(question, before), source.ask(question, after))
            a, b = truth(fleet, registries[0], question, before), truth(fleet, registries[0], question, after)
            n_keys = table.columns.index("installations")
            change_at = next(j for j, c in enumerate(table.columns) if c.endswith("_change"))
            assert table.columns[-1] == "beyond_noise"
            for row in table.rows:
                key = tuple(row[:n_keys])
                if min(a[key][0], b[key][0]) < CLEAR:
                    continue
                total += 1
                change, ci = row[change_at], row[change_at + 1]
                inside += change is not None and abs(change - (b[key][1] - a[key][1])) <= ci
                assert row[-1] == ("yes" if abs(change) > ci else "no")
    source.close()
    assert total >= 150, total
    # Each week's release is in 5 of the 15 pairs, so the rows are not independent (about 60 effective):
    # 0.88 is 2.5 standard errors under 95 %, and still above the 83 % a change's interval would hold if
    # it left out one side's noise.
    assert inside / total >= 0.88, (inside, total)


WEEK = dt.date(2026, 3, 2)
NEXT = WEEK + dt.timedelta(days=7)


def hand(start: dt.date, windows: int, macos: int) -> Hand:
    cells = [("windows", windows, 5.0), ("macos", macos, 5.0), ("linux", 100, 5.0), ("other", 3, 5.0)]
    return Hand("os", "week", start, start + dt.timedelta(days=6), {"installations": cells})


def test_a_change_beyond_the_noise_is_marked_and_one_within_it_is_not(tmp_path: Path) -> None:
    db = write_releases(tmp_path / "r.duckdb", [hand(WEEK, 400, 100), hand(NEXT, 800, 101)])
    source = LocalSource(open_database(db))
    before = Window("millwright", WEEK, WEEK + dt.timedelta(days=6))
    after = Window("millwright", NEXT, NEXT + dt.timedelta(days=6))
    table = compare(source.ask("os", before), source.ask("os", after))
    source.close()
    rows = {row[0]: row for row in table.rows}
    assert table.columns[:3] == ("value", "installations", "installations_ci95")
    assert rows["windows"][-1] == "yes" and rows["windows"][7] > 0  # 400 -> 800 of 603 -> 1004: share grows
    assert rows["linux"][-1] == "yes" and rows["linux"][7] < 0  # the same 100 is a smaller share
    assert rows["other"][7] is None and rows["other"][-1] is None  # hidden on both sides: no change shown
    page = render_html([table], "t")
    assert "change of share of the installations counted (%)" in page and page.count('class="bar c0"') == 3


def test_the_cli_compares_two_windows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = write_releases(tmp_path / "r.duckdb", [hand(WEEK, 400, 100), hand(NEXT, 800, 101)])
    args = ["compare", "os", "--db", str(db), "--before-from", str(WEEK), "--before-to", str(NEXT - dt.timedelta(1))]
    assert main([*args, "--from", str(NEXT), "--to", str(NEXT + dt.timedelta(days=6)), "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("share_change,share_change_ci95,beyond_noise") and out[1].startswith("windows,800,")
    assert main([*args[:-1], "2026-02-01", "--format", "csv"]) == 2  # before-to earlier than before-from
