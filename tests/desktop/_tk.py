"""Helpers for tests of `optin.client.tk` in this process on the Xvfb display: a root window, a Feedback whose
files live in the test's folder, and answering a modal dialog once it is up, as a person would."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path
from tkinter import ttk
from typing import Any

from optin.client import AppPaths, AskPolicy, Feedback, FeedbackOptions, ManualClock
from optin.client.testing import InMemoryTransport
from optin.client.tk import TURN_ON_LABEL
from optin.contract import Registry

START = 1_790_000_000.0
DAY = 86400


def make_feedback(
    registry: Registry, tmp_path: Path, clock: ManualClock, environ: dict[str, str] | None = None, **kwargs: Any
) -> Feedback:
    return Feedback(
        registry,
        app_version="2025.3.0",
        endpoint="http://127.0.0.1:9",
        options=FeedbackOptions(
            paths=AppPaths.under(tmp_path / "app"),
            clock=clock,
            transport=InMemoryTransport(),
            ask_policy=AskPolicy(grace_days=0, reask_days=180),
            environ=environ or {},
            **kwargs,
        ),
    )


def widgets(parent: tk.Misc) -> Iterator[tk.Misc]:
    for child in parent.winfo_children():
        yield child
        yield from widgets(child)


def labelled(parent: tk.Misc, kind: type, text: str) -> tk.Misc:
    return next(w for w in widgets(parent) if isinstance(w, kind) and str(w.cget("text")) == text)


def answer_when_shown(root: tk.Tk, act: Callable[[tk.Toplevel], object]) -> None:
    """Once the dialog is up and has the grab (as a person would see it), act on it."""

    def poll() -> None:
        grabbed = root.grab_current()  # type: ignore[no-untyped-call]
        if isinstance(grabbed, tk.Toplevel):
            act(grabbed)
        else:
            root.after(20, poll)

    root.after(20, poll)


def turn_on_when_shown(root: tk.Tk, untick: tuple[str, ...] = ()) -> None:
    """Answer the turn-on dialog: untick the named category titles, then press "Turn on"."""

    def act(dialog: tk.Toplevel) -> None:
        for title in untick:
            labelled(dialog, ttk.Checkbutton, title).invoke()  # type: ignore[attr-defined]
        labelled(dialog, ttk.Button, TURN_ON_LABEL).invoke()  # type: ignore[attr-defined]

    answer_when_shown(root, act)


def entries(menu: tk.Menu) -> list[tuple[str, str]]:
    """(label, state) of every entry; a separator is ("", "normal")."""
    last = menu.index("end")
    return [
        ("", "normal")
        if menu.type(i) == "separator"
        else (str(menu.entrycget(i, "label")), str(menu.entrycget(i, "state")))
        for i in range(0 if last is None else int(last) + 1)
    ]
