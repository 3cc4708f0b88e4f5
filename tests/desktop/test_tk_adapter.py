"""`optin.client.tk` on a real Tk under Xvfb: the menu items follow consent, the ask dialog says in the
registry's words what is and is not collected, "no" is as easy as "yes", and "don't ask again" holds."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

if importlib.util.find_spec("_tkinter") is None:
    pytest.skip("Tk for Python is not installed (Debian package python3-tk)", allow_module_level=True)

import tkinter as tk
from tkinter import ttk

from optin.client import Answer, Feedback, HelpMenu, ManualClock
from optin.client.tk import NEVER_LABEL, NO_LABEL, YES_LABEL, AskDialog, TkHelpMenu
from optin.contract import Registry

from ._tk import DAY, START, answer_when_shown, entries, labelled, make_feedback, turn_on_when_shown, widgets
from ._x11 import Display

OUT = Path(__file__).resolve().parent / "out"


class TkApp(NamedTuple):
    clock: ManualClock
    feedback: Feedback
    items: TkHelpMenu


@pytest.fixture
def tk_app(root: tk.Tk, registry: Registry, tmp_path: Path) -> TkApp:
    """An app with feedback off (as shipped) and the Help-menu item, on a clock the test moves."""
    clock = ManualClock(START)
    feedback = make_feedback(registry, tmp_path, clock)
    return TkApp(clock, feedback, TkHelpMenu(tk.Menu(root, tearoff=False), HelpMenu(feedback), parent=root))


def test_importing_optin_client_does_not_import_tkinter() -> None:
    code = "import sys, optin.client; from optin.client import HelpMenu; print('tkinter' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_the_check_item_follows_consent_both_ways(root: tk.Tk, registry: Registry, tmp_path: Path) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START))
    menu = tk.Menu(root, tearoff=False)
    changes: list[bool] = []
    items = TkHelpMenu(
        menu, HelpMenu(feedback, on_change=lambda: changes.append(feedback.is_on)), "Millwright", parent=root
    )
    try:
        assert entries(menu) == [
            ("Customer Feedback Program: Off", "normal"),
            ("What is sent…", "normal"),
            ("View sent data…", "normal"),
        ]
        assert items.var.get() is False and not feedback.is_on  # off by default
        turn_on_when_shown(root)
        menu.invoke(items.index)  # the user clicks the check item, then "Turn on" in the dialog
        assert feedback.is_on and items.var.get() is True and feedback.state.surface == "help_menu"
        assert entries(menu)[0] == ("Customer Feedback Program: On", "normal")
        menu.invoke(items.index)
        assert not feedback.is_on and items.var.get() is False
        assert items.notice is not None and "Nothing had been sent" in str(items.notice.label.cget("text"))
        turn_on_when_shown(root)
        menu.invoke(items.index)
        assert feedback.is_on and changes == [True, False, True]
    finally:
        feedback.close(2)


def test_forced_off_shows_the_item_disabled_with_the_reason(root: tk.Tk, registry: Registry, tmp_path: Path) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START), environ={"DO_NOT_TRACK": "1"})
    menu = tk.Menu(root, tearoff=False)
    items = TkHelpMenu(menu, HelpMenu(feedback), parent=root)
    assert entries(menu)[:3] == [
        ("Customer Feedback Program: Off", "disabled"),
        ("Turned off by your administrator", "disabled"),
        ("(DO_NOT_TRACK is set on this computer)", "disabled"),
    ]
    menu.invoke(items.index)
    items.toggle()  # even if something calls the action directly
    assert not feedback.is_on and items.var.get() is False
    assert items.ask_if_due() is None  # and it never asks


def test_the_dialog_says_in_the_registrys_words_what_is_and_is_not_collected(
    root: tk.Tk, registry: Registry, tmp_path: Path
) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START))
    words = HelpMenu(feedback).ask_paragraphs("Millwright")
    for category in registry.categories.values():
        assert (category.title, category.description) in words
    never = " ".join(text for _, text in words)
    assert "Never sent" in never and "re-create" in never and "Help → Customer Feedback Program" in never
    dialog = AskDialog(root, feedback, "Millwright")
    shown = [str(w.cget("text")) for w in widgets(dialog.window) if isinstance(w, ttk.Label)]
    assert all(text in shown for pair in words for text in pair if text)
    dialog.window.destroy()


def test_declining_is_as_easy_as_accepting(root: tk.Tk, registry: Registry, tmp_path: Path) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START))
    dialog = AskDialog(root, feedback, "Millwright")
    dialog.window.update()
    yes, no = dialog.yes_button, dialog.no_button
    assert (yes.winfo_width(), yes.winfo_height()) == (no.winfo_width(), no.winfo_height())
    assert (
        str(yes.cget("style")) == str(no.cget("style"))
        and str(yes.cget("default")) == str(no.cget("default")) == "normal"
    )
    assert yes.winfo_y() == no.winfo_y()  # side by side, one click each
    dialog.window.destroy()


def test_no_records_a_decline_and_the_app_asks_again_only_after_the_interval(root: tk.Tk, tk_app: TkApp) -> None:
    clock, feedback, items = tk_app
    answer_when_shown(root, lambda d: labelled(d, ttk.Button, NO_LABEL).invoke())  # type: ignore[attr-defined]
    assert items.ask_if_due() is Answer.NO
    assert not feedback.is_on and items.var.get() is False
    assert items.ask_if_due() is None  # asked once
    clock.advance(179 * DAY)
    assert not feedback.should_ask()
    clock.advance(2 * DAY)
    assert feedback.should_ask()  # the vendor may ask again later


def test_dont_ask_again_is_honoured_even_after_the_interval_and_a_restart(
    root: tk.Tk, registry: Registry, tmp_path: Path, tk_app: TkApp
) -> None:
    clock, feedback, items = tk_app

    def never(dialog: tk.Toplevel) -> None:
        labelled(dialog, ttk.Checkbutton, NEVER_LABEL).invoke()  # type: ignore[attr-defined]
        labelled(dialog, ttk.Button, NO_LABEL).invoke()  # type: ignore[attr-defined]

    answer_when_shown(root, never)
    assert items.ask_if_due() is Answer.NEVER
    clock.advance(3 * 365 * DAY)
    assert not feedback.should_ask()
    assert not make_feedback(registry, tmp_path, clock).should_ask()  # persisted in the consent file


def test_closing_the_dialog_is_a_decline_not_a_yes(root: tk.Tk, registry: Registry, tmp_path: Path) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START))
    items = TkHelpMenu(tk.Menu(root, tearoff=False), HelpMenu(feedback), parent=root)
    answer_when_shown(root, lambda d: d.tk.eval(d.wm_protocol("WM_DELETE_WINDOW")))  # the window's close box
    assert items.ask_if_due() is Answer.DISMISSED
    assert not feedback.is_on and not feedback.should_ask()


def test_yes_turns_it_on_and_ticks_the_item(root: tk.Tk, registry: Registry, tmp_path: Path) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START))
    changes: list[bool] = []
    items = TkHelpMenu(
        tk.Menu(root, tearoff=False), HelpMenu(feedback, on_change=lambda: changes.append(feedback.is_on)), parent=root
    )
    answer_when_shown(root, lambda d: labelled(d, ttk.Button, YES_LABEL).invoke())  # type: ignore[attr-defined]
    try:
        assert items.ask_if_due() is Answer.YES
        assert feedback.is_on and items.var.get() is True and feedback.state.surface == "prompt" and changes == [True]
    finally:
        feedback.close(2)


def test_sent_data_window_shows_the_history_in_words_and_clears_it_once_confirmed(
    root: tk.Tk, display: Display, registry: Registry, tk_app: TkApp
) -> None:
    clock, feedback, items = tk_app
    assert "Nothing has been sent" in items.show_sent_data().text.get("1.0", "end")
    turn_on_when_shown(root)
    items.toggle()
    feedback.count("toolpath.pocket", 12)
    what = items.show_what_is_sent()
    shown = what.text.get("1.0", "end")
    pocket = registry.metrics["toolpath.pocket"].description.rstrip(".")
    assert f"{pocket}: used 12 times" in shown and '"toolpath.pocket"' not in shown  # words first
    shot(display, root, "tk-what-is-sent-in-words")
    labelled(what.window, ttk.Button, "Exact JSON").invoke()  # type: ignore[attr-defined]
    assert '"toolpath.pocket": 12' in what.text.get("1.0", "end")  # one click away
    shot(display, root, "tk-what-is-sent-exact")
    what.window.destroy()
    clock.advance(86400)  # the period ends: the close builds its report
    feedback.close(5)  # the period's report is handed to the (in-memory) collector
    window = items.show_sent_data()
    text = window.text.get("1.0", "end")
    assert " received " in text and f"{pocket}: used 12 times" in text and "UTC" not in text  # local time, words
    shot(display, root, "tk-sent-data")
    # Clear asks first, saying it clears this computer's list only; "Cancel" keeps the list.
    questions: list[str] = []

    def answer(label: str) -> None:
        def act(dialog: tk.Toplevel) -> None:
            questions.append(" ".join(str(w.cget("text")) for w in widgets(dialog) if isinstance(w, ttk.Label)))
            shot(display, root, "tk-clear-confirmation")
            labelled(dialog, ttk.Button, label).invoke()  # type: ignore[attr-defined]

        answer_when_shown(root, act)

    answer("Cancel")
    labelled(window.window, ttk.Button, "Clear").invoke()  # type: ignore[attr-defined]
    assert len(feedback.history.entries()) == 1 and "this computer's list only" in questions[0]
    answer("Clear")
    labelled(window.window, ttk.Button, "Clear").invoke()  # type: ignore[attr-defined]
    assert feedback.history.entries() == [] and "Nothing has been sent" in window.text.get("1.0", "end")


def shot(display: Display, root: tk.Tk, name: str) -> Path:
    """The whole test display as a PNG in tests/desktop/out/ (git-ignored), to look at."""
    root.update()
    return display.screenshot(OUT / f"{name}.png")
