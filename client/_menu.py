"""The Help-menu item as a toolkit-neutral model: label, checked, enabled with a reason, actions.

A toolkit adapter (see `optin.client.tk`) draws it; any other toolkit wires the same model in
a few lines: a check item bound to `checked`/`toggle`, and two plain items for the dialogs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import orjson

from ._i18n import N_, translations
from ._light import NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

    from ._feedback import Feedback
    from ._history import Sent

# Every word the user reads, in English (the catalogs' msgids); `HelpMenu.text` translates them.
# The Tk and Qt adapters and the agent's hosts all show these, so every toolkit says the same thing.
PROGRAM_LABEL: Final = N_("Customer Feedback Program")
NEVER_SENT: Final = N_(
    "Never sent: your models or anything that could re-create them (geometry, dimensions, names, "
    "file names or paths), your user or computer name, or your network address."
)
WHAT_IS_SENT_LABEL: Final = N_("What is sent…")
VIEW_SENT_LABEL: Final = N_("View sent data…")
YES_LABEL: Final = N_("Yes, take part")
NO_LABEL: Final = N_("No, thanks")
NEVER_LABEL: Final = N_("Don't ask me again")
OFF_REASON_LABEL: Final = N_("Off: {reason}")  # a menu line of its own where the toolkit has no tooltips
WHAT_IS_SENT_TITLE: Final = N_("What is sent — Customer Feedback Program")
SENT_DATA_TITLE: Final = N_("Sent data — Customer Feedback Program")
CLOSE_LABEL: Final = N_("Close")
CLEAR_LABEL: Final = N_("Clear")
EXPORT_LABEL: Final = N_("Export…")
EXPORT_TITLE: Final = N_("Export sent data")
ASK_INTRO: Final = N_(
    "Would you like to help improve {app}? If you take part, {app} sends basic system and usage "
    "information once a day. It is used only for quality and product improvement, is kept "
    "confidential and is reviewed only in aggregate."
)
ASK_OUTRO: Final = N_(
    "It stays off unless you turn it on. You can turn it off or on again at any time from "
    "Help → {program}; turning it off erases what was sent."
)
SENT_DAILY: Final = N_("When the Customer Feedback Program is on, this is sent once a day:")
IN_AGGREGATE: Final = N_("Data is reviewed only in aggregate.")
NEXT_REPORT: Final = N_("The next report, exactly as it would be sent:")
NOTHING_SENT: Final = N_("Nothing has been sent from this computer.")
SENT_ENTRY: Final = N_("{when}  {result}  {size} bytes  to {endpoint}")


class MenuItem(NamedTuple):
    label: str
    checked: bool
    enabled: bool
    reason: str  # why it is disabled (forced off by policy); empty when enabled


class HelpMenu:
    """What the Help menu shows and does for the Customer Feedback Program, in the user's language.

    ``language`` is the host application's interface language (``"de"``); None follows the system.
    """

    def __init__(
        self, feedback: Feedback, on_change: Callable[[], None] | None = None, language: str | None = None
    ) -> None:
        self.feedback = feedback
        self.on_change = on_change
        self.language = language

    def text(self, message: str) -> str:
        """``message`` (one of this module's words) in the user's language."""
        return translations(self.language).gettext(message)

    def item(self) -> MenuItem:
        forced = self.feedback.forced_off
        reason = self.text(forced.message).format(setting=forced.setting) if forced else ""
        return MenuItem(self.text(PROGRAM_LABEL), self.feedback.is_on, forced is None, reason)

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

    def categories(self) -> list[tuple[str, str]]:
        """Each category's title and description, as the registry words them in the user's language."""
        code = translations(self.language).info().get("language", "")
        return [category.in_language(code) for category in self.feedback.categories()]

    def ask_paragraphs(self, app_name: str) -> list[tuple[str, str]]:
        """The ask dialog's words as (title, text) pairs, title "" for plain paragraphs.

        Every toolkit shows the same words: the category titles and descriptions are the registry's own.
        """
        return [
            ("", self.text(ASK_INTRO).format(app=app_name)),
            *self.categories(),
            ("", self.text(NEVER_SENT)),
            ("", self.text(ASK_OUTRO).format(program=self.text(PROGRAM_LABEL))),
        ]

    def what_is_sent(self, preview: bytes | None = None) -> str:
        """Plain words from the registry, then the exact next report (``preview``, when already made)."""
        lines = [self.text(SENT_DAILY), ""]
        for title, description in self.categories():
            lines += [title, "  " + description, ""]
        lines += [
            self.text(NEVER_SENT),
            self.text(IN_AGGREGATE),
            "",
            self.text(NEXT_REPORT),
            (preview or self.feedback.preview()).decode("utf-8"),
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
            return self.text(NOTHING_SENT)
        parts = []
        for entry in entries:
            when = dt.datetime.fromtimestamp(entry.at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            line = self.text(SENT_ENTRY).format(
                when=when, result=entry.result, size=entry.size, endpoint=entry.endpoint
            )
            parts.append(line)
            parts.append(orjson.dumps(entry.content, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        return "\n".join(parts)
