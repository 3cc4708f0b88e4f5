"""The local history of what was sent: time, size, endpoint, result and the full content.

It lives beside the queue in the user data folder, only on this computer, so the user can
see exactly what left it. It is bounded to the most recent entries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from ._files import private_dir, write_atomic

MAX_HISTORY_ENTRIES: Final = 200


@dataclass(frozen=True, slots=True)
class Sent:
    at: int
    endpoint: str
    size: int  # bytes on the wire (compressed)
    result: str  # "accepted", "duplicate", "rejected 422", "deletion accepted", ...
    content: Any  # the JSON that was sent, decoded; None once erased (feedback turned off)


class History:
    def __init__(self, path: Path, max_entries: int = MAX_HISTORY_ENTRIES) -> None:
        self.path = path
        self.max_entries = max_entries
        self._lock = threading.Lock()

    def add(self, entry: Sent) -> None:
        line = orjson.dumps(
            {
                "at": entry.at,
                "endpoint": entry.endpoint,
                "size": entry.size,
                "result": entry.result,
                "content": entry.content,
            }
        )
        with self._lock:
            private_dir(self.path.parent)
            lines = self._lines()
            lines.append(line)
            write_atomic(self.path, b"\n".join(lines[-self.max_entries :]) + b"\n")

    def _lines(self) -> list[bytes]:
        try:
            return [line for line in self.path.read_bytes().splitlines() if line.strip()]
        except FileNotFoundError:
            return []

    def entries(self) -> list[Sent]:
        with self._lock:
            out = []
            for line in self._lines():
                try:
                    doc = orjson.loads(line)
                    out.append(Sent(doc["at"], doc["endpoint"], doc["size"], doc["result"], doc["content"]))
                except (ValueError, KeyError):
                    continue
            return out

    def export(self, target: Path) -> int:
        entries = self.entries()
        doc = [
            {"at": e.at, "endpoint": e.endpoint, "size": e.size, "result": e.result, "content": e.content}
            for e in entries
        ]
        write_atomic(target, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        return len(entries)

    def erase_contents(self) -> None:
        """Feedback turned off: forget what the reports said, keep when they were sent and how they fared."""
        with self._lock:
            lines = self._lines()
            if not lines:
                return
            kept = []
            for line in lines:
                try:
                    doc = orjson.loads(line)
                    doc["content"] = None
                    kept.append(orjson.dumps(doc))
                except (ValueError, TypeError):
                    continue  # a damaged line goes
            write_atomic(self.path, b"\n".join(kept) + b"\n" if kept else b"")

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)
