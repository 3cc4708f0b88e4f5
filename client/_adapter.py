"""What every toolkit's Help-menu adapter does, once: `MenuAdapter`.

The Tk and Qt adapters (and any other a host writes) differ only in how they draw: a dialog
that asks, one that lets the user choose categories, a short notice, a text window and a
file chooser. They supply those; this base decides what happens when the user clicks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from ._menu import (
    CLEAR_LABEL,
    CLEAR_QUESTION,
    CLEAR_TITLE,
    CLOSE_LABEL,
    EXACT_LABEL,
    EXPORT_LABEL,
    EXPORT_TITLE,
    IN_WORDS_LABEL,
    OFF_TITLE,
    SENT_DATA_TITLE,
    WHAT_IS_SENT_TITLE,
    HelpMenu,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._consent import Answer


class TextView(Protocol):
    def set_text(self, text: str) -> None: ...
    def set_switch_label(self, label: str) -> None: ...  # the first extra button: "Exact JSON" / "In words"


View = TypeVar("View", bound=TextView)


class MenuAdapter(Generic[View]):
    """The Customer Feedback Program's menu items of one toolkit menu, on one `HelpMenu` model."""

    model: HelpMenu
    app_name: str

    # --- what a toolkit supplies -------------------------------------------------------------------

    def refresh(self) -> None:
        """Draw the model's current state (label, tick, enabled)."""
        raise NotImplementedError

    def ask_dialog(self) -> Answer:
        """Show the modal ask dialog (`HelpMenu.ask_paragraphs`); the user's answer."""
        raise NotImplementedError

    def choose_categories(self) -> tuple[str, ...] | None:
        """Show the turn-on dialog (`HelpMenu.turn_on_paragraphs`); the ticked categories, None if cancelled."""
        raise NotImplementedError

    def show_notice(self, title: str, text: str) -> None:
        """Show a short message that needs no answer (and keep it as ``notice``)."""
        raise NotImplementedError

    def text_window(
        self, title: str, text: str, buttons: tuple[tuple[str, Callable[[], None]], ...], close_label: str
    ) -> View:
        """Open a read-only text window with extra buttons beside "Close"."""
        raise NotImplementedError

    def save_file_name(self, over: View, title: str) -> str:
        """Ask where to save a file; "" when cancelled."""
        raise NotImplementedError

    def confirm(self, over: View, title: str, question: str, yes_label: str) -> bool:
        """Ask a yes/no question in a modal dialog over ``over``; True for ``yes_label``."""
        raise NotImplementedError

    # --- what happens when the user clicks ----------------------------------------------------------

    def toggle(self) -> None:
        """The user clicked the check item: turn off (saying what that did), or choose and turn on."""
        model = self.model
        if model.feedback.state.is_on:
            text = model.turn_off()
            self.show_notice(model.text(OFF_TITLE), text)
        elif model.feedback.forced_off is None:
            chosen = self.choose_categories()
            if chosen:
                model.turn_on(chosen)
        self.refresh()  # the toolkit has already flipped the tick; put it back to the truth (cancelled, refused)

    def ask_if_due(self) -> Answer | None:
        """Ask in a dialog when the ask policy says so; returns the answer, None when not asked."""
        if not self.model.feedback.should_ask():
            return None
        answer = self.ask_dialog()
        self.model.answer(answer)
        self.refresh()
        return answer

    def show_what_is_sent(self) -> View:
        """The words first; a button switches to the exact JSON and back."""
        model = self.model
        return self._switching(model.text(WHAT_IS_SENT_TITLE), lambda: model.what_is_sent(exact=False),
                               model.exact_report, ())  # fmt: skip

    def show_sent_data(self) -> View:
        """What was sent, in words (the exact JSON one click away), with Clear (confirmed) and Export."""
        model = self.model
        window: View

        def export() -> None:
            target = self.save_file_name(window, model.text(EXPORT_TITLE))
            if target:
                model.export_sent_data(Path(target))

        def clear() -> None:
            question = model.text(CLEAR_QUESTION)
            if self.confirm(window, model.text(CLEAR_TITLE), question, model.text(CLEAR_LABEL)):
                model.clear_sent_data()
                window.set_text(model.sent_data_text())

        buttons = ((model.text(CLEAR_LABEL), clear), (model.text(EXPORT_LABEL), export))
        window = self._switching(
            model.text(SENT_DATA_TITLE), model.sent_data_text, lambda: model.sent_data_text(exact=True), buttons
        )
        return window

    def _switching(
        self,
        title: str,
        words: Callable[[], str],
        exact: Callable[[], str],
        buttons: tuple[tuple[str, Callable[[], None]], ...],
    ) -> View:
        """A text window showing ``words``, with a button that switches to ``exact`` (the JSON) and back."""
        model = self.model
        window: View
        showing_words = [True]

        def switch() -> None:
            showing_words[0] = not showing_words[0]
            window.set_text(words() if showing_words[0] else exact())
            window.set_switch_label(model.text(EXACT_LABEL if showing_words[0] else IN_WORDS_LABEL))

        window = self.text_window(
            title, words(), ((model.text(EXACT_LABEL), switch), *buttons), model.text(CLOSE_LABEL)
        )
        return window
