"""The long forms run on demand only: `pytest -m slow tests/reliability` or `python bench/reliability.py --long`."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr", "") or "") and "not slow" not in config.getoption("markexpr", ""):
        return
    skip = pytest.mark.skip(reason="long form: run with -m slow (or python bench/reliability.py --long)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
