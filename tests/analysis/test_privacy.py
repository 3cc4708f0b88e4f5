"""The mechanism, tried as an adversary would: two fleets that differ by one installation.

The neighbour installation is the worst case the bounding allows: it uses more features than
``max_features``, each far beyond its ``release_bound``. Its effect on the bounded vector must stay
within the sensitivity the noise is calibrated for, and over many runs of OpenDP's mechanism the
best test between the two fleets (the likelihood-ratio statistic, a projection on their
difference) may not tell them apart better than (ε, δ) allows, up to sampling error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from pathlib import Path

import duckdb
import pytest

from optin.analysis import LocalSource, open_database, run_releases
from optin.analysis._noise import epsilon, l2_bound, release
from optin.analysis._release_plan import SPEC_BY_NAME, release_rho
from optin.analysis._release_sql import Bounding
from optin.contract import Registry, Value

from . import fleet as F

RUNS = 2500  # per fleet; the tolerance below is four binomial standard errors
DELTA = 0.05  # the check is at this δ, where the tails of the loss are within reach of sampling


def neighbours(tmp: Path, registry: Registry) -> tuple[Path, Path]:
    """Two databases: a small fleet, and the same fleet plus one installation of worst-case usage."""
    fleet = F.generate(3, installations=40, days=7, other_app=0)
    usage = [m for m in registry.metrics.values() if m.kind.value == "counter" and m.category == "usage"]
    heavy: dict[str, Value] = {m.name: ({m.labels[0]: 10**6} if m.labels else 10**6) for m in usage}
    extra = dataclasses.replace(fleet.reports[0], key=len(fleet.reports) + 1, inst=10**6, values=heavy)
    with_one = dataclasses.replace(fleet, reports=[*fleet.reports, extra])
    return (
        F.write_database(fleet, [registry], tmp / "without.duckdb"),
        F.write_database(with_one, [registry], tmp / "with.duckdb"),
    )


def bounded_features(db: Path, registry: Registry) -> tuple[list[int], int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (
            Bounding(con, registry)
            .bounded(SPEC_BY_NAME["features"], F.START, F.START + dt.timedelta(days=6))
            .parts["installations"]
        )
    finally:
        con.close()


def worst_tail_gap(rho: float, d_in: int, x0: list[int], x1: list[int]) -> float:
    """max over thresholds t of P1(T ≥ t) - e^ε P0(T ≥ t) (and the mirror), T = <noisy, x1 - x0>."""
    diff = [b - a for a, b in zip(x0, x1, strict=True)]
    eps = epsilon(rho, DELTA)

    def statistic(x: list[int]) -> list[float]:
        return sorted(sum(d * v for d, v in zip(diff, release(x, d_in, rho)[0], strict=True)) for _ in range(RUNS))

    t0, t1 = statistic(x0), statistic(x1)
    worst = -1.0
    for t in sorted(set(t0[:: RUNS // 200] + t1[:: RUNS // 200])):
        up0, up1 = sum(v >= t for v in t0) / RUNS, sum(v >= t for v in t1) / RUNS
        down0, down1 = 1 - up0, 1 - up1
        worst = max(worst, up1 - math.exp(eps) * up0, down0 - math.exp(eps) * down1)
    return worst


@pytest.fixture(scope="module")
def fleets(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> tuple[list[int], list[int], int]:
    without, with_one = neighbours(tmp_path_factory.mktemp("neighbours"), registry)
    (x0, d_in), (x1, _) = bounded_features(without, registry), bounded_features(with_one, registry)
    return x0, x1, d_in


def test_one_installation_moves_the_bounded_vector_by_at_most_the_calibrated_sensitivity(
    fleets: tuple[list[int], list[int], int], registry: Registry
) -> None:
    x0, x1, d_in = fleets
    moved = [b - a for a, b in zip(x0, x1, strict=True)]
    assert all(m in (0, 1) for m in moved) and sum(moved) == registry.max_features  # capped at 16 cells
    assert math.sqrt(sum(m * m for m in moved)) <= d_in == l2_bound(1, registry.max_features)


def test_the_observed_privacy_loss_stays_within_epsilon(fleets: tuple[list[int], list[int], int]) -> None:
    """P1(S) ≤ e^ε P0(S) + δ for every tail event of the optimal statistic, within 4 standard errors."""
    x0, x1, d_in = fleets
    rho = release_rho(SPEC_BY_NAME["features"], "week", 0.5) * 0.6  # the count part of a weekly release
    tolerance = 4 * math.sqrt(0.25 / RUNS)
    assert worst_tail_gap(rho, d_in, x0, x1) <= DELTA + tolerance


def test_the_same_check_catches_noise_calibrated_for_a_smaller_sensitivity(
    fleets: tuple[list[int], list[int], int],
) -> None:
    """The check can fail: noise for one cell (d_in = 1) on a 16-cell change leaks far beyond ε."""
    x0, x1, _ = fleets
    rho = release_rho(SPEC_BY_NAME["features"], "week", 0.5) * 0.6
    tolerance = 4 * math.sqrt(0.25 / RUNS)
    assert worst_tail_gap(rho, 1, x0, x1) > DELTA + tolerance


def test_a_release_over_the_budget_is_refused_logged_and_shown(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    db = F.write_database(F.generate(5, installations=30, days=20, other_app=0), [registry], tmp_path / "f.duckdb")
    con = duckdb.connect(str(db))
    registries = {(registry.app, registry.version): registry}
    # Days and weeks of March are released at the budget in force then...
    first = run_releases(con, registries, dt.date(2026, 3, 20), budget=0.5)
    # ...then the budget is lowered: the month of March would now overspend those weeks.
    with caplog.at_level(logging.WARNING, logger="optin.analysis"):
        later = run_releases(con, registries, dt.date(2026, 4, 10), budget=0.1)
    con.close()
    assert first.made > 0 and first.refused == 0
    assert later.refused > 0
    assert any(getattr(r, "event", "") == "release_refused" for r in caplog.records)
    source = LocalSource(open_database(db))
    weeks = source.budget("millwright")
    assert any(w.refused for w in weeks) and all(w.spent <= 0.5 * (1 + 1e-9) for w in weeks)
    refused = source.reader.refusals("millwright")
    assert ("features", "month", dt.date(2026, 3, 1)) in {(q, p, s) for q, p, s, _ in refused}
    source.close()


def test_sums_beyond_32_bits_are_released() -> None:
    """A week's clamped seconds of use over a large fleet passes 2^31: the mechanism takes 64-bit integers."""
    noisy, sd, spent = release([3_000_000_000, 0], 288000, 0.01)
    assert abs(noisy[0] - 3_000_000_000) < 20 * sd and 0 < spent <= 0.01
