"""The demo end to end: real clients → real collector → DuckDB → analysis, checked against ground truth."""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from optin.demo.__main__ import run_demo
from optin.demo._fleet import FLEET_DAYS, FLEET_SIZE, Installation, plan_fleet
from optin.demo._simulate import Simulation

K = 10


def printed_table(output: str, title: str) -> dict[str, list[str]]:
    """Rows of one printed table, keyed by their first cell."""
    block = output.split(f"{title}\n{'=' * len(title)}\n", 1)[1].split("\n\n", 1)[0]
    lines = [line for line in block.splitlines() if line and not line.startswith(("-", "active", "("))]
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[1:])}


def expected_cell(count: int) -> str:
    return str(count) if count >= K else "hidden"


def partition_expectation(counts: Counter[str]) -> dict[str, str]:
    """Installations per value as the report must print them. The rows split the active total, so
    when any row is under k, further rows (smallest first) are hidden until at least two are hidden
    and the hidden rows together hold at least k installations: no hidden count can be recovered."""
    shown = {value: expected_cell(n) for value, n in counts.items()}
    hidden = [v for v, n in counts.items() if n < K]
    visible = sorted((v for v, n in counts.items() if n >= K), key=lambda v: (counts[v], v))
    while hidden and visible and (len(hidden) < 2 or sum(counts[v] for v in hidden) < K):
        smallest = visible.pop(0)
        hidden.append(smallest)
        shown[smallest] = "hidden"
    return shown


def ground_truth(fleet: list[Installation]) -> tuple[int, dict[str, int], dict[str, int], Counter[str], Counter[str]]:
    kept = [inst for inst in fleet if inst.keeps_data]
    users: dict[str, int] = defaultdict(int)
    uses: dict[str, int] = defaultdict(int)
    for inst in kept:
        totals: dict[str, int] = defaultdict(int)
        for day in range(FLEET_DAYS):
            if inst.on_during(day):
                for (metric, _label), n in inst.usage[day].items():
                    totals[metric] += n
        for metric, n in totals.items():
            users[metric] += 1
            uses[metric] += n
    os_counts = Counter(str(inst.machine.facts["system.os_family"]) for inst in kept)
    last_run = {
        inst.index: max(d for d in range(FLEET_DAYS) if inst.on_during(d) and Simulation.app_runs(inst, d))
        for inst in kept
    }
    versions = Counter(inst.versions[last_run[inst.index]] for inst in kept)
    return len(kept), users, uses, os_counts, versions


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = io.StringIO()
    db = run_demo(tmp_path_factory.mktemp("demo"), out=out)
    return out.getvalue(), db


def test_the_demo_report_matches_ground_truth_computed_from_the_fleet_plan(demo: tuple[str, Path]) -> None:
    output, _ = demo
    fleet = plan_fleet(FLEET_SIZE, FLEET_DAYS)
    active, users, uses, os_counts, versions = ground_truth(fleet)
    assert f"active installations: {active}" in output

    features = printed_table(output, "Feature usage")
    assert set(features) == set(users)
    for metric, n in users.items():
        installations, share, per_active = features[metric][:3]
        assert installations == expected_cell(n), metric
        if n >= K:
            assert share == f"{n / active * 100:.1f}%", metric
            assert per_active == f"{uses[metric] / active:.2f}", metric
        else:
            assert share == "–" and per_active == "–"
    ranked = [name for name, cells in features.items() if cells[0] != "hidden"]
    assert ranked == sorted(ranked, key=lambda m: (-users[m], -uses[m], m))

    os_rows = printed_table(output, "Operating systems")
    assert {v: cells[0] for v, cells in os_rows.items()} == partition_expectation(os_counts)
    version_rows = printed_table(output, "App version adoption")
    assert {v: cells[0] for v, cells in version_rows.items()} == partition_expectation(versions)


def test_only_users_who_opted_in_are_in_the_database_and_opted_out_users_were_erased(demo: tuple[str, Path]) -> None:
    _, db = demo
    fleet = plan_fleet(FLEET_SIZE, FLEET_DAYS)
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT count(*) FROM installations").fetchone()
    assert stored is not None and stored[0] == sum(1 for inst in fleet if inst.keeps_data)
    orphans = con.execute("SELECT count(*) FROM report_values v ANTI JOIN reports r USING (report_key)").fetchone()
    assert orphans == (0,)
