"""No output, in any format or from any source, reveals a cell of fewer than k installations.

Property-based: hypothesis picks group sizes around k (and below, and zero) for every value of
the system facts, and which days each installation reports; every canned question is then
checked against the fleet's true counts, directly and through every output format.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import random
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optin.analysis import (
    QUESTIONS,
    LocalSource,
    Table,
    Window,
    open_database,
    open_snapshot,
    render_html,
    render_table,
    table_to_csv,
    tables_to_json,
)
from optin.contract import Registry, bundled_registry

from . import fleet as F
from .test_ground_truth import truth_for

K = 10
REGISTRY = bundled_registry("millwright")
DAYS = 12
OS_VALUES = ("windows", "macos", "linux", "other")


def small_fleet(sizes: list[int], seed: int) -> F.Fleet:
    """Installations in groups of the given sizes (one group per OS family), reporting on random days."""
    rng = random.Random(seed)
    reports: list[F.Report] = []
    inst = 0
    for family, size in zip(OS_VALUES, sizes, strict=False):
        for _ in range(size):
            inst += 1
            days = sorted(rng.sample(range(DAYS), rng.randint(1, DAYS)))
            version = rng.choice(F.VERSIONS)
            rare = rng.random() < 0.3
            for day in days:
                values: dict[str, Any] = {
                    "system.os_family": family,
                    "system.ram_gib": rng.choice([16, 32]) if family != "other" else 8,
                    "session.usage_seconds": rng.choice([0, 3600]),
                    "session.length": [rng.randint(0, 1) for _ in range(6)],
                    "sketch.line": rng.randint(0, 5),
                }
                if rare:
                    values["surface.patch"] = rng.randint(1, 3)
                lost = rng.random() < 0.2
                reports.append(
                    F.Report(0, inst, "millwright", version, F.START + dt.timedelta(days=day), int(lost), 0, 0, values)
                )
    rng.shuffle(reports)
    for key, report in enumerate(reports, 1):
        report.key = key
    rejections = {(F.START + dt.timedelta(days=d), "schema"): rng.randint(0, 15) for d in range(DAYS)}
    return F.Fleet(reports, {k: v for k, v in rejections.items() if v})


def assert_nothing_small_is_revealed(name: str, table: Table, truth: F.Truth) -> None:
    count_at = next(i for i, c in enumerate(table.columns) if c in ("installations", "reports"))
    shown = {tuple(row[:count_at]): row for row in table.rows}
    hidden = {cell for cell, row in shown.items() if row[count_at] is None}
    for cell, row in shown.items():
        if cell in hidden:
            assert all(v is None for v in row[count_at:]), (name, cell)
        else:
            assert row[count_at] == truth.counts[cell] >= K, (name, cell)
    if truth.partition_by is not None:  # total minus visible cells must not isolate a small group
        groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for cell in truth.counts:
            groups.setdefault(tuple(cell[i] for i in truth.partition_by), []).append(cell)
        for cells in groups.values():
            gone = [c for c in cells if c in hidden]
            if gone and len(gone) < len(cells):
                assert len(gone) >= 2 and sum(truth.counts[c] for c in gone) >= K, (name, cells)
    for note in table.notes:
        for number in re.findall(r"active installations: (\d+)", note):
            assert int(number) >= K, (name, note)
    assert_formats_hide(name, table, hidden, count_at)


def assert_formats_hide(name: str, table: Table, hidden: set[tuple[Any, ...]], count_at: int) -> None:
    def plain(v: Any) -> str:
        return v.isoformat() if isinstance(v, dt.date) else str(v)

    hidden_keys = {tuple(plain(v) for v in cell) for cell in hidden}
    doc = json.loads(tables_to_json({name: table}))["tables"][name]
    for row in doc["rows"]:
        if tuple(plain(v) for v in row[:count_at]) in hidden_keys:
            assert row[count_at:] == [None] * (len(row) - count_at), name
    for row in list(csv.reader(io.StringIO(table_to_csv(table))))[1:]:
        if tuple(row[:count_at]) in hidden_keys:
            assert row[count_at:] == [""] * (len(row) - count_at), name
    text = render_table(table)
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if tuple(cells[:count_at]) in hidden_keys:
            assert cells[count_at] == "hidden" and set(cells[count_at + 1 :]) <= {"–"}, (name, line)
    page = render_html([table], "t")
    for tr in re.findall(r"<tr>(.*?)</tr>", page):
        cells = [html_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        if cells and tuple(cells[:count_at]) in hidden_keys:
            assert cells[count_at] == "hidden" and set(cells[count_at + 1 :]) <= {"–"}, (name, tr)
    drawn = len(re.findall(r'class="(?:bar|point)"', page))
    assert drawn == len(table.rows) - len(hidden), f"{name}: only visible cells are drawn"


def html_text(cell: str) -> str:
    return cell.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=24), min_size=4, max_size=4),
    seed=st.integers(min_value=0, max_value=2**16),
    period=st.sampled_from(["day", "week"]),
)
def test_no_cell_under_k_is_revealed_by_any_question_format_or_source(sizes: list[int], seed: int, period: str) -> None:
    fleet = small_fleet(sizes, seed)
    window = Window("millwright", F.START, F.START + dt.timedelta(days=DAYS - 1), period)  # type: ignore[arg-type]
    registry: Registry = REGISTRY
    with tempfile.TemporaryDirectory() as tmp:
        db = F.write_database(fleet, [registry, dataclasses.replace(registry, app="lathekit")], Path(tmp) / "f.duckdb")
        snapshot = F.write_snapshot(db, Path(tmp) / "snap")
        sources = [LocalSource(open_database(db), K), LocalSource(open_snapshot(snapshot), K)]
        try:
            for name in QUESTIONS:
                truth = truth_for(name, fleet, window, registry)
                for source in sources:
                    assert_nothing_small_is_revealed(name, source.ask(name, window), truth)
        finally:
            for source in sources:
                source.close()
