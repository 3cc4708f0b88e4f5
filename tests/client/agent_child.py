"""The agent as a real child process, and the protocol's schemas, for the agent and host tests."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any

import orjson
from jsonschema import Draft202012Validator

from optin.client._agent_schema import SCHEMA_FILE
from tests.helpers import stop_process

WAIT_S = 60.0
AGENT = [sys.executable, "-m", "optin.client", "agent"]
DAY_S = 86400
# `optin agent` living ``sys.argv[1]`` seconds in the future: the client's clock seam (`SystemClock.now`), so a
# test sees the period end and the next start send its report without waiting a day.
LATER = r"""
import sys, time
from optin.client import _clock
ahead = float(sys.argv[1])
_clock.SystemClock.now = lambda self: time.time() + ahead
from optin.client.__main__ import main
sys.exit(main(["agent"]))
"""


def agent_later(ahead_s: float) -> list[str]:
    """The agent's command line, its clock ``ahead_s`` seconds ahead of the real one."""
    return [sys.executable, "-c", LATER, str(ahead_s)]


@cache
def schema() -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(SCHEMA_FILE.read_bytes())
    return doc


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for the message schema ``$defs[name]`` (``request.hello``, ``reply.status``, ``error``...)."""
    assert name in schema()["$defs"], f"no schema for {name}"
    return Draft202012Validator({**schema(), "$ref": f"#/$defs/{name}"})


def check_emitted(message: dict[str, Any]) -> None:
    """Every line the agent writes fits the schema of what it is: the reply to its op, or an error."""
    name = f"reply.{message.get('op')}" if message.get("ok") is True else "error"
    errors = [e.message for e in validator(name).iter_errors(message)]
    assert not errors, f"{name} does not fit its schema: {errors}: {message}"


def lines_of(stream: IO[bytes], into: queue.Queue[bytes | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


class AgentChild:
    """`optin agent` started with pipes: the test plays the host (or hands stdin to another process)."""

    def __init__(
        self, argv: list[str] | None = None, stdin: int | IO[bytes] = subprocess.PIPE, ahead_s: float = 0.0
    ) -> None:
        self.proc = subprocess.Popen(
            argv or (agent_later(ahead_s) if ahead_s else AGENT),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        self.emitted: list[dict[str, Any]] = []  # every line the agent wrote, decoded, in order
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._err = bytearray()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=lines_of, args=(self.proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self._next_id = 0

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read(4096), b""):  # type: ignore[union-attr]
            self._err += chunk

    @property
    def stderr(self) -> str:
        return self._err.decode(errors="replace")

    def send_raw(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line if line.endswith(b"\n") else line + b"\n")

    def send(self, op: str, **fields: Any) -> None:
        """A request without id: no reply unless it fails."""
        self.send_raw(orjson.dumps({"op": op, **fields}))

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """A request with an id; returns its reply (or error), keeping every line read on the way."""
        self._next_id += 1
        ident = self._next_id
        self.send_raw(orjson.dumps({"op": op, "id": ident, **fields}))
        for message in self.messages():
            if message.get("id") == ident:
                return message
        raise AssertionError(f"the agent ended without answering {op}: {self.stderr}")

    def messages(self) -> Iterator[dict[str, Any]]:
        """The agent's next lines, each checked against its schema, until its stdout closes."""
        while (line := self._lines.get(timeout=WAIT_S)) is not None:
            message = orjson.loads(line)
            check_emitted(message)
            self.emitted.append(message)
            yield message

    def end(self, timeout_s: float = WAIT_S) -> int:
        """Close stdin (as a host's exit does), read what is left, wait for the agent to exit."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        for _ in self.messages():
            pass
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
            raise AssertionError("the agent did not exit when its input closed") from None


def hello(root: Path, endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "protocol": 1,
        "app": "millwright",
        "app_version": "2025.3.0",
        "endpoint": endpoint,
        "root": str(root),
        **extra,
    }
