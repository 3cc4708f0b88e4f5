"""`optin.client.qt` on a real Qt (PySide6, offscreen platform) against a real collector: the checkable
action follows consent both ways, the ask dialog says in the registry's words what is and is not
collected with "no" as easy as "yes", and the text windows show what is and was sent. Screenshots of
the menu and the dialogs are saved under tests/desktop/out/qt/."""

from __future__ import annotations

import gc
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest

if importlib.util.find_spec("PySide6") is None:
    pytest.skip(
        "PySide6 is not installed (the [qt] extra; `python3 tasks.py test` installs it)", allow_module_level=True
    )

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no display server needed; widgets are drawn all the same

try:
    from PySide6.QtCore import QPoint, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox, QWidget
except ImportError as error:  # a system library Qt needs (libEGL, libxkbcommon...) is missing
    pytest.skip(
        f"Qt cannot load here: {error}; `python3 tasks.py test` installs its libraries", allow_module_level=True
    )

from optin.client import Answer, AppPaths, AskPolicy, Feedback, FeedbackOptions, HelpMenu, ManualClock
from optin.client.qt import AskDialog, QtHelpMenu, TurnOnDialog
from optin.client.tk import NEVER_LABEL, NO_LABEL, YES_LABEL
from optin.collector import CollectorThread
from optin.contract import Registry

START: Final = 1_790_000_000.0
DAY: Final = 86400
SHOTS: Final = Path(__file__).resolve().parent / "out" / "qt"


@pytest.fixture(scope="module")
def app() -> QApplication:
    existing = QApplication.instance()
    return existing if isinstance(existing, QApplication) else QApplication([])


@pytest.fixture
def window(app: QApplication) -> Iterator[QMainWindow]:
    main = QMainWindow()
    main.setWindowTitle("Millwright")
    main.resize(700, 480)
    main.show()
    yield main
    main.close()
    main.deleteLater()
    app.processEvents()
    gc.collect()  # free Qt objects here, on the thread that made them


def make_feedback(
    registry: Registry, root: Path, clock: ManualClock, endpoint: str, environ: dict[str, str] | None = None
) -> Feedback:
    return Feedback(
        registry,
        app_version="2025.3.0",
        endpoint=endpoint,
        options=FeedbackOptions(
            paths=AppPaths.under(root / "app"),
            clock=clock,
            facts=lambda: {"system.os_family": "linux", "system.ram_gib": 16},
            ask_policy=AskPolicy(grace_days=0, reask_days=180),
            environ=environ or {},
        ),
    )


def shoot(widget: QWidget, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    QApplication.processEvents()
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path


def answer_when_shown(act: Callable[[AskDialog], object]) -> None:
    """Once the modal dialog is up (its event loop running), act on it as a person would."""

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, AskDialog) and dialog.isVisible():
            shoot(dialog, "ask-dialog")
            act(dialog)
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)


def turn_on_when_shown(untick: tuple[str, ...] = ()) -> None:
    """Answer the turn-on dialog: untick the named category titles, then press "Turn on"."""

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, TurnOnDialog) and dialog.isVisible():
            shoot(dialog, "turn-on-dialog")
            for title in untick:
                next(tick for tick in dialog.ticks.values() if tick.text() == title).click()
            dialog.turn_on_button.click()
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)


def test_importing_optin_client_does_not_import_qt() -> None:
    code = "import sys, optin.client; from optin.client import HelpMenu; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_action_follows_consent_and_the_windows_show_what_is_and_was_sent(
    window: QMainWindow, registry: Registry, tmp_path: Path, collector_thread: CollectorThread
) -> None:
    clock = ManualClock(START)
    feedback = make_feedback(registry, tmp_path, clock, collector_thread.url)
    menu = window.menuBar().addMenu("&Help")
    changes: list[bool] = []
    items = QtHelpMenu(menu, HelpMenu(feedback, on_change=lambda: changes.append(feedback.is_on)), parent=window)
    try:
        labels = [(a.text(), a.isEnabled(), a.isCheckable()) for a in menu.actions()]
        assert labels == [
            ("Customer Feedback Program: Off", True, True),
            ("What is sent…", True, False),
            ("View sent data…", True, False),
        ]
        assert not items.action.isChecked() and not feedback.is_on  # off by default
        menu.popup(window.mapToGlobal(QPoint(10, 30)))
        shoot(menu, "help-menu-off")
        menu.hide()
        turn_on_when_shown(untick=(registry.categories["sessions"].title,))
        items.action.trigger()  # the user clicks the check item, unticks a category and presses "Turn on"
        assert feedback.is_on and items.action.isChecked() and feedback.state.surface == "help_menu"
        assert feedback.state.categories == ("system", "usage")
        assert items.action.text() == "Customer Feedback Program: On"
        menu.popup(window.mapToGlobal(QPoint(10, 30)))
        shoot(menu, "help-menu-on")
        menu.hide()

        feedback.count("toolpath.pocket", 4)
        what = items.show_what_is_sent()
        shown = what.text.toPlainText()
        pocket = registry.metrics["toolpath.pocket"].description.rstrip(".")
        assert all(c.description in shown for c in registry.categories.values())
        assert f"{pocket}: used 4 times" in shown and "Never sent" in shown
        shoot(what, "what-is-sent")
        what.buttons["Exact JSON"].click()
        assert '"toolpath.pocket": 4' in what.text.toPlainText()  # the exact JSON one click away
        shoot(what, "what-is-sent-exact")
        what.close()

        clock.advance(DAY)
        assert feedback.flush(30)  # the day's report reaches the real collector
        sent = items.show_sent_data()
        text = sent.text.toPlainText()
        assert " received " in text and f"{pocket}: used 4 times" in text and collector_thread.url in text
        shoot(sent, "sent-data")

        def confirm() -> None:  # Clear asks first; the question says it clears this computer's list only
            box = QApplication.activeModalWidget()
            if isinstance(box, QMessageBox) and box.isVisible():
                assert "this computer's list only" in box.text()
                shoot(box, "clear-confirmation")
                next(b for b in box.buttons() if b.text() == "Clear").click()
            else:
                QTimer.singleShot(20, confirm)

        QTimer.singleShot(20, confirm)
        sent.buttons["Clear"].click()
        assert feedback.history.entries() == [] and "Nothing has been sent" in sent.text.toPlainText()
        sent.close()

        items.action.trigger()  # off again: purge, forget the id, request deletion
        assert not feedback.is_on and not items.action.isChecked() and changes == [True, False]
        assert items.notice is not None and "being erased" in items.notice.text()
        items.notice.close()
        assert feedback.flush(30) and feedback.state.pending_deletion == ()
    finally:
        feedback.close(5)


def test_forced_off_shows_the_action_disabled_with_the_reason(
    window: QMainWindow, registry: Registry, tmp_path: Path
) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START), "http://127.0.0.1:9", {"DO_NOT_TRACK": "1"})
    menu = window.menuBar().addMenu("&Help")
    items = QtHelpMenu(menu, HelpMenu(feedback), parent=window)
    actions = menu.actions()
    assert (actions[0].text(), actions[0].isEnabled()) == ("Customer Feedback Program: Off", False)
    assert "DO_NOT_TRACK" in actions[0].toolTip() and menu.toolTipsVisible()
    assert [(a.text(), a.isEnabled()) for a in actions[1:3]] == [
        ("Turned off by your administrator", False),
        ("(DO_NOT_TRACK is set on this computer)", False),
    ]
    menu.popup(window.mapToGlobal(QPoint(10, 30)))
    shoot(menu, "help-menu-forced-off")
    menu.hide()
    items.toggle()  # even if something calls the action directly
    assert not feedback.is_on and not items.action.isChecked()
    assert items.ask_if_due() is None  # and it never asks


def test_the_dialog_says_in_the_registrys_words_what_is_and_is_not_collected_and_no_is_as_easy_as_yes(
    window: QMainWindow, registry: Registry, tmp_path: Path
) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START), "http://127.0.0.1:9")
    dialog = AskDialog(window, feedback, "Millwright")
    dialog.show()
    QApplication.processEvents()
    shown = [label.text() for label in dialog.findChildren(QLabel)]
    words = HelpMenu(feedback).ask_paragraphs("Millwright")
    assert [text for pair in words for text in pair if text] == shown  # every word, in order, nothing else
    yes, no = dialog.yes_button, dialog.no_button
    assert (yes.text(), no.text(), dialog.never.text()) == (YES_LABEL, NO_LABEL, NEVER_LABEL)
    assert yes.size() == no.size() and yes.y() == no.y()  # side by side, the same size
    assert not yes.isDefault() and not no.isDefault() and not yes.autoDefault() and not no.autoDefault()
    shoot(dialog, "ask-dialog-direct")
    dialog.reject()


@pytest.mark.parametrize(
    ("act", "expected", "on"),
    [
        (lambda d: d.yes_button.click(), Answer.YES, True),
        (lambda d: d.no_button.click(), Answer.NO, False),
        (lambda d: (d.never.setChecked(True), d.no_button.click()), Answer.NEVER, False),
        (lambda d: d.reject(), Answer.DISMISSED, False),  # Escape or the window's close box
    ],
    ids=["yes", "no", "never", "closed"],
)
def test_the_answer_is_recorded_and_the_action_follows(
    window: QMainWindow,
    registry: Registry,
    tmp_path: Path,
    act: Callable[[AskDialog], object],
    expected: Answer,
    on: bool,
) -> None:
    clock = ManualClock(START)
    feedback = make_feedback(registry, tmp_path, clock, "http://127.0.0.1:9")
    items = QtHelpMenu(window.menuBar().addMenu("&Help"), HelpMenu(feedback), parent=window)
    try:
        answer_when_shown(act)
        assert items.ask_if_due() is expected
        assert feedback.is_on is on and items.action.isChecked() is on
        assert items.ask_if_due() is None  # asked once
        clock.advance(181 * DAY)
        assert feedback.should_ask() is (expected in (Answer.NO, Answer.DISMISSED))  # "never" is final
    finally:
        feedback.close(0)


def test_the_qt_dialog_speaks_the_hosts_language(window: QMainWindow, registry: Registry, tmp_path: Path) -> None:
    feedback = make_feedback(registry, tmp_path, ManualClock(START), "http://127.0.0.1:9")
    dialog = AskDialog(window, feedback, "Millwright", language="de")
    dialog.show()
    QApplication.processEvents()
    shown = [label.text() for label in dialog.findChildren(QLabel)]
    assert shown == [
        text for pair in HelpMenu(feedback, language="de").ask_paragraphs("Millwright") for text in pair if text
    ]
    assert "Grundlegende Systeminformationen" in shown and dialog.windowTitle() == "Kundenfeedback-Programm"
    assert (dialog.yes_button.text(), dialog.no_button.text()) == ("Ja, teilnehmen", "Nein, danke")
    shoot(dialog, "ask-dialog-de")
    dialog.reject()
    menu = window.menuBar().addMenu("&Hilfe")
    QtHelpMenu(menu, HelpMenu(feedback, language="de"), parent=window)
    assert [a.text() for a in menu.actions()] == [
        "Kundenfeedback-Programm: Aus",
        "Was gesendet wird…",
        "Gesendete Daten anzeigen…",
    ]
