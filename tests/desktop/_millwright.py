"""Driving Millwright (`python -m optin.demo.desktop`) as a person does: keyboard and mouse under Xvfb."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import orjson

from ._x11 import WAIT_S, Display, Geometry, wait_for

MAIN: Final = "^Millwright - "  # "Millwright - <part name>"
ASK: Final = "^Customer Feedback Program$"
TURN_ON: Final = "^Turn on the Customer Feedback Program$"
OFF_NOTICE: Final = "^Customer Feedback Program: off$"
HELP_DROPDOWN: Final = "^#menubar#help$"  # Tk names a menu's window after its path (.menubar.help)
FIRST_ITEM_Y: Final = 11  # the first entry's middle, below the drop-down's top edge
EXIT_S: Final = 30.0
# Settings that would force feedback off (or send through a proxy) must not leak in from the test's environment.
SCRUBBED: Final = (
    "DO_NOT_TRACK",
    "MILLWRIGHT_FEEDBACK",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
)


# Millwright living ``sys.argv[1]`` seconds in the future (the client's clock seam, `SystemClock.now`): a test
# sees a day end, and the next day's first start send that day's one report, without waiting a day.
LATER = r"""
import sys, time
from optin.client import _clock
ahead = float(sys.argv[1])
_clock.SystemClock.now = lambda self: time.time() + ahead
from optin.demo.desktop import main
sys.exit(main(sys.argv[2:]))
"""


@dataclass
class Millwright:
    display: Display
    proc: subprocess.Popen[bytes]
    data: Path

    @classmethod
    def launch(cls, display: Display, endpoint: str, data: Path, log: IO[bytes], ahead_s: float = 0.0) -> Millwright:
        env = {k: v for k, v in display.env().items() if k not in SCRUBBED}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        args = [
            sys.executable,
            *(["-c", LATER, str(ahead_s)] if ahead_s else ["-m", "optin.demo.desktop"]),
            "--endpoint",
            endpoint,
            "--data-dir",
            str(data),
            "--ask-after-days",
            "0",
        ]
        return cls(display, subprocess.Popen(args, env=env, stdout=log, stderr=log), data)

    # --- what the app keeps on this computer -----------------------------------------------------

    def consent(self) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads((self.data / "config" / "consent.json").read_bytes())
        return doc

    def history(self) -> list[dict[str, Any]]:
        path = self.data / "data" / "history.jsonl"
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()] if path.exists() else []

    def queued(self) -> list[Path]:
        folder = self.data / "data" / "queue"
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []

    def wait_history(self, what: str, check: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        def ready() -> list[dict[str, Any]] | None:
            entries = self.history()
            return entries if check(entries) else None

        return wait_for(what, ready)

    def wait_consent(self, what: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            doc = self.consent()
            return doc if check(doc) else None

        return wait_for(what, ready)

    # --- the screen ---------------------------------------------------------------------------

    def main_window(self) -> Geometry:
        return self.display.window(MAIN)

    def focus_main(self) -> Geometry:
        window = self.main_window()
        self.display.focus(window)
        return window

    def open_help(self) -> Geometry:
        """Alt+H, as the underlined letter of the menu bar's "Help" says; returns the drop-down."""
        self.focus_main()
        self.display.key("alt+h")
        return self.display.window(HELP_DROPDOWN)

    def click_feedback_item(self, dropdown: Geometry) -> None:
        self.display.click(dropdown.x + dropdown.width // 3, dropdown.y + FIRST_ITEM_Y)

    def answer_turn_on(self) -> None:
        """Press "Turn on" in the turn-on dialog, every category ticked (the left half of the bottom row)."""
        dialog = self.display.window(TURN_ON)
        self.display.click(dialog.x + dialog.width // 4, dialog.y + dialog.height - 30)
        self.display.gone(TURN_ON)

    def at(self, window: Geometry, dx: int, dy: int) -> None:
        self.display.click(window.x + dx, window.y + dy)

    def command(self, window: Geometry, text: str) -> None:
        """Click into the command line at the bottom of the window, type, press Return."""
        self.at(window, window.width // 2, window.height - 12)
        self.display.type(text)
        self.display.key("Return")

    def quit(self) -> int:
        """Ctrl+Q, then wait for the process to end (it hands its last report over first)."""
        self.focus_main()
        self.display.key("ctrl+q")
        return self.proc.wait(EXIT_S)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT_S)
