"""The system as an operator sees it: real client and collector processes under faults and load.

Each scenario (scenarios.py) ends with the invariants of SPEC §7 and records them as checks;
a test fails with every check that did not hold. The fast forms run by default; the long
forms (more installations, longer outages, more kills, a longer soak) are marked slow and run
with `pytest -m slow tests/reliability` or `python bench/reliability.py --long`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.harness import Row, render_table
from tests.reliability.scenarios import SCENARIOS


def _run(scenario: Callable[..., Row], tmp_path: Path, long: bool) -> None:
    row = scenario(tmp_path, long=long)
    print("\n" + render_table([row]))
    assert row.checks, "a scenario without checks proves nothing"
    assert not row.failed, row.explain()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name: str, tmp_path: Path) -> None:
    _run(SCENARIOS[name], tmp_path, long=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_long(name: str, tmp_path: Path) -> None:
    _run(SCENARIOS[name], tmp_path, long=True)
