"""The ready Qt adapter (PySide6): the Help-menu actions and the ask dialog, drawn from `HelpMenu`.

    from optin.client import HelpMenu
    from optin.client.qt import QtHelpMenu
    help_menu = window.menuBar().addMenu("&Help")
    feedback_items = QtHelpMenu(help_menu, HelpMenu(feedback), app_name="Millwright", parent=window)
    QTimer.singleShot(1000, feedback_items.ask_if_due)   # asks only when the policy says so

Importing `optin.client` never imports this module (nor Qt); install the ``[qt]`` extra
(PySide6-Essentials) and import it when the host has a Qt user interface. The menu model and
every word are those of the Tk adapter (`_menu.py`), so both toolkits say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from . import _menu as labels  # every word the user reads, shared with the Tk adapter
from ._adapter import MenuAdapter
from ._consent import Answer
from ._menu import HelpMenu

if TYPE_CHECKING:
    from ._feedback import Feedback

__all__ = ["AskDialog", "QtHelpMenu", "TextWindow", "TurnOnDialog"]

WRAP_PX: Final = 520  # as the Tk dialog: long enough for a sentence, short enough to read
PAD_PX: Final = 12


class AskDialog(QDialog):
    """A modal dialog asking once; "yes" and "no" are equal buttons, closing it counts as "no"."""

    def __init__(self, parent: QWidget | None, feedback: Feedback, app_name: str, language: str | None = None) -> None:
        super().__init__(parent)
        self.answer = Answer.DISMISSED
        words = HelpMenu(feedback, language=language)
        self.setWindowTitle(words.text(labels.PROGRAM_LABEL))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(PAD_PX, PAD_PX, PAD_PX, PAD_PX)
        layout.setSpacing(PAD_PX // 2)
        _paragraphs(layout, words.ask_paragraphs(app_name))
        self.never = QCheckBox(words.text(labels.NEVER_LABEL))
        layout.addSpacing(PAD_PX // 2)
        layout.addWidget(self.never)
        layout.addSpacing(PAD_PX // 2)
        # Bound methods, not lambdas holding the dialog: Qt must be free to delete it with its parent.
        self.yes_button, self.no_button = _two_buttons(
            layout, (words.text(labels.YES_LABEL), self._yes), (words.text(labels.NO_LABEL), self._no)
        )
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _yes(self) -> None:
        self.answer = Answer.YES
        self.accept()

    def _no(self) -> None:
        self.answer = Answer.NO
        self.accept()

    def reject(self) -> None:
        """Escape or the window's close button: a decline, as in the Tk dialog."""
        self.answer = Answer.DISMISSED
        super().reject()

    def result_answer(self) -> Answer:
        if self.answer is not Answer.YES and self.never.isChecked():
            return Answer.NEVER
        return self.answer

    def run(self) -> Answer:
        """Show the dialog modally and wait for the answer."""
        self.exec()
        return self.result_answer()


class TurnOnDialog(QDialog):
    """Turning on from the Help menu: the ask dialog's words, a tick box per category, "Turn on" / "Cancel".

    The boxes start ticked, but nothing is on until the user presses "Turn on" having seen them; with
    no box ticked "Turn on" is disabled. Closing the dialog or Escape cancels.
    """

    def __init__(self, parent: QWidget | None, model: HelpMenu, app_name: str) -> None:
        super().__init__(parent)
        self.chosen: tuple[str, ...] | None = None
        self.setWindowTitle(model.text(labels.TURN_ON_TITLE))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(PAD_PX, PAD_PX, PAD_PX, PAD_PX)
        layout.setSpacing(PAD_PX // 2)
        intro, categories, closing = model.turn_on_paragraphs(app_name)
        _paragraphs(layout, [("", intro)])
        self.ticks: dict[str, QCheckBox] = {}
        for name, title, description in categories:
            tick = self.ticks[name] = QCheckBox(title)
            tick.setChecked(True)
            tick.toggled.connect(self._ticked)
            layout.addWidget(tick)
            label = QLabel(description)
            label.setWordWrap(True)
            label.setFixedWidth(WRAP_PX - 24)
            label.setContentsMargins(24, 0, 0, 0)
            layout.addWidget(label)
        _paragraphs(layout, closing)
        self.turn_on_button, self.cancel_button = _two_buttons(
            layout, (model.text(labels.TURN_ON_LABEL), self._turn_on), (model.text(labels.CANCEL_LABEL), self.reject)
        )
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _ticked(self) -> None:
        self.turn_on_button.setEnabled(any(tick.isChecked() for tick in self.ticks.values()))

    def _turn_on(self) -> None:
        self.chosen = tuple(name for name, tick in self.ticks.items() if tick.isChecked())
        self.accept()

    def run(self) -> tuple[str, ...] | None:
        """Show the dialog modally and wait; the ticked categories, or None when cancelled."""
        self.exec()
        return self.chosen or None


class TextWindow(QDialog):
    """A read-only text window (what is sent, sent data) with optional extra buttons."""

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        text: str,
        buttons: tuple[tuple[str, Callable[[], None]], ...] = (),
        close_label: str = labels.CLOSE_LABEL,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMinimumSize(640, 420)
        self.set_text(text)
        layout.addWidget(self.text)
        row = QHBoxLayout()
        row.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        self._switch: QPushButton | None = None
        for label, action in (*buttons, (close_label, self.close)):
            button = QPushButton(label)
            button.setAutoDefault(False)
            button.clicked.connect(action)
            row.addWidget(button)
            self.buttons[label] = button
            self._switch = self._switch or button
        layout.addLayout(row)
        self.show()
        self.text.setFocus()  # the new window takes the keyboard (Escape closes it, arrows scroll)

    def set_text(self, text: str) -> None:
        self.text.setPlainText(text)

    def set_switch_label(self, label: str) -> None:
        if self._switch is not None:
            self._switch.setText(label)


class QtHelpMenu(MenuAdapter["TextWindow"]):
    """Adds the Customer Feedback Program actions to a Qt menu and keeps them in step with consent."""

    def __init__(
        self, menu: QMenu, model: HelpMenu, app_name: str | None = None, parent: QWidget | None = None
    ) -> None:
        self.menu = menu
        self.parent = parent or menu.parentWidget()  # dialogs open over this window
        self.model = model
        self.app_name = app_name or model.feedback.registry.app.title()
        self.notice: QMessageBox | None = None  # the last message shown (turning it off)
        item = model.item()
        self.action = QAction(item.label, menu)
        self.action.setCheckable(True)
        self.action.triggered.connect(self.toggle)
        menu.addAction(self.action)
        self.reason: list[QAction] = []
        if item.reason:
            # The reason as a line of its own, the setting on a second, greyed out; the setting as tooltip too.
            menu.setToolTipsVisible(True)
            self.action.setToolTip(item.detail)
            for text in (item.reason, f"({item.detail})" if item.detail else ""):
                if text:
                    line = menu.addAction(text)
                    line.setEnabled(False)
                    self.reason.append(line)
        self.what_is_sent = menu.addAction(model.text(labels.WHAT_IS_SENT_LABEL))
        self.what_is_sent.triggered.connect(self.show_what_is_sent)
        self.view_sent = menu.addAction(model.text(labels.VIEW_SENT_LABEL))
        self.view_sent.triggered.connect(self.show_sent_data)
        unsubscribe = model.subscribe(self.refresh)
        menu.destroyed.connect(unsubscribe)
        self.refresh()

    def refresh(self) -> None:
        """Show the current state (after any change made elsewhere, for example by the `optin` command)."""
        item = self.model.item()
        self.action.setText(item.label)
        self.action.setChecked(item.checked)
        self.action.setEnabled(item.enabled)

    # --- the dialogs (`MenuAdapter` decides when) --------------------------------------------------

    def ask_dialog(self) -> Answer:
        return AskDialog(self.parent, self.model.feedback, self.app_name, self.model.language).run()

    def choose_categories(self) -> tuple[str, ...] | None:
        return TurnOnDialog(self.parent, self.model, self.app_name).run()

    def show_notice(self, title: str, text: str) -> None:
        self.notice = QMessageBox(QMessageBox.Icon.Information, title, text, parent=self.parent)
        self.notice.show()  # not modal: the message needs no answer

    def text_window(
        self, title: str, text: str, buttons: tuple[tuple[str, Callable[[], None]], ...], close_label: str
    ) -> TextWindow:
        return TextWindow(self.parent, title, text, buttons, close_label)

    def confirm(self, over: TextWindow, title: str, question: str, yes_label: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, title, question, parent=over)
        yes = box.addButton(yes_label, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.model.text(labels.CANCEL_LABEL), QMessageBox.ButtonRole.RejectRole)
        self.confirmation = box  # for tests and screenshots: the question on screen
        box.exec()
        return box.clickedButton() is yes

    def save_file_name(self, over: TextWindow, title: str) -> str:
        target, _filter = QFileDialog.getSaveFileName(over, title, "", "JSON (*.json)")
        return str(target)


def _paragraphs(layout: QVBoxLayout, pairs: list[tuple[str, str]]) -> None:
    for title, text in pairs:
        if title:
            layout.addSpacing(PAD_PX // 2)
            heading = QLabel(title)
            font = QFont(heading.font())
            font.setBold(True)
            heading.setFont(font)
            layout.addWidget(heading)
        label = QLabel(text)
        label.setWordWrap(True)
        label.setFixedWidth(WRAP_PX)
        layout.addWidget(label)


def _two_buttons(
    layout: QVBoxLayout, first: tuple[str, Callable[[], object]], second: tuple[str, Callable[[], object]]
) -> tuple[QPushButton, QPushButton]:
    """Two buttons of the same size side by side: declining is as easy as accepting."""
    row = QHBoxLayout()
    made = []
    for label, action in (first, second):
        button = QPushButton(label)
        button.clicked.connect(action)
        button.setAutoDefault(False)  # no default button: Return by reflex answers nothing
        row.addWidget(button, 1)
        made.append(button)
    layout.addLayout(row)
    return made[0], made[1]
