"""The Help-menu item as a toolkit-neutral model: label, checked, enabled with a reason, actions.

A toolkit adapter (see `optin.client.tk`) draws it; any other toolkit wires the same model in
a few lines: a check item bound to `checked`/`toggle`, and two plain items for the dialogs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import orjson

from ._light import NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

    from ._feedback import Feedback
    from ._history import Sent

PROGRAM_LABEL: Final = "Customer Feedback Program"
WHAT_IS_SENT_LABEL: Final = "What is sent…"
VIEW_SENT_LABEL: Final = "View sent data…"
# The state in words beside the label: Tk on some platforms draws no check mark in a menu.
STATE_ON: Final = "On"
STATE_OFF: Final = "Off"
STATE_PAUSED: Final = "On, paused"  # the user's choice is on; an administrator stops sending
OFF_NOTHING_SENT: Final = "The Customer Feedback Program is off. Nothing had been sent from this computer."
OFF_ERASING: Final = (
    "The Customer Feedback Program is off. The data sent from this computer is being erased from the "
    "vendor's collector, and nothing more is sent."
)


class MenuItem(NamedTuple):
    label: str  # the program's name and its state in words: "Customer Feedback Program: On"
    checked: bool  # the user's choice
    enabled: bool  # False only when it cannot be changed (an administrator forced it off and it is off)
    reason: str  # why it cannot be turned on, for the user; empty when it can
    detail: str = ""  # which setting forces it off (a detail line or tooltip, not the main text)


class HelpMenu:
    """What the Help menu shows and does for the Customer Feedback Program.

    One model serves every menu of the application (one per window, say): each toolkit menu
    subscribes to it and is redrawn when consent changes through any of them.
    """

    def __init__(self, feedback: Feedback, on_change: Callable[[], None] | None = None) -> None:
        self.feedback = feedback
        self.on_change = on_change
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every change made through this model; returns the unsubscribe call."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def changed(self) -> None:
        """Redraw every subscribed menu, then tell the host (``on_change``)."""
        for listener in list(self._listeners):
            listener()
        if self.on_change:
            self.on_change()

    def item(self) -> MenuItem:
        feedback = self.feedback
        forced, chosen = feedback.forced_off, feedback.state.is_on
        label = f"{PROGRAM_LABEL}: {STATE_PAUSED if feedback.paused else STATE_ON if chosen else STATE_OFF}"
        if forced is None:
            return MenuItem(label, chosen, True, "")
        # Under an administrative off the user can still turn it off (and have the data erased), never on.
        return MenuItem(label, chosen, chosen, forced.reason, forced.detail)

    def turn_on(self, categories: tuple[str, ...]) -> bool:
        """The user chose these categories after reading `turn_on_paragraphs`; returns whether it is on."""
        on = self.feedback.turn_on(surface="help_menu", categories=categories)
        self.changed()
        return on

    def turn_off(self) -> str:
        """The user turned it off; returns what happened, in words for the user."""
        state = self.feedback.state
        sent = state.ever_sent or bool(state.pending_deletion)
        self.feedback.turn_off(surface="help_menu")
        self.changed()
        return OFF_ERASING if sent else OFF_NOTHING_SENT

    def toggle(self) -> bool:
        """Turn it off, or on with every category: only for a toolkit that showed `ask_paragraphs` first.

        A menu that can open a dialog shows `turn_on_paragraphs` with a choice per category, then
        calls `turn_on`; returns the new checked state.
        """
        if self.feedback.state.is_on:
            self.feedback.turn_off(surface="help_menu")
        elif self.feedback.forced_off is None:
            self.feedback.turn_on(surface="help_menu")
        self.changed()
        return self.feedback.state.is_on

    def _closing(self) -> list[tuple[str, str]]:
        wording = self.feedback.wording
        paragraphs = [
            ("", wording.never_sent),
            (
                "",
                f"It stays off unless you turn it on. You can turn it off or on again at any time from "
                f"Help → {PROGRAM_LABEL}; turning it off erases what was sent.",
            ),
        ]
        paragraphs += [("", line) for line in wording.contact_lines()]
        return paragraphs

    @staticmethod
    def _intro(app_name: str) -> str:
        return (
            f"If you take part, {app_name} sends basic system and usage information once a day. It is used "
            "only for quality and product improvement, is kept confidential and is reviewed only in aggregate."
        )

    def ask_paragraphs(self, app_name: str) -> list[tuple[str, str]]:
        """The ask dialog's words as (title, text) pairs, title "" for plain paragraphs.

        Every toolkit shows the same words: the category titles and descriptions are the registry's
        own, what is never sent and the contact lines are the application's (`Feedback.wording`).
        """
        paragraphs = [("", f"Would you like to help improve {app_name}? " + self._intro(app_name))]
        paragraphs += [(category.title, category.description) for category in self.feedback.categories()]
        return paragraphs + self._closing()

    def turn_on_paragraphs(self, app_name: str) -> tuple[str, list[tuple[str, str, str]], list[tuple[str, str]]]:
        """The turn-on dialog's words: an introduction, (name, title, description) of each category the
        user can tick, and the closing paragraphs, the same words as the ask dialog's."""
        intro = self._intro(app_name) + " Choose what may be sent:"
        categories = [(c.name, c.title, c.description) for c in self.feedback.categories()]
        return intro, categories, self._closing()

    def what_is_sent(self) -> str:
        """Plain words from the registry, then the exact next report."""
        feedback, forced = self.feedback, self.feedback.forced_off
        if forced is not None:
            lines = [f"{forced.reason}: nothing is sent ({forced.detail}).", ""]
        elif not feedback.is_on:
            lines = [f"The {PROGRAM_LABEL} is off: nothing is sent.", ""]
        else:
            lines = []
        lines += [f"When the {PROGRAM_LABEL} is on, this is sent once a day:", ""]
        for category in self.feedback.categories():
            lines += [category.title, "  " + category.description, ""]
        lines += [
            self.feedback.wording.never_sent,
            "Data is reviewed only in aggregate.",
            *self.feedback.wording.contact_lines(),
            "",
            "The next report, exactly as it would be sent:",
            self.feedback.preview().decode("utf-8"),
        ]
        return "\n".join(lines)

    def sent_data(self) -> list[Sent]:
        return self.feedback.history.entries()

    def export_sent_data(self, target: Path) -> int:
        """Write the local history to a JSON file; returns how many entries."""
        return self.feedback.history.export(target)

    def clear_sent_data(self) -> None:
        self.feedback.history.clear()

    def sent_data_text(self) -> str:
        entries = self.sent_data()
        if not entries:
            return "Nothing has been sent from this computer."
        parts = []
        for entry in entries:
            when = dt.datetime.fromtimestamp(entry.at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            parts.append(f"{when}  {entry.result}  {entry.size} bytes  to {entry.endpoint}")
            if entry.content is None:
                parts.append("  (the content was erased from this computer when the program was turned off)")
            else:
                parts.append(orjson.dumps(entry.content, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        return "\n".join(parts)
