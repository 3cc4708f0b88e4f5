"""A real X display for desktop tests: Xvfb on a free display number, xdotool input, xwd screenshots.

Screenshots are converted from xwd's dump to PNG here (zlib and struct), so no image library
is needed; the picture is also inspected to wait until a window has actually been drawn.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import struct
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from tests.helpers import stop_process

T = TypeVar("T")

TOOLS: Final = {"Xvfb": "xvfb", "xdotool": "xdotool", "xwd": "x11-apps"}  # executable -> Debian package
SCREEN: Final = "1280x800x24"
WAIT_S: Final = 15.0


def missing_tools() -> list[str]:
    return [f"{exe} (Debian package {pkg})" for exe, pkg in TOOLS.items() if shutil.which(exe) is None]


def wait_for(what: str, condition: Callable[[], T | None], timeout_s: float = WAIT_S, interval_s: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


@dataclass(frozen=True, slots=True)
class Geometry:
    window: str
    x: int
    y: int
    width: int
    height: int


@dataclass
class Display:
    number: int
    proc: subprocess.Popen[bytes]

    @property
    def name(self) -> str:
        return f":{self.number}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}

    def run(self, *args: str) -> str:
        done = subprocess.run(list(args), env=self.env(), capture_output=True, timeout=WAIT_S)
        return done.stdout.decode(errors="replace")

    def xdotool(self, *args: str) -> str:
        return self.run("xdotool", *args)

    def windows(self, name_regex: str) -> list[Geometry]:
        """Visible windows whose title matches, with their position on the screen."""
        found = []
        for window in self.xdotool("search", "--onlyvisible", "--name", name_regex).split():
            shell = dict(re.findall(r"(\w+)=(\d+)", self.xdotool("getwindowgeometry", "--shell", window)))
            if {"X", "Y", "WIDTH", "HEIGHT"} <= shell.keys():
                found.append(
                    Geometry(window, int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"]))
                )
        return found

    def window(self, name_regex: str, timeout_s: float = WAIT_S) -> Geometry:
        """Wait until exactly one visible window matches and has been drawn; return it."""

        def drawn() -> Geometry | None:
            found = self.windows(name_regex)
            if len(found) == 1 and self.capture().colours_in(found[0]) >= 3:
                return found[0]
            return None

        return wait_for(f"window {name_regex!r} on {self.name}", drawn, timeout_s)

    def gone(self, name_regex: str, timeout_s: float = WAIT_S) -> None:
        wait_for(f"window {name_regex!r} to close", lambda: not self.windows(name_regex), timeout_s)

    def click(self, x: int, y: int) -> None:
        self.xdotool("mousemove", str(x), str(y), "click", "1")  # no --sync: it waits forever when already there

    def key(self, *keys: str) -> None:
        self.xdotool("key", "--delay", "20", *keys)

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "8", text)

    def focus(self, window: Geometry) -> None:
        self.xdotool("windowfocus", "--sync", window.window)

    def capture(self) -> Capture:
        dump = subprocess.run(
            ["xwd", "-root", "-silent", "-display", self.name], capture_output=True, timeout=WAIT_S, check=True
        ).stdout
        return Capture.from_xwd(dump)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.capture().png())
        return path


@dataclass(frozen=True, slots=True)
class Capture:
    width: int
    height: int
    rgb: bytes  # 3 bytes a pixel, rows top to bottom

    @classmethod
    def from_xwd(cls, data: bytes) -> Capture:
        """Decode an xwd dump of a 24/32-bit TrueColor screen (what Xvfb -screen WxHx24 gives)."""
        header = struct.unpack(">25I", data[:100])
        header_size, version, pixmap_format, _depth, width, height = header[:6]
        byte_order, bits_per_pixel, bytes_per_line, ncolors = header[7], header[11], header[12], header[19]
        if version != 7 or pixmap_format != 2 or bits_per_pixel != 32:
            raise ValueError(
                f"unsupported xwd dump (version {version}, format {pixmap_format}, {bits_per_pixel} bits a pixel)"
            )
        start = header_size + ncolors * 12
        red, green, blue = (2, 1, 0) if byte_order == 0 else (1, 2, 3)
        rgb = bytearray(width * height * 3)
        for y in range(height):
            row = data[start + y * bytes_per_line : start + y * bytes_per_line + width * 4]
            out = y * width * 3
            rgb[out : out + width * 3 : 3] = row[red::4]
            rgb[out + 1 : out + width * 3 : 3] = row[green::4]
            rgb[out + 2 : out + width * 3 : 3] = row[blue::4]
        return cls(width, height, bytes(rgb))

    def colours_in(self, box: Geometry) -> int:
        """Distinct colours inside a window's box (1 while it is still blank)."""
        seen: set[bytes] = set()
        for y in range(max(0, box.y), min(self.height, box.y + box.height)):
            start = (y * self.width + max(0, box.x)) * 3
            end = (y * self.width + min(self.width, box.x + box.width)) * 3
            row = self.rgb[start:end]
            seen.update(row[i : i + 3] for i in range(0, len(row), 3))
            if len(seen) >= 3:
                break
        return len(seen)

    def png(self) -> bytes:
        rows = b"".join(b"\0" + self.rgb[y * self.width * 3 : (y + 1) * self.width * 3] for y in range(self.height))

        def chunk(kind: bytes, payload: bytes) -> bytes:
            return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
        )


@contextmanager
def xvfb() -> Iterator[Display]:
    """Start Xvfb on a display number it picks itself (-displayfd), so parallel runs never collide."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        number = b""
        while not number.endswith(b"\n"):
            if not select.select([read_end], [], [], WAIT_S)[0]:
                raise RuntimeError("Xvfb did not report a display number")
            chunk = os.read(read_end, 16)  # Xvfb writes the number once it accepts connections
            if not chunk:
                raise RuntimeError(f"Xvfb exited with {proc.wait(5)} before it was ready")
            number += chunk
        yield Display(int(number), proc)
    finally:
        os.close(read_end)
        stop_process(proc, timeout_s=10)
