"""The generated fleet, written and released once for every analysis test that checks against its truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from optin.analysis import run_releases
from optin.contract import Registry

from . import fleet as F

SEED = 7
TODAY = F.START + dt.timedelta(days=70)  # every week and month of the 45-day fleet has closed


def release_all(db: Path, registries: list[Registry], today: dt.date = TODAY, budget: float = 0.5) -> None:
    con = duckdb.connect(str(db))
    try:
        con.execute("BEGIN TRANSACTION")
        run_releases(con, {(r.app, r.version): r for r in registries}, today, budget)
        con.execute("COMMIT")
    finally:
        con.close()


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> tuple[F.Fleet, Path, list[Registry]]:
    folder = tmp_path_factory.mktemp("truth")
    fleet = F.generate(SEED)
    registries = [registry, dataclasses.replace(registry, app="lathekit")]
    db = F.write_database(fleet, registries, folder / "fleet.duckdb")
    release_all(db, registries)
    return fleet, db, registries


@pytest.fixture(scope="session")
def generous(
    released: tuple[F.Fleet, Path, list[Registry]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[F.Fleet, Path, list[Registry]]:
    """The same fleet released again at a large budget (independent noise, sd about 3 on breakdown counts)."""
    fleet, _, registries = released
    db = F.write_database(fleet, registries, tmp_path_factory.mktemp("generous") / "fleet.duckdb")
    release_all(db, registries, budget=40.0)
    return fleet, db, registries
