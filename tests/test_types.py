"""`mypy --strict` stays clean over every package, run the way setuptools maps them (optin.<folder>)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("contract", "client", "collector", "analysis", "demo")


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    tree = tmp_path / "optin"
    tree.mkdir()
    for folder in FOLDERS:
        (tree / folder).symlink_to(ROOT / folder, target_is_directory=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--explicit-package-bases",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "-p",
            "optin",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
