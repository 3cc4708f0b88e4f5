"""The client installed as a wheel into a host's own environment works in a host that sets `sys.path`
itself (absolute paths, no `site`), as embedded interpreters do; the development (editable) install
does not, which is why docs/client.md says to install the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
# A host that builds sys.path from absolute paths it knows and imports without `site` (no .pth files read).
HOST: Final = r"""
import os, sys
sys.path[:] = [os.path.abspath(p) for p in sys.argv[1:]]
import optin.client, optin.client.tk
from optin.client import AppPaths, Feedback, FeedbackOptions, HelpMenu
from optin.contract import bundled_registry_file
paths = AppPaths.under(__import__("pathlib").Path(os.environ["HOST_DATA"]))
feedback = Feedback(bundled_registry_file("millwright"), app_version="1", endpoint="http://127.0.0.1:9", options=FeedbackOptions(paths=paths))
print(optin.client.__file__)
print(HelpMenu(feedback).item().label)
print(feedback.close(0))
"""
STDLIB: Final = "import sys; print('\\n'.join(sys.path[1:]))"  # run without `site`: the standard library
PURELIB: Final = "import sysconfig; print(sysconfig.get_paths()['purelib'])"  # with `site`: the environment's


def run_host(python: Path, data: Path) -> subprocess.CompletedProcess[str]:
    """Run the host on ``python``: its standard library and its environment's site-packages, nothing else."""
    paths = [
        line
        for flags, code in ((["-S"], STDLIB), ([], PURELIB))
        for line in subprocess.run([str(python), *flags, "-c", code], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()
    ]
    env = {"HOST_DATA": str(data), "DO_NOT_TRACK": "", "PATH": os.environ.get("PATH", "")}
    return subprocess.run(
        [str(python), "-S", "-c", HOST, *paths], capture_output=True, text=True, timeout=120, cwd=data.parent, env=env
    )


@pytest.mark.slow  # a wheel build and a virtual environment: over a minute; the default run is near its budget
def test_the_wheel_imports_in_a_host_that_rewrites_sys_path(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("optin_telemetry-*.whl")
    env = tmp_path / "host-env"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=600)

    host = run_host(python, tmp_path / "host-data")
    assert host.returncode == 0, host.stderr
    module, label, closed = host.stdout.splitlines()
    assert module.startswith(str(env)) and "site-packages" in module  # the installed copy, not the checkout
    assert label == "Customer Feedback Program: Off" and closed == "True"

    # The same host on the development environment (an editable install, found through a .pth file) fails.
    dev = run_host(Path(sys.executable), tmp_path / "dev-data")
    assert dev.returncode != 0 and "No module named 'optin'" in dev.stderr
