"""The Tk dialogs of the Customer Feedback Program: asking, turning on, a notice, a confirmation, a text window.

`optin.client.tk.TkHelpMenu` opens them; each draws words the `HelpMenu` model gives it, so Tk says
what every other toolkit says. Modal, fixed-size, placed over the window they belong to.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING, Final

from ._consent import Answer
from ._menu import (
    CANCEL_LABEL,
    CLOSE_LABEL,
    NEVER_LABEL,
    NO_LABEL,
    PROGRAM_LABEL,
    TURN_ON_LABEL,
    TURN_ON_TITLE,
    YES_LABEL,
    HelpMenu,
)

if TYPE_CHECKING:
    from ._feedback import Feedback

WRAP_PX: Final = 520  # dialog text width: long enough for a sentence, short enough to read
PAD_PX: Final = 12


class AskDialog:
    """A modal dialog asking once; "yes" and "no" are equal buttons, closing it counts as "no"."""

    def __init__(self, parent: tk.Misc, feedback: Feedback, app_name: str, language: str | None = None) -> None:
        words = HelpMenu(feedback, language=language)
        self.answer = Answer.DISMISSED
        window, body = _dialog(parent, words.text(PROGRAM_LABEL))
        self.window = window
        _paragraphs(body, words.ask_paragraphs(app_name))
        self.never = tk.BooleanVar(master=window, value=False)
        never = ttk.Checkbutton(body, text=words.text(NEVER_LABEL), variable=self.never, underline=0)
        never.pack(anchor="w", pady=(PAD_PX // 2, PAD_PX))
        yes, no = _two_buttons(
            body,
            (words.text(YES_LABEL), lambda: self._close(Answer.YES)),
            (words.text(NO_LABEL), lambda: self._close(Answer.NO)),
        )
        _bind_underlined(window, yes, no, never)
        window.bind("<Escape>", lambda _e: self._close(Answer.DISMISSED))
        window.protocol("WM_DELETE_WINDOW", lambda: self._close(Answer.DISMISSED))
        self.yes_button, self.no_button = yes, no
        _place_over(window, parent)

    def _close(self, answer: Answer) -> None:
        self.answer = answer
        self.window.destroy()

    def run(self) -> Answer:
        """Show the dialog and wait for the answer (the rest of the app stays drawn)."""
        _modal(self.window)
        if self.answer is not Answer.YES and self.never.get():
            return Answer.NEVER
        return self.answer


class TurnOnDialog:
    """Turning on from the Help menu: the ask dialog's words, a tick box per category, "Turn on" / "Cancel".

    The boxes start ticked, but nothing is on until the user presses "Turn on" having seen them; with
    no box ticked "Turn on" is disabled. Closing the dialog or Escape cancels.
    """

    def __init__(self, parent: tk.Misc, model: HelpMenu, app_name: str) -> None:
        self.chosen: tuple[str, ...] | None = None
        window, body = _dialog(parent, model.text(TURN_ON_TITLE))
        self.window = window
        intro, categories, closing = model.turn_on_paragraphs(app_name)
        _paragraphs(body, [("", intro)])
        self.ticks: dict[str, tk.BooleanVar] = {}
        for name, title, description in categories:
            tick = self.ticks[name] = tk.BooleanVar(master=window, value=True)
            ttk.Checkbutton(body, text=title, variable=tick, command=self._ticked).pack(anchor="w")
            ttk.Label(body, text=description, wraplength=WRAP_PX - 24, justify="left").pack(
                anchor="w", padx=(24, 0), pady=(0, PAD_PX // 2)
            )
        _paragraphs(body, closing)
        self.turn_on_button, self.cancel_button = _two_buttons(
            body, (model.text(TURN_ON_LABEL), self._turn_on), (model.text(CANCEL_LABEL), window.destroy)
        )
        _bind_underlined(window, self.turn_on_button, self.cancel_button)
        window.bind("<Escape>", lambda _e: window.destroy())
        window.protocol("WM_DELETE_WINDOW", window.destroy)
        _place_over(window, parent)

    def _ticked(self) -> None:
        self.turn_on_button.state(["!disabled"] if any(v.get() for v in self.ticks.values()) else ["disabled"])

    def _turn_on(self) -> None:
        self.chosen = tuple(name for name, tick in self.ticks.items() if tick.get())
        self.window.destroy()

    def run(self) -> tuple[str, ...] | None:
        """Show the dialog and wait; the ticked categories, or None when cancelled."""
        _modal(self.window)
        return self.chosen or None


class Notice:
    """A short message in a small window of its own (what turning feedback off did)."""

    def __init__(self, parent: tk.Misc, title: str, text: str, ok_label: str = CLOSE_LABEL) -> None:
        window, body = _dialog(parent, title)
        self.window = window
        self.label = ttk.Label(body, text=text, wraplength=WRAP_PX * 3 // 4, justify="left")
        self.label.pack(anchor="w", pady=(0, PAD_PX))
        ok = ttk.Button(body, text=ok_label, command=window.destroy)
        ok.pack(anchor="e")
        for key in ("<Return>", "<Escape>"):
            window.bind(key, lambda _e: window.destroy())
        _place_over(window, parent)
        ok.focus_set()


class Confirm:
    """A modal yes/no question; the two answers are equal buttons, closing it or Escape is "no"."""

    def __init__(self, parent: tk.Misc, title: str, question: str, yes_label: str, no_label: str) -> None:
        self.answer = False
        window, body = _dialog(parent, title)
        self.window = window
        _paragraphs(body, [("", question)])
        self.yes_button, self.no_button = _two_buttons(body, (yes_label, self._yes), (no_label, window.destroy))
        window.bind("<Escape>", lambda _e: window.destroy())
        _place_over(window, parent)

    def _yes(self) -> None:
        self.answer = True
        self.window.destroy()

    def run(self) -> bool:
        _modal(self.window)
        return self.answer


class TextWindow:
    """A read-only text window (what is sent, sent data) with optional extra buttons."""

    def __init__(
        self,
        parent: tk.Misc,
        title: str,
        text: str,
        buttons: tuple[tuple[str, Callable[[], None]], ...] = (),
        close_label: str = CLOSE_LABEL,
    ) -> None:
        self.window = window = tk.Toplevel(parent)
        window.title(title)
        window.transient(parent.winfo_toplevel())
        frame = ttk.Frame(window, padding=PAD_PX // 2)
        frame.pack(fill="both", expand=True)
        self.text = tk.Text(frame, wrap="word", width=88, height=30, relief="flat", padx=PAD_PX // 2, pady=PAD_PX // 2)
        scroll = ttk.Scrollbar(frame, orient="vertical", command=self.text.yview)
        self.text.configure(yscrollcommand=scroll.set)
        self.set_text(text)
        row = ttk.Frame(frame)
        row.pack(side="bottom", fill="x", pady=(PAD_PX // 2, 0))
        ttk.Button(row, text=close_label, command=window.destroy).pack(side="right")
        self.buttons: list[ttk.Button] = []
        for label, action in buttons:
            button = ttk.Button(row, text=label, command=action)
            button.pack(side="right", padx=(0, PAD_PX // 2))
            self.buttons.append(button)
        scroll.pack(side="right", fill="y")
        self.text.pack(side="left", fill="both", expand=True)
        window.bind("<Escape>", lambda _e: window.destroy())
        _place_over(window, parent)
        window.wait_visibility()
        self.text.focus_set()  # the new window takes the keyboard (Escape closes it, arrows scroll)

    def set_switch_label(self, label: str) -> None:
        self.buttons[0].configure(text=label)

    def set_text(self, text: str) -> None:
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.insert("1.0", text)
        self.text.configure(state="disabled")


def _dialog(parent: tk.Misc, title: str) -> tuple[tk.Toplevel, ttk.Frame]:
    """A fixed-size dialog window over ``parent``'s window, and the padded frame its content goes in."""
    window = tk.Toplevel(parent)
    window.title(title)
    window.resizable(False, False)
    window.transient(parent.winfo_toplevel())
    body = ttk.Frame(window, padding=PAD_PX)
    body.pack(fill="both", expand=True)
    return window, body


def _paragraphs(body: ttk.Frame, pairs: list[tuple[str, str]]) -> None:
    for title, text in pairs:
        if title:
            ttk.Label(body, text=title, font="TkHeadingFont").pack(anchor="w", pady=(PAD_PX // 2, 0))
        ttk.Label(body, text=text, wraplength=WRAP_PX, justify="left").pack(anchor="w", pady=(0, PAD_PX // 2))


def _two_buttons(
    body: ttk.Frame, first: tuple[str, Callable[[], None]], second: tuple[str, Callable[[], None]]
) -> tuple[ttk.Button, ttk.Button]:
    """Two buttons of the same size side by side: declining is as easy as accepting."""
    row = ttk.Frame(body)
    row.pack(fill="x")
    row.columnconfigure((0, 1), weight=1, uniform="answer")
    made = []
    for column, (label, command) in enumerate((first, second)):
        button = ttk.Button(row, text=label, underline=0, command=command)
        button.grid(
            row=0, column=column, sticky="ew", padx=(0, PAD_PX // 2) if column == 0 else (PAD_PX // 2, 0), ipady=4
        )
        made.append(button)
    return made[0], made[1]


def _bind_underlined(window: tk.Toplevel, *widgets: ttk.Button | ttk.Checkbutton) -> None:
    """Alt + the underlined first letter invokes each widget, in whatever language the labels are in."""
    for widget in widgets:
        key = str(widget.cget("text"))[:1].lower()
        if key.isascii() and key.isalnum():  # Tk names other keys differently; they keep Tab and a click
            window.bind(f"<Alt-{key}>", _invoke_on_key(widget))


def _invoke_on_key(widget: ttk.Button | ttk.Checkbutton) -> Callable[[tk.Event[tk.Misc]], object]:
    return lambda _event: widget.invoke()


def _modal(window: tk.Toplevel) -> None:
    window.wait_visibility()
    window.grab_set()
    window.focus_set()  # no button has the focus: Return by reflex answers nothing
    window.wait_window()


def _place_over(window: tk.Toplevel, parent: tk.Misc) -> None:
    """Centre a new window over the parent's top-level window (there may be no window manager)."""
    window.update_idletasks()
    top = parent.winfo_toplevel()
    x = top.winfo_rootx() + max(0, (top.winfo_width() - window.winfo_reqwidth()) // 2)
    y = top.winfo_rooty() + max(0, (top.winfo_height() - window.winfo_reqheight()) // 3)
    # wholly on the screen, even over a window that reaches past its edge
    x = max(0, min(x, window.winfo_screenwidth() - window.winfo_reqwidth()))
    y = max(0, min(y, window.winfo_screenheight() - window.winfo_reqheight()))
    window.geometry(f"+{x}+{y}")
    window.lift()  # above the parent also where no window manager stacks a new window on top
