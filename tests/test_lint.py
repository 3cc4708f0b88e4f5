"""ruff keeps every Python file formatted and lint-clean, with the rule set in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_format_leaves_every_file_as_it_is() -> None:
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint_is_clean() -> None:
    result = _ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_sees_the_whole_tree() -> None:
    """The two checks above pass vacuously if ruff finds no files: it must see every package and the tests."""
    listed = _ruff("check", "--show-files", ".").stdout
    for part in ("client/", "collector/", "analysis/", "contract/", "demo/", "tests/", "bench/", "tasks.py"):
        assert part in listed, part
