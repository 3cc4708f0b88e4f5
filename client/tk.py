"""The ready Tkinter adapter: the Help-menu items and the ask dialog, drawn from `HelpMenu`.

    from optin.client.tk import TkHelpMenu
    help_menu = tkinter.Menu(menubar, tearoff=False)
    feedback_items = TkHelpMenu(help_menu, HelpMenu(feedback), app_name="Millwright")
    root.after(1000, feedback_items.ask_if_due)   # asks only when the policy says so

Importing `optin.client` never imports this module (nor tkinter); a host app imports it
when it has a Tk user interface. The dialog's words come from the registry's category
titles and descriptions, so what the user reads is what the registry allows to be sent.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import TYPE_CHECKING, Final

from ._consent import Answer
from ._menu import (
    CLEAR_LABEL,
    CLOSE_LABEL,
    EXPORT_LABEL,
    EXPORT_TITLE,
    NEVER_LABEL,
    NO_LABEL,
    OFF_REASON_LABEL,
    PROGRAM_LABEL,
    SENT_DATA_TITLE,
    VIEW_SENT_LABEL,
    WHAT_IS_SENT_LABEL,
    WHAT_IS_SENT_TITLE,
    YES_LABEL,
    HelpMenu,
)

__all__ = ["NEVER_LABEL", "NO_LABEL", "YES_LABEL", "AskDialog", "TextWindow", "TkHelpMenu"]

if TYPE_CHECKING:
    from ._feedback import Feedback

WRAP_PX: Final = 520  # dialog text width: long enough for a sentence, short enough to read
PAD_PX: Final = 12


class AskDialog:
    """A modal dialog asking once; "yes" and "no" are equal buttons, closing it counts as "no"."""

    def __init__(self, parent: tk.Misc, feedback: Feedback, app_name: str, language: str | None = None) -> None:
        words = HelpMenu(feedback, language=language)
        self.answer = Answer.DISMISSED
        self.window = window = tk.Toplevel(parent)
        window.title(words.text(PROGRAM_LABEL))
        window.resizable(False, False)
        window.transient(parent.winfo_toplevel())
        body = ttk.Frame(window, padding=PAD_PX)
        body.pack(fill="both", expand=True)
        for title, text in words.ask_paragraphs(app_name):
            if title:
                ttk.Label(body, text=title, font="TkHeadingFont").pack(anchor="w", pady=(PAD_PX // 2, 0))
            ttk.Label(body, text=text, wraplength=WRAP_PX, justify="left").pack(anchor="w", pady=(0, PAD_PX // 2))
        self.never = tk.BooleanVar(master=window, value=False)
        never = ttk.Checkbutton(body, text=words.text(NEVER_LABEL), variable=self.never, underline=0)
        never.pack(anchor="w", pady=(PAD_PX // 2, PAD_PX))
        buttons = ttk.Frame(body)
        buttons.pack(fill="x")
        buttons.columnconfigure((0, 1), weight=1, uniform="answer")  # the same size: declining is as easy as accepting
        yes = ttk.Button(buttons, text=words.text(YES_LABEL), underline=0, command=lambda: self._close(Answer.YES))
        no = ttk.Button(buttons, text=words.text(NO_LABEL), underline=0, command=lambda: self._close(Answer.NO))
        yes.grid(row=0, column=0, sticky="ew", padx=(0, PAD_PX // 2), ipady=4)
        no.grid(row=0, column=1, sticky="ew", padx=(PAD_PX // 2, 0), ipady=4)
        # Alt + the underlined first letter, in whatever language the labels are in.
        for widget in (yes, no, never):
            key = str(widget.cget("text"))[:1].lower()
            if key.isascii() and key.isalnum():  # Tk names other keys differently; they keep Tab and a click
                window.bind(f"<Alt-{key}>", _invoke_on_key(widget))
        window.bind("<Escape>", lambda _e: self._close(Answer.DISMISSED))
        window.protocol("WM_DELETE_WINDOW", lambda: self._close(Answer.DISMISSED))
        self.yes_button, self.no_button = yes, no
        _place_over(window, parent)

    def _close(self, answer: Answer) -> None:
        self.answer = answer
        self.window.destroy()

    def run(self) -> Answer:
        """Show the dialog and wait for the answer (the rest of the app stays drawn)."""
        self.window.wait_visibility()
        self.window.grab_set()
        self.window.focus_set()  # no button has the focus: Return by reflex answers nothing
        self.window.wait_window()
        if self.answer is not Answer.YES and self.never.get():
            return Answer.NEVER
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
        for label, action in buttons:
            ttk.Button(row, text=label, command=action).pack(side="right", padx=(0, PAD_PX // 2))
        scroll.pack(side="right", fill="y")
        self.text.pack(side="left", fill="both", expand=True)
        window.bind("<Escape>", lambda _e: window.destroy())
        _place_over(window, parent)
        window.wait_visibility()
        self.text.focus_set()  # the new window takes the keyboard (Escape closes it, arrows scroll)

    def set_text(self, text: str) -> None:
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.insert("1.0", text)
        self.text.configure(state="disabled")


class TkHelpMenu:
    """Adds the Customer Feedback Program items to a Tk menu and keeps them in step with consent."""

    def __init__(
        self, menu: tk.Menu, model: HelpMenu, app_name: str | None = None, parent: tk.Misc | None = None
    ) -> None:
        self.menu = menu
        self.parent = parent or _window_of(menu)  # dialogs open over this window
        self.model = model
        self.app_name = app_name or model.feedback.registry.app.title()
        item = model.item()
        self.var = tk.BooleanVar(master=menu, value=item.checked)
        menu.add_checkbutton(
            label=item.label, variable=self.var, onvalue=True, offvalue=False, underline=0, command=self.toggle
        )
        self.index = _last_index(menu)
        if not item.enabled:
            # Tk menus have no tooltips: the reason is a line of its own, greyed out like the item.
            menu.add_command(label=model.text(OFF_REASON_LABEL).format(reason=item.reason), state="disabled")
        menu.add_command(label=model.text(WHAT_IS_SENT_LABEL), underline=0, command=self.show_what_is_sent)
        menu.add_command(label=model.text(VIEW_SENT_LABEL), underline=0, command=self.show_sent_data)
        self.refresh()

    def refresh(self) -> None:
        """Show the current state (after any change made elsewhere, for example by the ask dialog)."""
        item = self.model.item()
        self.var.set(item.checked)
        self.menu.entryconfigure(self.index, state="normal" if item.enabled else "disabled")

    def toggle(self) -> None:
        self.model.toggle()
        self.refresh()

    def ask_if_due(self) -> Answer | None:
        """Ask in a dialog when the ask policy says so; returns the answer, None when not asked."""
        feedback = self.model.feedback
        if not feedback.should_ask():
            return None
        answer = AskDialog(self.parent, feedback, self.app_name, self.model.language).run()
        was_on = feedback.is_on
        feedback.answer_prompt(answer)
        self.refresh()
        if feedback.is_on != was_on and self.model.on_change:
            self.model.on_change()
        return answer

    def show_what_is_sent(self) -> TextWindow:
        model = self.model
        return TextWindow(
            self.parent, model.text(WHAT_IS_SENT_TITLE), model.what_is_sent(), close_label=model.text(CLOSE_LABEL)
        )

    def show_sent_data(self) -> TextWindow:
        model = self.model
        window: TextWindow

        def export() -> None:
            target = filedialog.asksaveasfilename(
                parent=window.window, title=model.text(EXPORT_TITLE), defaultextension=".json"
            )
            if target:
                model.export_sent_data(Path(target))

        def clear() -> None:
            model.clear_sent_data()
            window.set_text(model.sent_data_text())

        window = TextWindow(
            self.parent,
            model.text(SENT_DATA_TITLE),
            self.model.sent_data_text(),
            ((model.text(CLEAR_LABEL), clear), (model.text(EXPORT_LABEL), export)),
            close_label=model.text(CLOSE_LABEL),
        )
        return window


def _invoke_on_key(widget: ttk.Button | ttk.Checkbutton) -> Callable[[tk.Event[tk.Misc]], object]:
    return lambda _event: widget.invoke()


def _last_index(menu: tk.Menu) -> int:
    index = menu.index("end")
    assert index is not None
    return int(index)


def _window_of(menu: tk.Menu) -> tk.Misc:
    """The window a menu belongs to (a Tk menu is a top-level window of its own)."""
    widget: tk.Misc = menu
    while isinstance(widget, tk.Menu) and widget.master is not None:
        widget = widget.master
    return widget


def _place_over(window: tk.Toplevel, parent: tk.Misc) -> None:
    """Centre a new window over the parent's top-level window (there may be no window manager)."""
    window.update_idletasks()
    top = parent.winfo_toplevel()
    x = top.winfo_rootx() + max(0, (top.winfo_width() - window.winfo_reqwidth()) // 2)
    y = top.winfo_rooty() + max(0, (top.winfo_height() - window.winfo_reqheight()) // 3)
    window.geometry(f"+{x}+{y}")
