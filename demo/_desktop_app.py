"""Millwright's main window: menus, a tool bar, a drawing canvas, a command line, a status bar.

Every finished tool action calls `used(tool)`, which hands the client one `Tool` constant
(metric name and label). Coordinates, sizes, the part's name and imported files stay in the
`Part` model and on the canvas: there is no call through which they could reach a report.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Final

from optin.client import Feedback, HelpMenu
from optin.client.tk import TkHelpMenu

from ._desktop_model import (
    CIRCLE,
    EXTRUDE,
    IMPORT_STEP,
    LINE,
    POCKET,
    SIMULATE,
    TOOLS,
    UNDO,
    Command,
    Part,
    Shape,
    Tool,
    parse_command,
    read_step,
)

APP_NAME: Final = "Millwright"
ASK_DELAY_MS: Final = 400  # let the main window appear before any question
CLOSE_TIMEOUT_S: Final = 5.0  # the client's own budget to hand over the last report at exit
GRID_MM: Final = 20
COLOURS: Final = {
    "line": "#1f4e8c",
    "circle": "#1f4e8c",
    "extrude": "#6b7f99",
    "pocket": "#c0392b",
    "simulation": "#27ae60",
    "body": "#8e6c3a",
}


class MillwrightWindow:
    def __init__(self, root: tk.Tk, feedback: Feedback) -> None:
        self.root = root
        self.feedback = feedback
        self.part = Part()
        self.items: dict[int, list[int]] = {}  # id(shape) -> canvas items
        self.tool: Tool | None = None
        self.pending: tuple[float, float] | None = None  # first click of a two-click tool
        root.title(self._title())
        root.geometry("1000x680+0+0")
        self.status = tk.StringVar(master=root, value="Ready. Pick a tool, or type a command below.")
        self.help = self._menus()
        self._toolbar()
        self.canvas = tk.Canvas(root, background="white", highlightthickness=0, cursor="crosshair")
        self.canvas.pack(fill="both", expand=True)
        self._bottom()
        self._bindings()
        root.protocol("WM_DELETE_WINDOW", self.quit)
        feedback.start_session()  # counted only while on; the client starts it when the user turns it on
        root.after(ASK_DELAY_MS, self.help.ask_if_due)

    # --- layout -------------------------------------------------------------------------------

    def _menus(self) -> TkHelpMenu:
        bar = tk.Menu(self.root, name="menubar")
        menus: dict[str, tuple[tuple[str, str, Callable[[], None]], ...]] = {
            "File": (("Import STEP…", "Ctrl+I", self.import_step), ("Exit", "Ctrl+Q", self.quit)),
            "Edit": (("Undo", "Ctrl+Z", self.undo),),
            "Sketch": (("Line", "L", lambda: self.pick(LINE)), ("Circle", "C", lambda: self.pick(CIRCLE))),
            "Solid": (("Extrude", "E", self.extrude),),
            "CAM": (("Pocket", "P", self.pocket), ("Simulate", "F5", self.simulate)),
        }
        for title, entries in menus.items():
            menu = tk.Menu(bar, tearoff=False)
            for label, accelerator, command in entries:
                menu.add_command(label=label, accelerator=accelerator, command=command)
            bar.add_cascade(label=title, menu=menu, underline=0)
        help_menu = tk.Menu(bar, tearoff=False, name="help")
        items = TkHelpMenu(
            help_menu, HelpMenu(self.feedback, on_change=self._feedback_changed), APP_NAME, parent=self.root
        )
        help_menu.add_separator()
        help_menu.add_command(
            label=f"About {APP_NAME}",
            command=lambda: self.say(f"{APP_NAME} demo: a CAD/CAM look-alike for the Customer Feedback Program."),
        )
        bar.add_cascade(label="Help", menu=help_menu, underline=0)
        self.root.configure(menu=bar)
        return items

    def _toolbar(self) -> None:
        bar = ttk.Frame(self.root, padding=4)
        bar.pack(side="top", fill="x")
        actions = {
            LINE: lambda: self.pick(LINE),
            CIRCLE: lambda: self.pick(CIRCLE),
            EXTRUDE: self.extrude,
            POCKET: self.pocket,
            SIMULATE: self.simulate,
            IMPORT_STEP: self.import_step,
            UNDO: self.undo,
        }
        for tool in TOOLS:
            ttk.Button(bar, text=f"{tool.title} ({tool.shortcut})", command=actions[tool]).pack(side="left", padx=2)

    def _bottom(self) -> None:
        ttk.Label(self.root, textvariable=self.status, anchor="w", padding=(6, 2)).pack(side="top", fill="x")
        row = ttk.Frame(self.root, padding=(4, 2))
        row.pack(side="bottom", fill="x")
        ttk.Label(row, text="Command:").pack(side="left")
        self.command = ttk.Entry(row)
        self.command.pack(side="left", fill="x", expand=True)
        self.command.bind("<Return>", self._run_command)

    def _bindings(self) -> None:
        self.canvas.bind("<Button-1>", self._click)
        self.canvas.bind("<Configure>", lambda _e: self._draw_grid())
        for key, action in (
            ("l", lambda: self.pick(LINE)),
            ("c", lambda: self.pick(CIRCLE)),
            ("e", self.extrude),
            ("p", self.pocket),
        ):
            self.canvas.bind(f"<KeyPress-{key}>", lambda _e, a=action: a())  # type: ignore[misc]
        for sequence, action in (
            ("<Control-z>", self.undo),
            ("<Control-i>", self.import_step),
            ("<Control-q>", self.quit),
            ("<F5>", self.simulate),
            ("<Escape>", lambda: self.pick(None)),
        ):
            self.root.bind(sequence, lambda _e, a=action: a())  # type: ignore[misc]

    def _draw_grid(self) -> None:
        width, height = self.canvas.winfo_width(), self.canvas.winfo_height()
        self.canvas.delete("grid")
        for x in range(0, width, GRID_MM):
            self.canvas.create_line(x, 0, x, height, fill="#e3e8ef", tags="grid")
        for y in range(0, height, GRID_MM):
            self.canvas.create_line(0, y, width, y, fill="#e3e8ef", tags="grid")
        self.canvas.tag_lower("grid")

    # --- the Customer Feedback Program --------------------------------------------------------

    def used(self, tool: Tool) -> None:
        """The one place the app talks to the client about its tools: a metric name and a label."""
        self.feedback.count(tool.metric, label=tool.label)

    def _feedback_changed(self) -> None:
        if self.feedback.is_on:
            self.say("Customer Feedback Program is on. Thank you. Help → What is sent… shows exactly what is sent.")
        else:
            self.say("Customer Feedback Program is off.")

    # --- tools --------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.status.set(text)

    def _title(self) -> str:
        return f"{APP_NAME} - {self.part.name}"  # ASCII: X11 WM_NAME is Latin-1

    def pick(self, tool: Tool | None) -> None:
        self.tool, self.pending = tool, None
        self.canvas.delete("pending")
        self.say(
            f"{tool.title}: click the first point."
            if tool is LINE
            else f"{tool.title}: click the centre."
            if tool
            else "Ready."
        )

    def _click(self, event: tk.Event[tk.Canvas]) -> None:
        self.canvas.focus_set()
        x, y = float(event.x), float(event.y)
        if self.tool is None:
            return
        if self.pending is None:
            self.pending = (x, y)
            self.canvas.create_oval(x - 3, y - 3, x + 3, y + 3, outline="#888", tags="pending")
            self.say(
                f"{self.tool.title}: click the end point." if self.tool is LINE else "Circle: click a point on the rim."
            )
            return
        (x0, y0), self.pending = self.pending, None
        self.canvas.delete("pending")
        if self.tool is LINE:
            self._line((x0, y0, x, y))
        elif self.tool is CIRCLE:
            self._circle((x0, y0, ((x - x0) ** 2 + (y - y0) ** 2) ** 0.5))

    def _done(self, tool: Tool, shape: Shape | None, done: str, missing: str) -> None:
        """Show a finished step and count its tool; or say what the tool needs first (not counted)."""
        if shape is None:
            self.say(missing)
            return
        self._show(shape)
        self.used(tool)
        self.say(done)

    def _line(self, numbers: tuple[float, ...]) -> None:
        self._done(LINE, self.part.add(Shape("line", numbers)), "Line drawn.", "")

    def _circle(self, numbers: tuple[float, ...]) -> None:
        shape = self.part.add(Shape("circle", numbers)) if numbers[2] > 0 else None
        self._done(CIRCLE, shape, "Circle drawn.", "A circle needs a radius.")

    def extrude(self, depth: float | None = None) -> None:
        shape = self.part.extrude(*(() if depth is None else (depth,)))
        self._done(EXTRUDE, shape, "Extruded.", "Extrude: draw a circle first.")

    def pocket(self, depth: float | None = None) -> None:
        shape = self.part.pocket(*(() if depth is None else (depth,)))
        self._done(POCKET, shape, "Pocket toolpath created.", "Pocket: make a solid first (extrude or import).")

    def simulate(self) -> None:
        self._done(
            SIMULATE, self.part.simulate(), "Simulation finished: no collisions.", "Simulate: create a toolpath first."
        )

    def undo(self) -> None:
        shape = self.part.undo()
        if shape is None:
            self.say("Nothing to undo.")
            return
        for item in self.items.pop(id(shape), []):
            self.canvas.delete(item)
        self.used(UNDO)
        self.say(f"Undid {shape.kind}.")

    def import_step(self) -> None:
        chosen = filedialog.askopenfilename(
            parent=self.root, title="Import STEP", filetypes=[("STEP files", "*.step *.stp"), ("All files", "*")]
        )
        if not chosen:
            return
        try:
            shape: Shape | None = self.part.add(read_step(Path(chosen)))
        except (OSError, ValueError):
            shape = None
        self._done(IMPORT_STEP, shape, "STEP file imported.", "Import STEP: that file could not be read as STEP.")

    def _run_command(self, _event: object = None) -> None:
        parsed = parse_command(self.command.get())
        self.command.delete(0, "end")
        if isinstance(parsed, str):
            self.say(parsed)
            return
        self._dispatch(parsed)

    def _dispatch(self, command: Command) -> None:
        tool, numbers = command.tool, command.numbers
        if tool is None:
            self.part.name = command.text
            self.root.title(self._title())
            self.say("Part renamed.")
        elif tool is LINE:
            self._line(numbers)
        elif tool is CIRCLE:
            self._circle(numbers)
        elif tool is EXTRUDE:
            self.extrude(*numbers)
        elif tool is POCKET:
            self.pocket(*numbers)
        elif tool is SIMULATE:
            self.simulate()
        elif tool is UNDO:
            self.undo()

    # --- drawing ------------------------------------------------------------------------------

    def _show(self, shape: Shape) -> None:
        c, colour, n = self.canvas, COLOURS[shape.kind], shape.numbers
        if shape.kind == "line":
            items = [c.create_line(*n, fill=colour, width=2)]
        elif shape.kind == "circle":
            items = [c.create_oval(n[0] - n[2], n[1] - n[2], n[0] + n[2], n[1] + n[2], outline=colour, width=2)]
        elif shape.kind == "extrude":
            dx = dy = min(n[3], 40.0)
            items = [
                c.create_oval(
                    n[0] - n[2] + dx, n[1] - n[2] - dy, n[0] + n[2] + dx, n[1] + n[2] - dy, outline=colour, dash=(4, 2)
                )
            ]
            items += [
                c.create_line(n[0] + s * n[2], n[1], n[0] + s * n[2] + dx, n[1] - dy, fill=colour) for s in (-1, 1)
            ]
        elif shape.kind == "body":
            items = [
                c.create_rectangle(n[0] - n[2], n[1] - n[2], n[0] + n[2], n[1] + n[2], outline=colour, width=2),
                c.create_text(n[0], n[1] + n[2] + 10, text=shape.name, fill=colour),
            ]
        elif shape.kind == "pocket":
            items = [
                c.create_oval(n[0] - r, n[1] - r, n[0] + r, n[1] + r, outline=colour, dash=(2, 3))
                for r in (n[2] * 0.7, n[2] * 0.45, n[2] * 0.2)
            ]
        else:
            items = [
                c.create_line(n[0] - n[2] * 0.7, n[1], n[0] + n[2] * 0.7, n[1], fill=colour, width=3, arrow="last")
            ]
        self.items[id(shape)] = items

    # --- exit ---------------------------------------------------------------------------------

    def quit(self) -> None:
        """Close: hide the window at once, let the client hand over the last report, then end."""
        self.root.withdraw()
        self.feedback.close(CLOSE_TIMEOUT_S)
        self.root.destroy()
