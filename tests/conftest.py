from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from optin.collector import CollectorThread, Config
from optin.contract import Registry, bundled_registry


@pytest.fixture(scope="session")
def registry() -> Registry:
    return bundled_registry("millwright")


@pytest.fixture
def collector_thread(tmp_path: Path) -> Iterator[CollectorThread]:
    """A real collector (aiohttp on 127.0.0.1, DuckDB file) on a thread of the test process."""
    with CollectorThread(Config(db=tmp_path / "collector" / "optin.duckdb", host="127.0.0.1", port=0)) as running:
        yield running


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow (long fault and soak forms, the wheel install) run only when ``-m`` selects them."""
    if "slow" in (config.getoption("markexpr", "") or "") and "not slow" not in config.getoption("markexpr", ""):
        return
    skip = pytest.mark.skip(reason="long form: run with -m slow (or python bench/reliability.py --long)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
