"""The Tk dialogs in German under Xvfb: the Help menu, the ask dialog, "What is sent" and "View sent data"
show no English string (the client's words come from the German catalog, the categories' from the
registry's German). Screenshots are saved under tests/desktop/out/tk-de/."""

from __future__ import annotations

import gc
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

if importlib.util.find_spec("_tkinter") is None:
    pytest.skip("Tk for Python is not installed (Debian package python3-tk)", allow_module_level=True)

import tkinter as tk
from tkinter import ttk

from optin.client import HelpMenu, ManualClock, _menu as menu_words
from optin.client._policy import APP_VARIABLE_OFF, DO_NOT_TRACK_OFF, POLICY_OFF, POLICY_UNREADABLE
from optin.client.tk import AskDialog, TkHelpMenu, TurnOnDialog
from optin.contract import Registry

from ._tk import START, make_feedback
from ._x11 import Display, Geometry, wait_for

SHOTS: Final = Path(__file__).resolve().parent / "out" / "tk-de"
ENGLISH_WORDS: Final = re.compile(r"\b(the|and|your|you|is|of|sent|never|data|when|what|yes|no|off|on)\b", re.I)


@pytest.fixture
def root(display: Display) -> Iterator[tk.Tk]:
    window = tk.Tk(screenName=display.name)
    window.geometry("640x420+0+0")
    window.title("Millwright")
    yield window
    window.destroy()
    del window
    gc.collect()  # free Tk objects on this thread (see test_tk_adapter.py)


def english_fragments(registry: Registry) -> list[str]:
    """Every English sentence piece the user could read: the client's words and the registry's."""
    words = [v for k, v in vars(menu_words).items() if k.isupper() and isinstance(v, str)]
    words += [DO_NOT_TRACK_OFF, APP_VARIABLE_OFF, POLICY_OFF, POLICY_UNREADABLE]
    words += [text for c in registry.categories.values() for text in (c.title, c.description)]
    pieces = [p.strip(" .,:;…—") for w in words for p in re.split(r"\{[^}]*\}", w)]
    return [p for p in pieces if len(p) >= 4]


def assert_german(texts: list[str], registry: Registry) -> None:
    assert texts
    for text in texts:
        for fragment in english_fragments(registry):
            assert not re.search(rf"\b{re.escape(fragment)}\b", text), f"English {fragment!r} in {text!r}"
        assert not ENGLISH_WORDS.search(text), f"an English word in {text!r}"


def widgets(parent: tk.Misc) -> Iterator[tk.Misc]:
    for child in parent.winfo_children():
        yield child
        yield from widgets(child)


def texts_of(window: tk.Misc) -> list[str]:
    return [str(w.cget("text")) for w in widgets(window) if isinstance(w, ttk.Label | ttk.Button | ttk.Checkbutton)]


def shoot_menu(root: tk.Tk, menu: tk.Menu, display: Display, name: str) -> None:
    """Post the menu, wait until the X server shows it drawn, save the screen, unpost it."""
    root.wait_visibility()
    menu.post(root.winfo_rootx() + 10, root.winfo_rooty() + 10)

    def drawn() -> bool:
        root.update()
        box = Geometry("", menu.winfo_rootx(), menu.winfo_rooty(), menu.winfo_width(), menu.winfo_height())
        return menu.winfo_ismapped() and box.width > 1 and display.capture().colours_in(box) >= 3

    wait_for(f"the menu for {name}", drawn)
    display.screenshot(SHOTS / f"{name}.png")
    menu.unpost()


def dialog_in_german(window: tk.Toplevel, buttons: set[str], registry: Registry, display: Display, name: str) -> None:
    """The dialog shows these German words and no English; saved as <name>-dialog.png, then closed."""
    window.update()
    shown = texts_of(window) + [window.title()]
    assert buttons <= set(shown), shown
    assert_german(shown, registry)
    display.screenshot(SHOTS / f"{name}-dialog.png")
    window.destroy()


def menu_labels(menu: tk.Menu) -> list[str]:
    last = menu.index("end")
    return [str(menu.entrycget(i, "label")) for i in range(0 if last is None else int(last) + 1)]


def test_the_tk_menu_and_dialogs_in_german_show_no_english(
    root: tk.Tk, display: Display, registry: Registry, tmp_path: Path
) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START))
    menubar = tk.Menu(root)
    help_menu = tk.Menu(menubar, tearoff=False)
    menubar.add_cascade(label="Hilfe", menu=help_menu)
    root.configure(menu=menubar)
    items = TkHelpMenu(help_menu, HelpMenu(feedback, language="de"), app_name="Millwright", parent=root)
    assert menu_labels(help_menu) == [
        "Kundenfeedback-Programm: Aus",
        "Was gesendet wird…",
        "Gesendete Daten anzeigen…",
    ]
    shoot_menu(root, help_menu, display, "help-menu")

    asked = AskDialog(root, feedback, "Millwright", language="de").window
    dialog_in_german(asked, {"Ja, teilnehmen", "Nein, danke", "Künftig nicht mehr fragen"}, registry, display, "ask")
    turn_on = TurnOnDialog(root, HelpMenu(feedback, language="de"), "Millwright").window
    shows = {"Einschalten", "Abbrechen", "Kundenfeedback-Programm einschalten"}
    dialog_in_german(turn_on, shows, registry, display, "turn-on")

    what = items.show_what_is_sent()
    root.update()
    prose = what.text.get("1.0", "end").split("{", 1)[0]  # the words above the report's JSON
    assert_german([*prose.strip().splitlines(), what.window.title(), *texts_of(what.window)], registry)
    display.screenshot(SHOTS / "what-is-sent.png")
    what.window.destroy()

    sent = items.show_sent_data()
    root.update()
    assert sent.text.get("1.0", "end").strip() == "Von diesem Computer wurde nichts gesendet."
    assert_german([sent.text.get("1.0", "end"), sent.window.title(), *texts_of(sent.window)], registry)
    display.screenshot(SHOTS / "sent-data.png")
    sent.window.destroy()
    feedback.close(0)


def test_the_forced_off_reason_is_german_too(root: tk.Tk, display: Display, registry: Registry, tmp_path: Path) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START), {"MILLWRIGHT_FEEDBACK": "off"})
    help_menu = tk.Menu(root, tearoff=False)
    TkHelpMenu(help_menu, HelpMenu(feedback, language="de"), parent=root)
    labels = menu_labels(help_menu)
    assert labels[:3] == [
        "Kundenfeedback-Programm: Aus",
        "Von Ihrem Administrator ausgeschaltet",
        "(MILLWRIGHT_FEEDBACK schaltet das Feedback auf diesem Computer aus)",
    ]
    assert_german(labels, registry)
    shoot_menu(root, help_menu, display, "help-menu-forced-off")
