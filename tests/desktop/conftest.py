"""Desktop tests run under a real X server (Xvfb) started here; they are skipped, saying why, only
where Xvfb, xdotool, xwd or Tk are not installed (`python3 tasks.py test` installs them as root on Debian)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from ._x11 import Display, missing_tools, xvfb


def skip_reason() -> str | None:
    missing = missing_tools()
    if importlib.util.find_spec("_tkinter") is None:
        missing.append("Tk for Python (Debian package python3-tk)")
    if missing:
        return (
            "no display server here: "
            + ", ".join(missing)
            + " not installed; `python3 tasks.py test` installs them when run as root on Debian"
        )
    return None


@pytest.fixture(scope="session")
def display() -> Iterator[Display]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with xvfb() as running:
        yield running
