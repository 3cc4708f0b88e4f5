"""Millwright's drawing model and tools, without any toolkit.

The model (a named part with its sketches, solids and toolpaths) is the user's work: it stays
in this process. The only thing the Customer Feedback Program ever learns about a tool is the
`Tool` constant below: a registry metric name and, for imports, the file format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final


@dataclass(frozen=True, slots=True)
class Tool:
    key: str
    title: str
    metric: str  # a counter declared in the millwright registry
    label: str | None = None  # the counter's label, from the registry's closed set
    shortcut: str = ""


LINE: Final = Tool("line", "Line", "sketch.line", shortcut="L")
CIRCLE: Final = Tool("circle", "Circle", "sketch.circle", shortcut="C")
EXTRUDE: Final = Tool("extrude", "Extrude", "solid.extrude", shortcut="E")
POCKET: Final = Tool("pocket", "Pocket", "toolpath.pocket", shortcut="P")
SIMULATE: Final = Tool("simulate", "Simulate", "simulation.run", shortcut="F5")
IMPORT_STEP: Final = Tool("import_step", "Import STEP…", "file.import", "step", shortcut="Ctrl+I")
UNDO: Final = Tool("undo", "Undo", "edit.undo", shortcut="Ctrl+Z")
TOOLS: Final = (LINE, CIRCLE, EXTRUDE, POCKET, SIMULATE, IMPORT_STEP, UNDO)

DEFAULT_DEPTH_MM: Final = 10.0
STEP_PRODUCT = re.compile(r"PRODUCT\s*\(\s*'([^']*)'")


@dataclass(frozen=True, slots=True)
class Shape:
    kind: str  # "line", "circle", "extrude", "pocket", "simulation", "body"
    numbers: tuple[float, ...]  # coordinates, radius, depth (mm)
    name: str = ""  # an imported body's product name


@dataclass
class Part:
    name: str = "Part1"
    shapes: list[Shape] = field(default_factory=list)

    def add(self, shape: Shape) -> Shape:
        self.shapes.append(shape)
        return shape

    def undo(self) -> Shape | None:
        return self.shapes.pop() if self.shapes else None

    def last(self, *kinds: str) -> Shape | None:
        return next((s for s in reversed(self.shapes) if s.kind in kinds), None)

    def extrude(self, depth: float = DEFAULT_DEPTH_MM) -> Shape | None:
        profile = self.last("circle")
        return self.add(Shape("extrude", profile.numbers + (depth,))) if profile else None

    def pocket(self, depth: float = DEFAULT_DEPTH_MM / 2) -> Shape | None:
        solid = self.last("extrude", "body")
        return self.add(Shape("pocket", solid.numbers[:3] + (depth,))) if solid else None

    def simulate(self) -> Shape | None:
        toolpath = self.last("pocket")
        return self.add(Shape("simulation", toolpath.numbers)) if toolpath else None


@dataclass(frozen=True, slots=True)
class Command:
    tool: Tool | None  # None for "name"
    numbers: tuple[float, ...] = ()
    text: str = ""


ARITY: Final = {
    "line": (LINE, 4),
    "circle": (CIRCLE, 3),
    "extrude": (EXTRUDE, 1),
    "pocket": (POCKET, 1),
    "simulate": (SIMULATE, 0),
    "undo": (UNDO, 0),
}


def parse_command(line: str) -> Command | str:
    """A typed command (``line x1 y1 x2 y2``, ``circle cx cy r``, ``extrude depth``, ``pocket depth``,
    ``simulate``, ``undo``, ``name NEW-NAME``), or a plain-words error for the status bar."""
    words = line.split()
    if not words:
        return "Type a command, for example: line 10 10 80 40"
    verb, args = words[0].lower(), words[1:]
    if verb == "name":
        return Command(None, text=" ".join(args)) if args else "name needs a part name"
    if verb not in ARITY:
        return f"Unknown command. Try one of: {', '.join(sorted([*ARITY, 'name']))}"
    tool, arity = ARITY[verb]
    if len(args) not in (arity, 0 if verb in ("extrude", "pocket") else arity):
        return f"{verb} takes {arity} number{'s' if arity != 1 else ''}"
    try:
        numbers = tuple(float(a) for a in args)
    except ValueError:
        return f"{verb} takes numbers"
    if any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
        return f"{verb} takes finite numbers"
    return Command(tool, numbers)


def read_step(path: Path) -> Shape:
    """A body from a STEP file: only its product name is kept (for the drawing); raises OSError/ValueError."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if "ISO-10303-21" not in text[:200]:
        raise ValueError("not a STEP file")
    match = STEP_PRODUCT.search(text)
    return Shape("body", (120.0, 120.0, 60.0), match.group(1) if match else path.stem)
