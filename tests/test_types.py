"""`mypy --strict` stays clean over the whole tree: every package (as setuptools maps them,
optin.<folder>), the tests, the benchmarks and tasks.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("contract", "client", "collector", "analysis", "demo")
BESIDE = ("tests", "bench", "tasks.py")  # checked under their own names


def test_mypy_strict_is_clean_over_the_whole_tree(tmp_path: Path) -> None:
    tree = tmp_path / "optin"
    tree.mkdir()
    for folder in PACKAGES:
        (tree / folder).symlink_to(ROOT / folder, target_is_directory=True)
    for name in BESIDE:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=(ROOT / name).is_dir())
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--explicit-package-bases"]
    result = subprocess.run(
        [*command, "--cache-dir", str(tmp_path / ".mypy_cache"), "optin", *BESIDE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout, result.stdout  # a run that checked nothing does not pass
