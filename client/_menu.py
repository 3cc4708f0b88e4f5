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
NEVER_SENT: Final = (
    "Never sent: your models or anything that could re-create them (geometry, dimensions, names, "
    "file names or paths), your user or computer name, or your network address."
)
WHAT_IS_SENT_LABEL: Final = "What is sent…"
VIEW_SENT_LABEL: Final = "View sent data…"


class MenuItem(NamedTuple):
    label: str
    checked: bool
    enabled: bool
    reason: str  # why it is disabled (forced off by policy); empty when enabled


class HelpMenu:
    """What the Help menu shows and does for the Customer Feedback Program."""

    def __init__(self, feedback: Feedback, on_change: Callable[[], None] | None = None) -> None:
        self.feedback = feedback
        self.on_change = on_change

    def item(self) -> MenuItem:
        forced = self.feedback.forced_off
        return MenuItem(PROGRAM_LABEL, self.feedback.is_on, forced is None, forced.reason if forced else "")

    def toggle(self) -> bool:
        """The user clicked the check item; returns the new checked state."""
        if self.feedback.forced_off is None:
            if self.feedback.is_on:
                self.feedback.turn_off(surface="help_menu")
            else:
                self.feedback.turn_on(surface="help_menu")
        if self.on_change:
            self.on_change()
        return self.feedback.is_on

    def ask_paragraphs(self, app_name: str) -> list[tuple[str, str]]:
        """The ask dialog's words as (title, text) pairs, title "" for plain paragraphs.

        Every toolkit shows the same words: the category titles and descriptions are the registry's own.
        """
        paragraphs = [
            (
                "",
                f"Would you like to help improve {app_name}? If you take part, {app_name} sends basic system "
                "and usage information once a day. It is used only for quality and product improvement, "
                "is kept confidential and is reviewed only in aggregate.",
            )
        ]
        paragraphs += [(category.title, category.description) for category in self.feedback.categories()]
        paragraphs += [
            ("", NEVER_SENT),
            (
                "",
                f"It stays off unless you turn it on. You can turn it off or on again at any time from "
                f"Help → {PROGRAM_LABEL}; turning it off erases what was sent.",
            ),
        ]
        return paragraphs

    def what_is_sent(self) -> str:
        """Plain words from the registry, then the exact next report."""
        lines = ["When the Customer Feedback Program is on, this is sent once a day:", ""]
        for category in self.feedback.categories():
            lines += [category.title, "  " + category.description, ""]
        lines += [
            NEVER_SENT,
            "Data is reviewed only in aggregate.",
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
            parts.append(orjson.dumps(entry.content, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        return "\n".join(parts)
