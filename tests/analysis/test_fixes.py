"""What a small fleet showed wrong: hidden-row labels, the usage-time chart, snapshot paths, --out, --app."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest

from optin.analysis import LocalSource, Window, open_database, open_snapshot, publish, render_html, render_table
from optin.analysis.__main__ import main

from .released import Hand, write_releases

WEEK = dt.date(2026, 3, 2)
SUNDAY = WEEK + dt.timedelta(days=6)
OS = Hand(
    "os",
    "week",
    WEEK,
    SUNDAY,
    {"installations": [("windows", 500, 5.0), ("macos", 6, 5.0), ("linux", 80, 5.0), ("other", 2, 5.0)]},
)
USAGE = Hand(
    "usage-time",
    "week",
    WEEK,
    SUNDAY,
    {"installations": [("", 50, 3.0)], "seconds": [("", 1_800_000, 4000.0)]},  # 500 hours over 50 installations
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return write_releases(tmp_path / "released.duckdb", [OS, USAGE])


def test_a_hidden_row_says_hidden_with_why_and_never_claims_a_count(db: Path) -> None:
    source = LocalSource(open_database(db))
    table = source.ask("os", Window("millwright", WEEK, SUNDAY))
    source.close()
    assert table.suppressed == 2
    page = render_html([table], "t")
    bars = page[page.index('<svg class="chart bars"') : page.index("</svg>")]
    hidden = re.findall(r'<text class="hidden"[^>]*><title>([^<]*)</title>([^<]*)</text>', bars)
    assert [label for _, label in hidden] == ["hidden", "hidden"]
    assert all("under the display threshold k = 10" in why and "true count may be" in why for why, _ in hidden)
    assert re.search(r'<td class="suppressed" title="hidden: [^"]+">hidden</td>', page)
    text = render_table(table)
    for surface in (page, text):
        assert "fewer than" not in surface and "&lt;10" not in surface and "<10" not in surface
    assert "hidden" in text.splitlines()[-1]


def test_the_usage_time_chart_plots_hours(db: Path) -> None:
    source = LocalSource(open_database(db))
    table = source.ask("usage-time", Window("millwright", WEEK, SUNDAY))
    source.close()
    assert table.chart == "hours"
    chart = render_html([table], "t")
    chart = chart[chart.index('<svg class="chart lines"') : chart.index("</svg>")]
    assert "hours of use (h)" in chart
    point = re.search(r'<circle class="point[^"]*"[^>]*><title>([^<]*)</title>', chart)
    assert point is not None and point.group(1).startswith("hours of use (h), 2026-03-02: 500 ±")
    ticks = [t for t in re.findall(r'<text class="tick" [^>]*text-anchor="end">([^<]*)</text>', chart)]
    assert float(ticks[-1].replace(",", "")) >= 500  # the axis reaches the hours, not the 50 installations


@pytest.mark.parametrize("name", ["snap*", "snap[1]", "snap?", "it's"])
def test_a_snapshot_folder_name_with_glob_characters_is_read_as_that_one_folder(
    db: Path, tmp_path: Path, name: str
) -> None:
    con = open_database(db)
    publish(con, tmp_path / name)
    con.close()
    other = write_releases(tmp_path / "other.duckdb", [OS, USAGE, dataclasses.replace(OS, question="os-version")])
    con = open_database(other)
    for sibling in ("snapA", "snap1", "snapB", "it"):  # what a pattern would also match, holding other numbers
        publish(con, tmp_path / sibling)
    con.close()
    snapshot = LocalSource(open_snapshot(tmp_path / name))
    database = LocalSource(open_database(db))
    window = Window("millwright", WEEK, SUNDAY)
    for question in ("os", "usage-time"):
        assert snapshot.ask(question, window) == database.ask(question, window)
    assert [w.releases for w in snapshot.budget("millwright")] == [2]  # the siblings hold 3 releases
    snapshot.close()
    database.close()


def test_out_into_a_missing_folder_is_a_clear_error(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-folder" / "report.html"
    assert main(["report", "--db", str(db), "--format", "html", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"optin-analysis: --out: the folder {target.parent} does not exist"
    assert not target.parent.exists()
    assert main(["budget", "--db", str(db), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["os", "--db", str(db), "--out", str(tmp_path / "os.txt")]) == 0
    assert "windows" in (tmp_path / "os.txt").read_text()


@pytest.mark.parametrize("app", ["Millwright", "robert'); drop table releases;--", "a b", ""])
def test_the_cli_refuses_a_bad_app_name_before_any_query(
    app: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 1: had the CLI asked the collector first, it would fail with exit 1.
    monkeypatch.setenv("OPTIN_ANALYSIS_TOKEN", "t")
    for question in ("os", "budget", "report"):
        assert main([question, "--url", "http://127.0.0.1:1", "--app", app]) == 2
        err = capsys.readouterr().err
        assert "--app" in err and "not an application name" in err and "reach" not in err


def test_a_noisy_sum_below_zero_is_drawn_below_the_zero_line_not_clipped_to_it(tmp_path: Path) -> None:
    negative = dataclasses.replace(USAGE, cells={"installations": [("", 50, 3.0)], "seconds": [("", -720_000, 4e5)]})
    db = write_releases(tmp_path / "negative.duckdb", [negative])
    source = LocalSource(open_database(db))
    table = source.ask("usage-time", Window("millwright", WEEK, SUNDAY))
    source.close()
    chart = render_html([table], "t")
    zero = re.search(r'<line class="axis" x1="\d+" x2="\d+" y1="([\d.]+)"', chart)
    point = re.search(r'<circle class="point[^"]*" cx="[\d.]+" cy="([\d.]+)"', chart)
    assert zero is not None and point is not None
    assert float(point.group(1)) > float(zero.group(1)) + 10  # below the zero line (SVG y grows downwards)
    assert re.search(r'text-anchor="end">-[\d,]+</text>', chart)  # the axis has negative ticks


def test_a_share_is_never_above_100_percent_when_small_cells_are_noisy_below_zero() -> None:
    """The demo showed "windows 102.0 %": three near-empty cells released below zero shrank the sum."""
    import random

    from optin.analysis._questions import noisy_total, ratio
    from optin.analysis._releases import Cell

    cells = [Cell("windows", 51, 5.6), Cell("macos", -4, 5.6), Cell("linux", -3, 5.6), Cell("other", 2, 5.6)]
    assert 51 / sum(c.value for c in cells) > 1  # what the plain sum gave
    total = noisy_total(cells)
    assert total.value == 53 and total.sd == pytest.approx(11.2)
    assert ratio(cells[0], total)[0] == pytest.approx(51 / 53)
    rng = random.Random(7)
    for _ in range(2_000):
        cells = [Cell(str(i), rng.randint(-20, 200), 5.6) for i in range(rng.randint(1, 6))]
        total = noisy_total(cells)
        for cell in cells:
            share, _ = ratio(cell, total)
            assert share is None or share <= 1.0, (cells, cell)


def test_a_share_of_active_installations_stays_within_0_and_100_percent_and_a_rate_at_least_0() -> None:
    """The demo showed a feature at 128.8 % of active installations (76 ± 36 of 59 ± 12) and -11.6 uses each."""
    import random

    from optin.analysis._questions import rate, ratio, share
    from optin.analysis._releases import Cell

    users, active, uses = Cell("solid.extrude", 76, 18.1), Cell("", 59, 6.3), Cell("toolpath.lathe_turn", -684, 552.8)
    assert ratio(users, active)[0] == pytest.approx(76 / 59)  # what the table showed
    value, ci = share(users, active)
    assert value == 1.0 and ci == ratio(users, active)[1]  # clamped; the interval still tells the noise
    assert rate(uses, active)[0] == 0.0 and share(Cell("", -3, 18.1), active)[0] == 0.0
    assert share(users, Cell("", -2, 6.3)) == (None, None) == rate(uses, Cell("", 0, 6.3))
    rng = random.Random(11)
    for _ in range(2_000):
        part, whole = Cell("", round(rng.gauss(40, 30)), 18.1), Cell("", round(rng.gauss(50, 20)), 6.3)
        of, _ = share(part, whole)
        per, _ = rate(part, whole)
        assert of is None or 0.0 <= of <= 1.0
        assert per is None or per >= 0.0
