#!/usr/bin/env python3
"""The project's two set-up commands, for any machine with Python 3.11+ (Linux, macOS, Windows).

    python3 tasks.py demo      # collector + simulated fleet + aggregate report
    python3 tasks.py test      # the test suite
    python3 tasks.py catalogs  # the client's message catalogs: extract, update, compile (Babel)

Each creates (or reuses) the virtual environment .venv beside this file, installs what it
needs into it, and runs there. Extra arguments are passed on (to the demo or to pytest).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
# System packages the browser and desktop tests need (Debian names); installed only where apt-get and root are.
TEST_SYSTEM_PACKAGES = {
    "chromium": "chromium",
    "Xvfb": "xvfb",
    "xdotool": "xdotool",
    "xwd": "x11-apps",
    "g++": "g++",  # compiles the C++ example host that the agent tests drive
}

# Shared libraries Qt's offscreen platform loads on Linux (library name for ctypes -> Debian package).
QT_SYSTEM_LIBRARIES = {
    "EGL": "libegl1",
    "GL": "libgl1",
    "xkbcommon": "libxkbcommon0",
    "fontconfig": "libfontconfig1",
    "dbus-1": "libdbus-1-3",
}


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(extras: str) -> Path:
    python = venv_python()
    if not python.exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"Installing optin-telemetry[{extras}] into {VENV} ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{extras}]"], check=True)
        stamp.write_text(digest)
    return python


def ensure_system_packages() -> None:
    missing = [pkg for exe, pkg in TEST_SYSTEM_PACKAGES.items() if shutil.which(exe) is None]
    if sys.platform.startswith("linux"):
        import ctypes.util

        missing += [pkg for lib, pkg in QT_SYSTEM_LIBRARIES.items() if ctypes.util.find_library(lib) is None]
    if importlib.util.find_spec("_tkinter") is None and sys.executable.startswith("/usr/"):
        missing.append("python3-tk")  # Tk for Debian's own Python: the desktop demo and its tests
    if not missing:
        return
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(f"Note: {', '.join(missing)} not installed; the tests that need them will be skipped.", flush=True)
        return
    print(f"Installing {', '.join(missing)} with apt-get ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=False, env=env)


# Babel's keywords for the client: gettext's defaults, N_ (marked where defined, translated where shown), _n.
CATALOG_KEYWORDS = ("-k", "N_", "-k", "_n:1,2")
LOCALE_DIR = ROOT / "client" / "locale"


def catalogs(python: Path) -> int:
    """Extract every message of the client into optin.pot, merge it into each language, compile the .mo files."""
    babel = [str(python), "-m", "babel.messages.frontend"]
    template = LOCALE_DIR / "optin.pot"
    steps = [
        [
            *babel,
            "extract",
            *CATALOG_KEYWORDS,
            "--no-location",
            "--sort-output",
            "--omit-header",
            "-o",
            str(template),
            str(ROOT / "client"),
        ],
        [
            *babel,
            "update",
            "-D",
            "optin",
            "-i",
            str(template),
            "-d",
            str(LOCALE_DIR),
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        ],
        [*babel, "compile", "-D", "optin", "-d", str(LOCALE_DIR), "--statistics"],
    ]
    for step in steps:
        if subprocess.call(step, cwd=ROOT) != 0:
            return 1
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "catalogs"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "demo":
        python = ensure_venv("collector,analysis")
        return subprocess.call([str(python), "-m", "optin.demo", *rest], cwd=ROOT)
    python = ensure_venv("test")
    if command == "catalogs":
        return catalogs(python)
    ensure_system_packages()
    return subprocess.call([str(python), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
