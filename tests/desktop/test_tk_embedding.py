"""`optin.client.tk` inside an existing Tk application, on a real Tk under Xvfb: several windows each with
a menu bar on one model, kept in step through on and off; a host that inserts, deletes and rebuilds
entries of its Help menu around ours; the turn-on dialog's choice per category; counting a host's own
key binding with real key presses. Screenshots go to tests/desktop/out/."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Final

import orjson
import pytest

if importlib.util.find_spec("_tkinter") is None:
    pytest.skip("Tk for Python is not installed (Debian package python3-tk)", allow_module_level=True)

import tkinter as tk
from tkinter import ttk

from optin.client import Answer, HelpMenu, ManualClock, Wording
from optin.client.tk import CANCEL_LABEL, TURN_ON_LABEL, YES_LABEL, TkHelpMenu, TurnOnDialog, count_binding
from optin.contract import Registry

from ._tk import DAY, START, answer_when_shown, entries, labelled, make_feedback, turn_on_when_shown, widgets
from ._x11 import Display, wait_for

OUT: Final = Path(__file__).resolve().parent / "out"
SESSIONS: Final = "Sessions and usage time"  # a category title of the millwright registry


def editor_window(root: tk.Tk, number: int, model: HelpMenu) -> tuple[tk.Toplevel, tk.Menu, TkHelpMenu]:
    """One of the host's editor windows: its own menu bar and Help menu, the feedback entries among the host's."""
    window = tk.Toplevel(root)
    window.title(f"Editor {number}")
    window.geometry(f"420x260+{40 + number * 440}+40")
    bar = tk.Menu(window)
    help_menu = tk.Menu(bar, tearoff=False)
    help_menu.add_command(label="Contents")
    items = TkHelpMenu(help_menu, model, "Millwright", parent=window)
    help_menu.add_separator()
    help_menu.add_command(label="About")
    bar.add_cascade(label="Help", menu=help_menu)
    window.configure(menu=bar)
    return window, help_menu, items


def labels(menu: tk.Menu) -> list[str]:
    return [label for label, _ in entries(menu)]


def screenshot(root: tk.Misc, display: Display, name: str) -> Path:
    root.update()
    return display.screenshot(OUT / f"{name}.png")


def posted(root: tk.Tk, display: Display, menu: tk.Menu, window: tk.Misc, name: str) -> Path:
    """Drop a menu down over its window, as a click on the menu bar would, and take a screenshot."""
    root.update()
    menu.post(window.winfo_rootx() + 10, window.winfo_rooty() + 10)
    try:
        return screenshot(root, display, name)
    finally:
        menu.unpost()


def test_several_windows_on_one_model_stay_in_step_through_on_and_off(
    root: tk.Tk, display: Display, registry: Registry, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    feedback = make_feedback(registry, tmp_path, clock)
    changes: list[bool] = []
    model = HelpMenu(feedback, on_change=lambda: changes.append(feedback.is_on))
    windows = [editor_window(root, n, model) for n in (0, 1, 2)]
    menus = [menu for _, menu, _ in windows]
    try:
        assert all(labels(m)[1] == "Customer Feedback Program: Off" for m in menus)

        def choose(dialog: tk.Toplevel) -> None:
            screenshot(root, display, "embed-1-turn-on-dialog")
            labelled(dialog, ttk.Checkbutton, SESSIONS).invoke()  # type: ignore[attr-defined]
            labelled(dialog, ttk.Button, TURN_ON_LABEL).invoke()  # type: ignore[attr-defined]

        answer_when_shown(root, choose)
        menus[1].invoke(windows[1][2].index)  # on, from the second window's Help menu
        assert feedback.is_on and "sessions" not in feedback.state.categories
        for _window, menu, items in windows:
            assert items.var.get() is True and entries(menu)[1] == ("Customer Feedback Program: On", "normal")
        posted(root, display, menus[2], windows[2][0], "embed-2-third-window-menu-on")

        menus[2].invoke(windows[2][2].index)  # off, from the third
        assert not feedback.is_on and changes == [True, False]
        for _window, menu, items in windows:
            assert items.var.get() is False and labels(menu)[1] == "Customer Feedback Program: Off"
        notice = windows[2][2].notice
        assert notice is not None and notice.window.master is windows[2][0]  # over that window
        screenshot(root, display, "embed-3-turned-off-notice")
        notice.window.destroy()

        windows[1][0].destroy()  # the user closes the second window: its menu no longer listens
        clock.advance(181 * DAY)  # turning it off by hand was a decline: the app asks again months later
        answer_when_shown(root, lambda d: labelled(d, ttk.Button, YES_LABEL).invoke())
        assert windows[0][2].ask_if_due() is Answer.YES  # asked over the first window: every open menu follows
        for index in (0, 2):
            assert windows[index][2].var.get() is True and labels(menus[index])[1].endswith(": On")
        assert changes == [True, False, True]
    finally:
        feedback.close(2)


def test_a_host_that_inserts_and_rebuilds_help_menu_entries_keeps_ours_working(
    root: tk.Tk, registry: Registry, tmp_path: Path
) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START), environ={"DO_NOT_TRACK": "1"})
    model = HelpMenu(feedback)
    _window, menu, items = editor_window(root, 0, model)
    ours = [
        "Customer Feedback Program: Off",
        "Turned off by your administrator",
        "(DO_NOT_TRACK is set on this computer)",
    ]
    ours += ["What is sent…", "View sent data…"]
    assert labels(menu) == ["Contents", *ours, "", "About"]

    # The host puts entries of its own in front of ours (plugins, say) and redraws after a change.
    menu.insert_command(0, label="Tutorials")
    menu.insert_command(1, label="What's new")
    model.changed()
    assert entries(menu)[:3] == [("Tutorials", "normal"), ("What's new", "normal"), ("Contents", "normal")]
    assert items.index == 3 and entries(menu)[3] == ("Customer Feedback Program: Off", "disabled")

    # The host rebuilds the tail after ours (recent files, say): ours are untouched.
    assert items.last == items.index + len(ours) - 1
    menu.delete(items.last + 2, "end")  # after ours and the separator, as docs/client.md shows
    for label in ("Recent: bracket", "Recent: housing", "About"):
        menu.add_command(label=label)
    assert labels(menu)[3:] == [*ours, "", "Recent: bracket", "Recent: housing", "About"]

    # The host rebuilds the whole menu (the user edited it): ours go with it and come back once, in place.
    menu.delete(0, "end")
    menu.add_command(label="Contents")
    menu.add_separator()
    menu.add_command(label="About")
    items.add(index=1)
    items.add(index=1)  # idempotent: a host may call it after every rebuild
    assert labels(menu) == ["Contents", *ours, "", "About"]
    model.changed()
    assert entries(menu)[0] == ("Contents", "normal") and entries(menu)[1][1] == "disabled"

    items.remove()
    assert labels(menu) == ["Contents", "", "About"]
    model.changed()  # no entry of ours to redraw, and none of the host's touched
    assert entries(menu) == [("Contents", "normal"), ("", "normal"), ("About", "normal")]


def test_the_turn_on_dialog_shows_every_category_and_turns_on_only_what_is_ticked(
    root: tk.Tk, display: Display, registry: Registry, tmp_path: Path
) -> None:
    wording = Wording(privacy_policy="https://millwright.example/privacy", contact="privacy@millwright.example")
    feedback = make_feedback(registry, tmp_path, ManualClock(START), wording=wording)
    model = HelpMenu(feedback)
    dialog = TurnOnDialog(root, model, "Millwright")
    shown = [str(w.cget("text")) for w in widgets(dialog.window) if isinstance(w, ttk.Label | ttk.Checkbutton)]
    for category in registry.categories.values():
        assert category.title in shown and category.description in shown  # the registry's own words
    assert wording.never_sent in shown and "Privacy policy: https://millwright.example/privacy" in shown
    turn_on, cancel = dialog.turn_on_button, dialog.cancel_button
    dialog.window.update()
    assert (turn_on.winfo_width(), turn_on.winfo_height()) == (cancel.winfo_width(), cancel.winfo_height())
    for category in registry.categories.values():
        labelled(dialog.window, ttk.Checkbutton, category.title).invoke()  # type: ignore[attr-defined]
    assert turn_on.instate(["disabled"])  # nothing ticked: nothing to agree to
    labelled(dialog.window, ttk.Checkbutton, SESSIONS).invoke()  # type: ignore[attr-defined]
    assert turn_on.instate(["!disabled"])
    dialog.window.destroy()

    items = TkHelpMenu(tk.Menu(root, tearoff=False), model, parent=root)
    answer_when_shown(root, lambda d: labelled(d, ttk.Button, CANCEL_LABEL).invoke())  # type: ignore[attr-defined]
    items.toggle()
    assert not feedback.is_on and items.var.get() is False and feedback.state.changed_at is None  # cancel: nothing
    answer_when_shown(root, lambda d: d.tk.eval(d.wm_protocol("WM_DELETE_WINDOW")))  # the window's close box
    items.toggle()
    assert not feedback.is_on and items.var.get() is False
    turn_on_when_shown(root, untick=tuple(c.title for c in registry.categories.values() if c.name != "usage"))
    items.toggle()
    assert feedback.is_on and feedback.state.categories == ("usage",)
    feedback.close(1)


def test_a_hosts_own_key_binding_is_counted_with_real_key_presses(
    root: tk.Tk, display: Display, registry: Registry, tmp_path: Path
) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START))
    assert feedback.turn_on()
    canvas = tk.Canvas(root, background="white")
    canvas.pack(fill="both", expand=True)
    pockets: list[str] = []

    def host_pocket(_event: object) -> str:
        pockets.append("pocket")
        return "break"  # the host stops the event here: a binding added after it would never run

    canvas.bind("<KeyPress-p>", host_pocket)
    count_binding(canvas, "<KeyPress-p>", lambda: feedback.count("toolpath.pocket"))
    root.update()
    display.xdotool("windowfocus", "--sync", str(int(root.wm_frame(), 16)))
    canvas.focus_force()
    root.update()
    display.key("p", "p", "p")

    def three_pockets() -> bool:
        root.update()
        return len(pockets) == 3

    wait_for("the three key presses to reach the canvas", three_pockets)
    assert pockets == ["pocket"] * 3  # the host's own binding ran for each press
    assert orjson.loads(feedback.preview())["metrics"]["toolpath.pocket"] == 3
    feedback.close(1)


def test_forced_off_menu_screenshot(root: tk.Tk, display: Display, registry: Registry, tmp_path: Path) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START), environ={"MILLWRIGHT_FEEDBACK": "off"})
    window, menu, _items = editor_window(root, 0, HelpMenu(feedback))
    shot = posted(root, display, menu, window, "embed-4-forced-off-menu")
    assert shot.stat().st_size > 0
