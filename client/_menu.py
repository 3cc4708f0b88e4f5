"""The Help-menu item as a toolkit-neutral model: label, checked, enabled with a reason, actions.

A toolkit adapter (see `optin.client.tk`) draws it; any other toolkit wires the same model in
a few lines: a check item bound to `checked`/`toggle`, and two plain items for the dialogs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import orjson

from ._i18n import N_, translations
from ._light import NamedTuple
from ._policy import ADMIN_REASON
from ._wording import EXAMPLE_NEVER_SENT

if TYPE_CHECKING:
    from pathlib import Path

    from ._consent import Answer
    from ._feedback import Feedback
    from ._history import Sent

# Every word the user reads, in English (the catalogs' msgids); `HelpMenu.text` translates them.
# The Tk and Qt adapters and the agent's hosts all show these, so every toolkit says the same thing.
PROGRAM_LABEL: Final = N_("Customer Feedback Program")
NEVER_SENT: Final = EXAMPLE_NEVER_SENT  # the application's own sentence replaces it (`Wording`)
WHAT_IS_SENT_LABEL: Final = N_("What is sent…")
VIEW_SENT_LABEL: Final = N_("View sent data…")
YES_LABEL: Final = N_("Yes, take part")
NO_LABEL: Final = N_("No, thanks")
NEVER_LABEL: Final = N_("Don't ask me again")
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
NEXT_REPORT_WORDS: Final = N_("The next report, in words:")
EXACT_LABEL: Final = N_("Exact JSON")
IN_WORDS_LABEL: Final = N_("In words")
CLEAR_TITLE: Final = N_("Clear the list of sent data")
CLEAR_QUESTION: Final = N_(
    "Clear the list of what was sent from this computer? This clears this computer's list only: "
    "it does not erase anything from the vendor's collector (turning the program off does that)."
)
RECEIVED: Final = N_("received")
RECEIVED_TWICE: Final = N_("received (it was already there)")
ERASURE_CONFIRMED: Final = N_("erasure confirmed")
NO_ANSWER: Final = N_("no answer; sent again later")
ERASURE_NO_ANSWER: Final = N_("erasure requested; no answer yet")
REFUSED: Final = N_("refused by the collector ({status})")
NOTHING_SENT: Final = N_("Nothing has been sent from this computer.")
SENT_ENTRY: Final = N_("{when}  {result}  {size} bytes  to {endpoint}")
# The state in words beside the label: Tk on some platforms draws no check mark in a menu.
STATE_ON: Final = N_("On")
STATE_OFF: Final = N_("Off")
STATE_PAUSED: Final = N_("On, paused")  # the user's choice is on; an administrator stops sending
OFF_NOTHING_SENT: Final = N_("The Customer Feedback Program is off. Nothing had been sent from this computer.")
OFF_ERASING: Final = N_(
    "The Customer Feedback Program is off. The data sent from this computer is being erased from the "
    "vendor's collector, and nothing more is sent."
)
OFF_TITLE: Final = N_("Customer Feedback Program: off")
TURN_ON_TITLE: Final = N_("Turn on the Customer Feedback Program")
TURN_ON_INTRO: Final = N_(
    "If you take part, {app} sends basic system and usage information once a day. It is used only for "
    "quality and product improvement, is kept confidential and is reviewed only in aggregate. "
    "Choose what may be sent:"
)
TURN_ON_LABEL: Final = N_("Turn on")
CANCEL_LABEL: Final = N_("Cancel")
FORCED_NOTHING_SENT: Final = N_("{reason}: nothing is sent ({detail}).")
OFF_NOTHING_IS_SENT: Final = N_("The Customer Feedback Program is off: nothing is sent.")
CONTENT_ERASED: Final = N_("  (the content was erased from this computer when the program was turned off)")
PRIVACY_POLICY_LINE: Final = N_("Privacy policy: {policy}")
CONTACT_LINE: Final = N_("Questions: {contact}")


class MenuItem(NamedTuple):
    label: str  # the program's name and its state in words: "Customer Feedback Program: On"
    checked: bool  # the user's choice
    enabled: bool  # False only when it cannot be changed (an administrator forced it off and it is off)
    reason: str  # why it cannot be turned on, for the user; empty when it can
    detail: str = ""  # which setting forces it off (a detail line or tooltip, not the main text)


class HelpMenu:
    """What the Help menu shows and does for the Customer Feedback Program, in the user's language.

    ``language`` is the host application's interface language (``"de"``); None follows the system.
    One model serves every menu of the application (one per window, say): each toolkit menu
    subscribes to it and is redrawn when consent changes through any of them.
    """

    def __init__(
        self, feedback: Feedback, on_change: Callable[[], None] | None = None, language: str | None = None
    ) -> None:
        self.feedback = feedback
        self.on_change = on_change
        self.language = language
        self._listeners: list[Callable[[], None]] = []

    def text(self, message: str) -> str:
        """``message`` (one of this module's words, or the application's) in the user's language."""
        return translations(self.language).gettext(message)

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
        state = STATE_PAUSED if feedback.paused else STATE_ON if chosen else STATE_OFF
        label = f"{self.text(PROGRAM_LABEL)}: {self.text(state)}"
        if forced is None:
            return MenuItem(label, chosen, True, "")
        # Under an administrative off the user can still turn it off (and have the data erased), never on.
        detail = self.text(forced.message).format(setting=forced.setting)
        return MenuItem(label, chosen, chosen, self.text(ADMIN_REASON), detail)

    def categories(self) -> list[tuple[str, str]]:
        """Each category's title and description, as the registry words them in the user's language."""
        return [(title, description) for _name, title, description in self._named_categories()]

    def _named_categories(self) -> list[tuple[str, str, str]]:
        code = translations(self.language).info().get("language", "")
        return [(category.name, *category.in_language(code)) for category in self.feedback.categories()]

    def turn_on(self, categories: tuple[str, ...]) -> bool:
        """The user chose these categories after reading `turn_on_paragraphs`; returns whether it is on."""
        on = self.feedback.turn_on(surface="help_menu", categories=categories)
        self.changed()
        return on

    def answer(self, answer: Answer) -> None:
        """Record the user's answer to the ask dialog; redraw every menu when it changed the state."""
        was_on = self.feedback.is_on
        self.feedback.answer_prompt(answer)
        if self.feedback.is_on != was_on:
            self.changed()

    def turn_off(self) -> str:
        """The user turned it off; returns what happened, in words for the user."""
        state = self.feedback.state
        sent = state.ever_sent or bool(state.pending_deletion)
        self.feedback.turn_off(surface="help_menu")
        self.changed()
        return self.text(OFF_ERASING if sent else OFF_NOTHING_SENT)

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

    def _never_sent(self) -> str:
        """The application's sentence; the catalog's translation when it is the example's own words."""
        return self.text(self.feedback.wording.never_sent)

    def _contact_lines(self) -> list[str]:
        wording = self.feedback.wording
        lines = []
        if wording.privacy_policy:
            lines.append(self.text(PRIVACY_POLICY_LINE).format(policy=wording.privacy_policy))
        if wording.contact:
            lines.append(self.text(CONTACT_LINE).format(contact=wording.contact))
        return lines

    def _closing(self) -> list[tuple[str, str]]:
        paragraphs = [
            ("", self._never_sent()),
            ("", self.text(ASK_OUTRO).format(program=self.text(PROGRAM_LABEL))),
        ]
        return paragraphs + [("", line) for line in self._contact_lines()]

    def ask_paragraphs(self, app_name: str) -> list[tuple[str, str]]:
        """The ask dialog's words as (title, text) pairs, title "" for plain paragraphs.

        Every toolkit shows the same words: the category titles and descriptions are the registry's
        own, what is never sent and the contact lines are the application's (`Feedback.wording`).
        """
        return [("", self.text(ASK_INTRO).format(app=app_name)), *self.categories(), *self._closing()]

    def turn_on_paragraphs(self, app_name: str) -> tuple[str, list[tuple[str, str, str]], list[tuple[str, str]]]:
        """The turn-on dialog's words: an introduction, (name, title, description) of each category the
        user can tick, and the closing paragraphs, the same words as the ask dialog's."""
        return self.text(TURN_ON_INTRO).format(app=app_name), self._named_categories(), self._closing()

    def what_is_sent(self, preview: bytes | None = None, exact: bool = True) -> str:
        """While off: that nothing is sent, and what each category would send. While on: the same, then the
        next report in words (each value beside its description), then (``exact``) exactly as it would be sent."""
        feedback = self.feedback
        if feedback.forced_off is not None:
            item = self.item()
            lines = [self.text(FORCED_NOTHING_SENT).format(reason=item.reason, detail=item.detail), ""]
        elif not feedback.is_on:
            lines = [self.text(OFF_NOTHING_IS_SENT), ""]
        else:
            lines = []
        lines += [self.text(SENT_DAILY), ""]
        for title, description in self.categories():
            lines += [title, "  " + description, ""]
        lines += [self._never_sent(), self.text(IN_AGGREGATE), *self._contact_lines()]
        if feedback.is_on:
            body = preview or feedback.preview()
            lines += ["", self.text(NEXT_REPORT_WORDS), *self._in_words(orjson.loads(body))]
            if exact:
                lines += ["", self.text(NEXT_REPORT), body.decode("utf-8")]
        return "\n".join(lines)

    def exact_report(self) -> str:
        """The next report exactly as it would be sent (the "Exact JSON" button)."""
        return "\n".join([self.text(NEXT_REPORT), self.feedback.preview().decode("utf-8")])

    def _in_words(self, report: Any) -> list[str]:
        from ._readable import report_in_words

        return ["  " + line for line in report_in_words(self.feedback.registry, report, self.text)]

    def sent_data(self) -> list[Sent]:
        return self.feedback.history.entries()

    def export_sent_data(self, target: Path) -> int:
        """Write the local history to a JSON file; returns how many entries."""
        return self.feedback.history.export(target)

    def clear_sent_data(self) -> None:
        self.feedback.history.clear()

    def result_in_words(self, result: str) -> str:
        """What the collector answered, for a person ("received", "erasure confirmed", ...)."""
        deletion = result.startswith("deletion")
        known = {"accepted": "202", "duplicate (already stored)": "200"}  # the uploader's words for a report's 2xx
        status = known.get(result, result.rsplit(" ", 1)[-1])
        if not status.isdigit():
            return self.text(ERASURE_NO_ANSWER if deletion else NO_ANSWER) if "no answer" in result else result
        code = int(status)
        if 200 <= code < 300:
            return self.text(ERASURE_CONFIRMED if deletion else RECEIVED_TWICE if code == 200 else RECEIVED)
        return self.text(REFUSED).format(status=code)

    def sent_data_text(self, exact: bool = False) -> str:
        """Each report and deletion sent from this computer: local date and time, size, the answer in words, and
        the report in words (``exact``: the JSON as sent)."""
        entries = self.sent_data()
        if not entries:
            return self.text(NOTHING_SENT)
        parts = []
        for entry in entries:
            when = dt.datetime.fromtimestamp(entry.at).strftime("%Y-%m-%d %H:%M")  # this computer's local time
            result = self.result_in_words(entry.result)
            parts.append(
                self.text(SENT_ENTRY).format(when=when, result=result, size=entry.size, endpoint=entry.endpoint)
            )
            if entry.content is None:
                parts.append(self.text(CONTENT_ERASED))
            elif exact:
                parts.append(orjson.dumps(entry.content, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
            elif isinstance(entry.content, dict) and "metrics" in entry.content:
                parts += self._in_words(entry.content)
            parts.append("")
        return "\n".join(parts).rstrip("\n")
