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
