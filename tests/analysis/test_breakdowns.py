"""Feature usage broken down by each dimension, against the truth computed in plain Python from the fleet.

The released breakdown cells themselves are checked with every other release in test_ground_truth
(bounded vectors equal to the plan's, coverage of their 95 % intervals). Here the question's answer
is: every count and every share of a value's active installations, for every dimension, week and
month, holds the truth within its 95 % interval about as often as it should. The fleet is released
again at a larger budget (the intervals' meaning does not depend on it) so that most rows are shown.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

from optin.analysis import QUESTIONS, LocalSource, Window, open_database
from optin.analysis._release_plan import DIMENSIONS, SPEC_BY_NAME, periods_between
from optin.analysis._release_sql import Bounding
from optin.contract import Registry

from . import fleet as F

Released = tuple[F.Fleet, Path, list[Registry]]
# Rows whose true count is at least this are checked: at the budget below the noise sd of a breakdown
# count is about 3, so such a row is shown (its noisy count is over k = 10) all but never. Smaller rows
# are shown only when noise lifts them over k, so their coverage would be biased by that selection.
CLEAR = 25


def truth(fleet: F.Fleet, metric: str | None, first: dt.date, last: dt.date) -> dict[str, Any]:
    """Active installations per value, and per (feature, value) the installations that used the feature."""
    reports = F.in_window(fleet, "millwright", first, last)
    latest = F.latest_value(reports, metric)
    active: dict[str, int] = defaultdict(int)
    for value in latest.values():
        active[value] += 1
    uses: dict[tuple[str, int], int] = defaultdict(int)
    for r in reports:
        for name in F.FEATURES:
            if name in r.values:
                uses[(name, r.inst)] += F._total(r.values[name])
    users: dict[tuple[str, str], int] = defaultdict(int)
    for (name, inst), n in uses.items():
        users[(name, latest[inst])] += n > 0
    return {"active": dict(active), "users": dict(users)}


def test_every_breakdown_holds_the_plain_python_truth_within_its_intervals_at_the_stated_rate(
    generous: Released,
) -> None:
    fleet, db, registries = generous
    source = LocalSource(open_database(db))
    counts = shares = inside_counts = inside_shares = 0
    values_seen: dict[str, set[str]] = defaultdict(set)
    for dimension, (_, metric, _) in DIMENSIONS.items():
        for kind in ("week", "month"):
            for start, end in periods_between(F.START, F.START + dt.timedelta(days=44), kind):
                table = source.ask(f"features-by-{dimension}", Window("millwright", start, end, kind))
                if end > F.START + dt.timedelta(days=44):
                    continue
                exact = truth(fleet, metric, start, end)
                assert table.columns[:4] == ("feature", dimension, "installations", "installations_ci95")
                for feature, value, n, n_ci, share, share_ci, _, _ in table.rows:
                    values_seen[dimension].add(value)
                    users = exact["users"].get((feature, value), 0)
                    if users < CLEAR:  # chosen by the truth, not the noise: no selection bias
                        continue
                    counts += 1
                    inside_counts += n is not None and abs(n - users) <= n_ci
                    if exact["active"][value] >= CLEAR:
                        shares += 1
                        inside_shares += share is not None and abs(share - users / exact["active"][value]) <= share_ci
    source.close()
    assert counts >= 500 and shares >= 500, (counts, shares)
    assert 0.92 <= inside_counts / counts <= 0.985, (inside_counts, counts)
    assert 0.92 <= inside_shares / shares <= 0.985, (inside_shares, shares)
    assert values_seen["os"] == {"windows", "macos", "linux"}  # "other" (2 %) is left out: its count is hidden
    assert values_seen["language"] == {"en", "de", "ja", "fr"}
    assert values_seen["version"] <= set(F.VERSIONS)


def test_an_installation_counts_under_its_latest_value_only(generous: Released) -> None:
    """Every 7th installation switches to German on day 20: in that week it counts under one language only."""
    fleet, db, registries = generous
    start = F.START + dt.timedelta(days=F.SWITCH_DAY - F.SWITCH_DAY % 7)  # the Monday of the switch
    end = start + dt.timedelta(days=6)
    reports = F.in_window(fleet, "millwright", start, end)
    languages: dict[int, set[str]] = defaultdict(set)
    for r in reports:
        languages[r.inst].add(str(r.values["system.language"]))
    assert sum(len(v) > 1 for v in languages.values()) >= 3  # the week holds installations that switched
    by_value = F.bounded_truth(fleet, registries[0], "millwright", "breakdown", "system.language", start, end)
    plain = F.bounded_truth(fleet, registries[0], "millwright", "features", None, start, end)
    assert sum(by_value["installations"]) == sum(plain["installations"])  # none counted twice, none lost
    assert sum(by_value["uses"]) == sum(plain["uses"])

    con = duckdb.connect(str(db), read_only=True)
    exact = Bounding(con, registries[0]).bounded(SPEC_BY_NAME["features-by-language"], start, end)
    con.close()
    assert exact.parts["installations"][0] == by_value["installations"]  # the job's SQL: the same cells


def test_every_breakdown_question_is_asked_from_its_own_release(generous: Released) -> None:
    _, db, _ = generous
    source = LocalSource(open_database(db))
    window = Window("millwright", F.START, F.START + dt.timedelta(days=27), "week")
    for dimension in DIMENSIONS:
        table = source.ask(f"features-by-{dimension}", window)
        assert table.rows and any("privacy cost: ρ" in n for n in table.notes), dimension
        assert any(n.startswith("active installations per value: ") for n in table.notes)
        assert f"features-by-{dimension}" in QUESTIONS
    source.close()
