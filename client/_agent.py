"""`optin agent`: the client for a host written in any language, over newline-delimited JSON.

The host starts the agent and writes one request per line to its stdin; the agent answers on
stdout, one JSON object per line (protocol: docs/agent.md, schemas: schemas/agent-v1.json).
A request with an ``id`` gets exactly one reply; one without gets none unless it fails. Every
failure is a line of its own naming its reason, and the agent goes on with the next line.

When stdin closes (the host exited, crashed or was killed), the agent closes the `Feedback`,
which persists the period's report before trying to send it, and exits: nothing recorded is lost.
The agent is single-threaded; the only other thread is the client's own uploader, while on.
"""

from __future__ import annotations

import signal
import sys
from typing import IO, Any, Final

import orjson

from ._agent_ops import DEFAULT_CLOSE_S, AgentError, Session
from ._agent_schema import check_request, request_ops

MAX_LINE_BYTES: Final = 1 << 20  # a request is a few hundred bytes; a longer line is refused, not buffered


class Agent:
    def __init__(self, replies: IO[bytes], session: Session | None = None) -> None:
        self.replies = replies
        self.session = session or Session()
        self.ops = request_ops()
        self.line = 0
        self._host_gone = False  # stdout broken: keep recording what arrives, stop answering

    def serve(self, requests: IO[bytes]) -> int:
        """Answer line by line until stdin closes or the host sends close; then close and return 0."""
        try:
            while not self.session.closed:
                raw = requests.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    break
                self.line += 1
                if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    self._skip_rest(requests)
                    self._error(None, None, "malformed", f"line longer than {MAX_LINE_BYTES} bytes")
                elif raw.strip():
                    self.receive(raw)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: close as at the end of input
            pass
        finally:
            if not self.session.closed and self.session.feedback is not None:
                self.session.feedback.close(DEFAULT_CLOSE_S)
        return 0

    @staticmethod
    def _skip_rest(requests: IO[bytes]) -> None:
        while (chunk := requests.readline(MAX_LINE_BYTES)) and not chunk.endswith(b"\n"):
            pass

    def receive(self, raw: bytes) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            self._error(None, None, "malformed", f"not JSON: {error}")
            return
        if not isinstance(message, dict):
            self._error(None, None, "malformed", "a request is a JSON object")
            return
        ident, op = message.get("id"), message.get("op")
        if not isinstance(ident, int | str) or isinstance(ident, bool):
            ident = None  # a broken id is reported by the schema check; the error line cannot carry it
        if not isinstance(op, str) or op not in self.ops:
            self._error(ident, None, "unknown_op", f"op must be one of {', '.join(sorted(self.ops))}")
            return
        problem = check_request(op, message)
        if problem is not None:
            self._error(ident, op, "bad_request", problem)
            return
        try:
            result = self.session.handle(op, message)
        except AgentError as error:
            self._error(ident, op, error.code, str(error))
            return
        except Exception as error:  # never let one request stop the agent
            self._error(ident, op, "internal", f"{type(error).__name__}: {error}")
            return
        if ident is not None:
            self._write({"id": ident, "ok": True, "op": op, "result": result})

    def _error(self, ident: int | str | None, op: str | None, code: str, message: str) -> None:
        self._write(
            {"id": ident, "ok": False, "op": op, "error": {"code": code, "message": message, "line": self.line}}
        )

    def _write(self, message: dict[str, Any]) -> None:
        if self._host_gone:
            return
        try:
            self.replies.write(orjson.dumps(message) + b"\n")
            self.replies.flush()
        except (BrokenPipeError, OSError):
            self._host_gone = True


def _stop_on_terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run() -> int:
    """The `optin agent` command: serve stdin/stdout of this process."""
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _stop_on_terminate)
    return Agent(sys.stdout.buffer).serve(sys.stdin.buffer)
