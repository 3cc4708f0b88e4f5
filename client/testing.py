"""Fakes for the client's seams, shipped so host applications can test their own telemetry."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._transport import Response


@dataclass
class Posted:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class InMemoryTransport:
    """Records every POST and answers with the queued responses (202 when none are queued).

    A queued ``None`` answer raises ConnectionRefusedError, as an unreachable collector would.
    """

    answers: list[Response | None] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Response:
        with self._lock:
            self.posted.append(Posted(url, body, dict(headers)))
            answer = self.answers.pop(0) if self.answers else Response(202)
        if answer is None:
            raise ConnectionRefusedError("in-memory transport told to refuse")
        return answer
