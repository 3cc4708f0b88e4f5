"""The ready Tkinter adapter: the Help-menu items and the dialogs, drawn from `HelpMenu`.

    from optin.client.tk import TkHelpMenu
    model = HelpMenu(feedback)                     # one model for the whole application
    help_menu = tkinter.Menu(menubar, tearoff=False)
    feedback_items = TkHelpMenu(help_menu, model, app_name="Millwright")
    root.after(1000, feedback_items.ask_if_due)   # asks only when the policy says so

Several windows each with a menu bar: one `TkHelpMenu` per Help menu, all on the same model;
a change through any of them redraws all. The adapter finds its entries by identity, not by
position, so a host may insert, delete and rebuild its own entries around them (`add` puts
them back after a rebuild that deleted them). docs/client.md has a worked example.

Importing `optin.client` never imports this module (nor tkinter); a host app imports it
when it has a Tk user interface. The dialogs' words come from the registry's category
titles and descriptions and the application's `Wording`, so what the user reads is what the
registry allows to be sent.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from tkinter import filedialog

from ._adapter import MenuAdapter
from ._consent import Answer
from ._menu import (
    CANCEL_LABEL,
    CLOSE_LABEL,
    NEVER_LABEL,
    NO_LABEL,
    TURN_ON_LABEL,
    VIEW_SENT_LABEL,
    WHAT_IS_SENT_LABEL,
    YES_LABEL,
    HelpMenu,
)
from ._tk_dialogs import AskDialog, Confirm, Notice, TextWindow, TurnOnDialog

__all__ = [
    "CANCEL_LABEL",
    "NEVER_LABEL",
    "NO_LABEL",
    "TURN_ON_LABEL",
    "YES_LABEL",
    "AskDialog",
    "TextWindow",
    "TkHelpMenu",
    "TurnOnDialog",
    "count_binding",
]


class TkHelpMenu(MenuAdapter["TextWindow"]):
    """Adds the Customer Feedback Program items to a Tk menu and keeps them in step with consent.

    ``index``: where the entries go (default: appended). ``parent``: the window dialogs open over
    (default: the menu's window). Every `TkHelpMenu` on one `HelpMenu` model is redrawn after a change
    made through any of them; call `refresh` after a change made elsewhere (the `optin` command).
    """

    def __init__(
        self,
        menu: tk.Menu,
        model: HelpMenu,
        app_name: str | None = None,
        parent: tk.Misc | None = None,
        index: int | None = None,
    ) -> None:
        self.menu = menu
        self.parent = parent or _window_of(menu)  # dialogs open over this window
        self.model = model
        self.app_name = app_name or model.feedback.registry.app.title()
        self.notice: Notice | None = None  # the last message shown (turning it off)
        self.var = tk.BooleanVar(master=menu, value=model.item().checked)
        # Each entry's command is a Tcl command of our own name: an entry is ours when its command is one
        # of these names, wherever it is. tkinter's Menu.delete deletes an entry's command with it, so a
        # host's `delete(0, "end")` takes them too; `add` makes them again.
        self._prefix = f"optin_menu{id(self)}_"
        self._actions: dict[str, Callable[[], object]] = {
            "toggle": self.toggle,
            "reason": _nothing,
            "detail": _nothing,
            "what": self.show_what_is_sent,
            "sent": self.show_sent_data,
        }
        self._toggle_cmd = self._prefix + "toggle"
        self.add(index)
        unsubscribe = model.subscribe(self.refresh)

        def destroyed(event: tk.Event[tk.Menu]) -> None:
            if event.widget is menu:
                unsubscribe()
                for key in self._actions:
                    with contextlib.suppress(tk.TclError):  # already deleted with its entry
                        menu.tk.deletecommand(self._prefix + key)

        menu.bind("<Destroy>", destroyed, add="+")

    def _command(self, key: str) -> str:
        """(Re)make the Tcl command of one of our entries; returns its name."""
        name = self._prefix + key
        self.menu.tk.createcommand(name, tk.CallWrapper(self._actions[key], None, self.menu).__call__)
        return name

    def _ours(self) -> list[int]:
        """Indexes of this adapter's entries, in menu order."""
        names = {self._prefix + key for key in self._actions}
        last = self.menu.index("end")
        found = []
        for i in range(0 if last is None else int(last) + 1):
            if self.menu.type(i) not in ("separator", "tearoff") and str(self.menu.entrycget(i, "command")) in names:
                found.append(i)
        return found

    @property
    def index(self) -> int:
        """Where the check item is now (the host may have added or removed entries before it)."""
        for i in self._ours():
            if str(self.menu.entrycget(i, "command")) == self._toggle_cmd:
                return i
        raise LookupError("the Customer Feedback Program entries are not in the menu (see add())")

    @property
    def last(self) -> int:
        """Where the last of the entries is now ("View sent data…")."""
        ours = self._ours()
        if not ours:
            raise LookupError("the Customer Feedback Program entries are not in the menu (see add())")
        return ours[-1]

    def add(self, index: int | None = None) -> None:
        """Put the entries into the menu at ``index`` (default: at the end), unless they are there.

        A host that rebuilds its Help menu, deleting these entries with its own, calls this afterwards.
        """
        if self._ours():
            return
        item = self.model.item()
        menu = self.menu
        last = menu.index("end")
        at = (0 if last is None else int(last) + 1) if index is None else index
        menu.insert_checkbutton(
            at,
            label=item.label,
            variable=self.var,
            onvalue=True,
            offvalue=False,
            underline=0,
            command=self._command("toggle"),
        )
        lines = [("reason", item.reason), ("detail", f"({item.detail})" if item.detail else "")] if item.reason else []
        for key, text in lines:
            if text:  # Tk menus have no tooltips: the reason is a line of its own, the setting a second, greyed out
                at += 1
                menu.insert_command(at, label=text, state="disabled", command=self._command(key))
        what, sent = self.model.text(WHAT_IS_SENT_LABEL), self.model.text(VIEW_SENT_LABEL)
        menu.insert_command(at + 1, label=what, underline=0, command=self._command("what"))
        menu.insert_command(at + 2, label=sent, underline=0, command=self._command("sent"))
        self.refresh()

    def remove(self) -> None:
        """Take the entries out of the menu (`add` puts them back)."""
        for i in reversed(self._ours()):
            self.menu.delete(i)

    def refresh(self) -> None:
        """Show the current state (after any change made elsewhere, for example by the `optin` command)."""
        item = self.model.item()
        self.var.set(item.checked)
        for i in self._ours():
            if str(self.menu.entrycget(i, "command")) == self._toggle_cmd:
                self.menu.entryconfigure(i, label=item.label, state="normal" if item.enabled else "disabled")

    # --- the dialogs (`MenuAdapter` decides when) --------------------------------------------------

    def ask_dialog(self) -> Answer:
        return AskDialog(self.parent, self.model.feedback, self.app_name, self.model.language).run()

    def choose_categories(self) -> tuple[str, ...] | None:
        return TurnOnDialog(self.parent, self.model, self.app_name).run()

    def show_notice(self, title: str, text: str) -> None:
        self.notice = Notice(self.parent, title, text, self.model.text(CLOSE_LABEL))

    def text_window(
        self, title: str, text: str, buttons: tuple[tuple[str, Callable[[], None]], ...], close_label: str
    ) -> TextWindow:
        return TextWindow(self.parent, title, text, buttons, close_label=close_label)

    def save_file_name(self, over: TextWindow, title: str) -> str:
        return str(filedialog.asksaveasfilename(parent=over.window, title=title, defaultextension=".json"))

    def confirm(self, over: TextWindow, title: str, question: str, yes_label: str) -> bool:
        return Confirm(over.window, title, question, yes_label, self.model.text(CANCEL_LABEL)).run()


def count_binding(widget: tk.Misc, sequence: str, record: Callable[[], object]) -> str:
    """Call ``record`` whenever ``sequence`` fires on ``widget``, before (and without touching) the host's own
    binding: a bind tag of ours goes in front of the widget's tags, so even a host callback that returns
    "break" is counted, and the host's binding still runs. Returns the tag.

        count_binding(canvas, "<KeyPress-p>", lambda: feedback.count("toolpath.pocket"))

    For a binding on a top-level window (which Tk delivers to the widget that has the focus), add to it:
    ``root.bind(sequence, lambda _e: record(), add="+")``.
    """
    tag = f"optin-count{widget}"
    tags = widget.bindtags()
    if tag not in tags:
        widget.bindtags((tag, *tags))
    widget.bind_class(tag, sequence, lambda _e: (record(), None)[1], add="+")
    return tag


def _nothing() -> None:
    """The command of the greyed-out reason lines (never called: they are disabled)."""


def _window_of(menu: tk.Menu) -> tk.Misc:
    """The window a menu belongs to (a Tk menu is a top-level window of its own)."""
    widget: tk.Misc = menu
    while isinstance(widget, tk.Menu) and widget.master is not None:
        widget = widget.master
    return widget
