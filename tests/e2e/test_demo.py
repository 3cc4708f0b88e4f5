"""The demo end to end: real clients → real collector → DuckDB → analysis, checked against ground truth."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from optin.demo.__main__ import run_demo
from optin.demo._fleet import FLEET_DAYS, FLEET_SIZE, plan_fleet

K = 10


def printed_table(output: str, title: str) -> dict[str, list[str]]:
    """Rows of one printed table (after its header and rule), keyed by their first cell."""
    block = output.split(f"{title}\n{'=' * len(title)}\n", 1)[1].split("\n\n", 1)[0]
    lines = block.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = [line for line in lines[rule + 1 :] if line and not line.startswith("(")]
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in rows)}


def number(cell: str) -> tuple[float, float] | None:
    """``"43 ± 10"`` -> (43, 10); None for a hidden row."""
    if cell == "hidden":
        return None
    value, interval = cell.replace(",", "").replace("%", "").split(" ± ")
    return float(value), float(interval)


def truth_by_week(db: Path) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Active installations per ISO week and OS family of each installation's latest report, from the raw rows."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        active = dict(
            con.execute(
                "SELECT CAST(date_trunc('week', day) AS DATE)::VARCHAR, count(DISTINCT inst_key)"
                " FROM reports GROUP BY 1"
            ).fetchall()
        )
        os_rows = con.execute(
            """SELECT week, label, count(*) FROM (
                   SELECT CAST(date_trunc('week', r.day) AS DATE)::VARCHAR AS week, r.inst_key,
                          arg_max(l.label, r.report_key) AS label
                   FROM reports r JOIN report_values v USING (report_key) JOIN metrics m USING (metric_key)
                   JOIN labels l ON l.metric_key = v.metric_key AND l.label_key = v.label_key
                   WHERE m.name = 'system.os_family' GROUP BY ALL) GROUP BY ALL"""
        ).fetchall()
    finally:
        con.close()
    families: dict[str, dict[str, int]] = defaultdict(dict)
    for week, label, n in os_rows:
        families[week][label] = n
    return active, families


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = io.StringIO()
    db = run_demo(tmp_path_factory.mktemp("demo"), out=out)
    return out.getvalue(), db


def test_the_demo_prints_the_released_report_and_its_numbers_hold_the_truth(demo: tuple[str, Path]) -> None:
    output, db = demo
    assert "The current, unclosed week is not released and not shown." in output
    assert f"{FLEET_SIZE} installations" in output
    active, families = truth_by_week(db)
    weekly = printed_table(output, "Active installations per week")
    assert len(weekly) >= 3
    for week, (cell,) in weekly.items():
        shown = number(cell)
        assert shown is not None and abs(shown[0] - active[week]) <= 2 * shown[1], week  # 2 × the 95 % interval
    latest = re.search(r"the latest released week: (\S+) to", output.split("Operating systems\n", 1)[1])
    assert latest is not None
    for family, cells in printed_table(output, "Operating systems").items():
        shown = number(cells[0])
        if shown is not None:
            assert abs(shown[0] - families[latest.group(1)].get(family, 0)) <= 2 * shown[1], family
    features = printed_table(output, "Feature usage")
    assert features and all(" ± " in cells[0] or cells[0] == "hidden" for cells in features.values())
    # At about 60 active installations the noise (±36 on each count) put a feature at 128.8 % of them once:
    # a share is shown within [0, 100 %] and uses per installation at least 0, each with its interval.
    for feature, cells in features.items():
        if cells[0] == "hidden":
            continue
        share, rate = number(cells[1]), number(cells[2])
        of_active, per_active = cells[1:3]
        assert share is None or 0 <= share[0] <= 100, (feature, of_active)
        assert rate is None or rate[0] >= 0, (feature, per_active)


def test_only_users_who_opted_in_are_in_the_database_and_opted_out_users_were_erased(demo: tuple[str, Path]) -> None:
    _, db = demo
    fleet = plan_fleet(FLEET_SIZE, FLEET_DAYS)
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT count(*) FROM installations").fetchone()
    assert stored is not None and stored[0] == sum(1 for inst in fleet if inst.keeps_data)
    orphans = con.execute("SELECT count(*) FROM report_values v ANTI JOIN reports r USING (report_key)").fetchone()
    assert orphans == (0,)
