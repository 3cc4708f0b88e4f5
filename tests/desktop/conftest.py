"""Desktop tests run under a real X server (Xvfb) started here; they are skipped, saying why, only
where Xvfb, xdotool, xwd or Tk are not installed (`python3 tasks.py test` installs them as root on Debian)."""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ._x11 import Display, missing_tools, xvfb

if TYPE_CHECKING:
    import tkinter as tk


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


@pytest.fixture
def root(display: Display) -> Iterator[tk.Tk]:
    """A Tk main window of this process on the test display (tkinter is imported only by tests that use it)."""
    import tkinter as tk

    window = tk.Tk(screenName=display.name)
    window.geometry("600x400+0+0")
    yield window
    window.destroy()
    del window
    # Tk widgets form reference cycles; if the collector freed them on another thread (an uploader or
    # collector thread of a later test), Tcl would abort the process ("async handler deleted by the
    # wrong thread"). Free them here, on the thread that made them.
    gc.collect()
