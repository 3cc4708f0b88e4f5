"""`optin agent` as a real child process: every message fits its schema, bad lines get an error and the
agent reads on, a host killed mid-stream loses nothing, and with feedback off the agent opens no socket,
starts no thread and writes no file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import orjson
from jsonschema import Draft202012Validator

from optin.client._agent_schema import check_request, request_ops
from optin.contract import Registry
from tests.helpers import collector

from .agent_child import DAY_S, AgentChild, hello, schema, validator

N_RECORDS = 10_000
N_MALFORMED = 200
MALFORMED = [
    b"garbage",
    b"[1, 2]",
    b'{"op": "count"}',  # no name
    b'{"op": "count", "name": "toolpath.pocket", "n": -1}',
    b'{"op": "count", "name": "toolpath.pocket", "lable": "x"}',
    b'{"op": "launch_missiles"}',
    b'{"op": "choose", "name": "ui.theme"',
    b"\xff\xfe not utf-8",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port  # closed again: connections to it are refused


def stored(db: Path, metric: str) -> tuple[list[str], int]:
    """Report ids stored (one row per stored report) and the sum of ``metric`` over them."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        ids = [str(r[0]) for r in con.execute("SELECT report_id FROM reports ORDER BY report_key").fetchall()]
        (total,) = con.execute(
            "SELECT coalesce(sum(v.value), 0) FROM report_values v JOIN metrics m USING (metric_key) WHERE m.name = ?",
            [metric],
        ).fetchone() or (0,)
    finally:
        con.close()
    return ids, int(total)


def test_the_schema_is_valid_json_schema_with_a_request_and_a_reply_for_every_op() -> None:
    Draft202012Validator.check_schema(schema())
    defs = schema()["$defs"]
    assert request_ops() == {name.removeprefix("reply.") for name in defs if name.startswith("reply.")}
    assert {"hello", "status", "menu", "toggle", "turn_on", "turn_off", "count", "preview", "history", "close"} <= (
        request_ops()
    )


EXAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"op": "hello", "id": 1, **hello(Path("/tmp/x"), "https://feedback.example.com"), "app_title": "M"},
    "turn_on": {"op": "turn_on", "id": "a", "surface": "prompt", "categories": ["usage"]},
    "turn_off": {"op": "turn_off", "surface": "settings"},
    "answer": {"op": "answer", "answer": "never"},
    "count": {"op": "count", "name": "file.import", "n": 2, "label": "step"},
    "flag": {"op": "flag", "name": "simulation.collision_check", "value": False},
    "choose": {"op": "choose", "name": "ui.theme", "value": "dark"},
    "quantity": {"op": "quantity", "name": "model.part_count", "value": 37.5},
    "duration": {"op": "duration", "name": "simulation.duration", "seconds": 4},
    "session": {"op": "session", "action": "start"},
    "flush": {"op": "flush", "timeout_s": 1.5},
    "close": {"op": "close", "timeout_s": 0},
}
WRONG_VALUES: list[Any] = [None, True, 0, -1, 2**31, 1.5, "", "x", "y" * 5000, [], ["usage"] * 70, {}]


def test_the_agents_own_request_check_agrees_with_a_full_json_schema_validator() -> None:
    """The agent checks requests with the schema file and a small validator; it must judge as jsonschema does."""
    cases = 0
    for op in sorted(request_ops()):
        valid = EXAMPLES.get(op, {"op": op, "id": 7})
        variants = [valid, {k: v for k, v in valid.items() if k != "id"}, {**valid, "extra": 1}]
        variants += [{k: v for k, v in valid.items() if k != key} for key in valid]
        fields = set(valid) | set(schema()["$defs"][f"request.{op}"].get("properties", {}))
        variants += [{**valid, key: wrong} for key in fields for wrong in WRONG_VALUES]
        for message in variants:
            expected = validator(f"request.{op}").is_valid(message)
            problem = check_request(op, message)
            assert (problem is None) == expected, f"{op}: {message!r}: agent says {problem!r}, jsonschema {expected}"
            cases += 1
        assert check_request(op, valid) is None
    assert cases > 800  # every op, every field, a dozen wrong values each


def test_every_message_the_agent_emits_fits_its_schema_and_bad_lines_are_answered_and_skipped(
    tmp_path: Path, registry: Registry
) -> None:
    root = tmp_path / "app"
    with collector(tmp_path) as running:
        agent = AgentChild()
        assert agent.request("status")["error"]["code"] == "hello_first"
        for line in MALFORMED:
            agent.send_raw(line)
        agent.send_raw(b"x" * ((1 << 20) + 10))  # longer than any request may be
        agent.send_raw(b'{"op": "status", "id": true}')
        bad_registry = agent.request("hello", **hello(root, running.url, registry=str(tmp_path / "missing.toml")))
        assert bad_registry["error"]["code"] == "bad_registry"
        assert agent.request("hello", **{**hello(root, running.url), "protocol": 2})["error"]["code"] == (
            "unsupported_protocol"
        )
        started = agent.request("hello", **hello(root, running.url, app_title="Millwright"))
        assert started["ok"] and started["result"]["status"]["status"] == "undecided"
        assert agent.request("hello", **hello(root, running.url))["error"]["code"] == "already_started"

        errors = [m["error"] for m in agent.emitted if not m["ok"]]
        assert [e["code"] for e in errors[1 : len(MALFORMED) + 3]] == [
            "malformed",
            "malformed",
            "bad_request",
            "bad_request",
            "bad_request",
            "unknown_op",
            "malformed",
            "malformed",
            "malformed",  # the long line
            "bad_request",
        ]
        assert [e["line"] for e in errors[1 : len(MALFORMED) + 3]] == list(range(2, len(MALFORMED) + 4))
        assert "unknown field 'lable'" in errors[5]["message"] and "longer than" in errors[9]["message"]

        menu = agent.request("menu")["result"]
        assert menu["label"] == "Customer Feedback Program: Off" and not menu["checked"] and menu["enabled"]
        ask = agent.request("ask")["result"]
        assert ask["yes"] == "Yes, take part" and any(p["title"] == "Feature usage" for p in ask["paragraphs"])
        assert "Millwright" in ask["paragraphs"][0]["text"]
        on = agent.request("turn_on", categories=["usage", "system"])["result"]
        assert on["on"] and on["categories"] == ["system", "usage"]
        agent.send("session", action="start")
        agent.send("count", name="toolpath.pocket", n=3)
        agent.send("count", name="file.import", label="step")
        agent.send("flag", name="simulation.collision_check")
        agent.send("choose", name="ui.theme", value="dark")
        agent.send("quantity", name="model.part_count", value=37)
        agent.send("duration", name="simulation.duration", seconds=4.0)
        agent.send("count", name="not.declared")  # dropped and counted, as in the Python API: not an error
        assert agent.request("session", action="end") == {
            "id": agent._next_id,
            "ok": True,
            "op": "session",
            "result": {},
        }
        preview = agent.request("preview")["result"]
        assert preview["report"]["metrics"]["toolpath.pocket"] == 3 and preview["report"]["client"]["dropped"] == 1
        assert preview["report"]["report_id"] in preview["readable"]  # the readable form shows the same report
        assert "session.starts" not in preview["report"]["metrics"]  # "sessions" was not agreed to
        assert agent.request("history")["result"] == {
            "readable": "Nothing has been sent from this computer.",
            "entries": [],
        }
        closed = agent.request("close", timeout_s=30)
        assert closed["result"] == {"done": True}
        assert agent.end() == 0

        again = AgentChild(ahead_s=DAY_S)  # the next day: its start sends the period's report
        assert again.request("hello", **hello(root, running.url))["result"]["status"]["on"]
        assert again.request("flush", timeout_s=30)["result"] == {"done": True}
        history = again.request("history")["result"]
        assert [e["result"] for e in history["entries"]] == ["accepted"]
        assert history["entries"][0]["content"]["metrics"]["toolpath.pocket"] == 3
        toggled = again.request("toggle")["result"]
        assert toggled["checked"] is False
        assert again.request("flush", timeout_s=30)["result"] == {"done": True}  # the deletion request
        assert again.request("status")["result"]["status"] == "off"
        assert again.request("answer", answer="no")["result"]["on"] is False
        assert again.request("turn_on", surface="settings")["result"]["on"]
        assert again.request("turn_off")["result"]["on"] is False
        assert again.request("clear_history")["result"] == {}
        assert again.request("history")["result"]["entries"] == []
        assert again.end() == 0
    assert stored(running.db, "toolpath.pocket") == ([], 0)  # turned off: erased


HOST = r"""
import os, sys
import orjson
hello, n = orjson.loads(sys.argv[1]), int(sys.argv[2])
malformed = [m.encode("latin-1") for m in orjson.loads(sys.argv[3])]
def write(line):
    data = line + b"\n"
    while data:
        data = data[os.write(1, data):]
write(orjson.dumps({"op": "hello", "id": "hello", **hello}))
write(orjson.dumps({"op": "turn_on", "id": "on"}))
every = n // len(malformed)
for i in range(n):
    write(orjson.dumps({"op": "count", "name": "toolpath.pocket"}))
    if i % every == 0:
        write(malformed[i // every])
sys.stderr.write("written\n")
sys.stderr.flush()
sys.stdin.read()  # alive until killed
"""


def run_killed_host(tmp_path: Path, root: Path, endpoint: str, ahead_s: float = 0.0) -> list[dict[str, Any]]:
    """A host process writes hello, turn_on, records and malformed lines into the agent's stdin and is
    killed (SIGKILL) while the agent is still reading; returns what the agent wrote."""
    read_end, write_end = os.pipe()
    agent = AgentChild(stdin=read_end, ahead_s=ahead_s)
    malformed = [MALFORMED[i % len(MALFORMED)].decode("latin-1") for i in range(N_MALFORMED)]
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, orjson.dumps(hello(root, endpoint)), str(N_RECORDS), orjson.dumps(malformed)],
        stdin=subprocess.PIPE,
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(read_end)
    os.close(write_end)  # now only the host holds the agent's input open
    assert host.stderr is not None
    assert host.stderr.readline() == b"written\n"
    host.send_signal(signal.SIGKILL)
    host.wait(60)
    assert agent.end() == 0  # input closed with the host: the agent read the rest, closed and exited
    return agent.emitted


def test_a_host_killed_mid_stream_loses_nothing_and_every_closed_report_is_delivered_once(tmp_path: Path) -> None:
    root = tmp_path / "app"
    # Twice the host dies; the first time the collector cannot be reached, so its report waits on disk.
    emitted = run_killed_host(tmp_path, root, f"http://127.0.0.1:{free_port()}")
    assert [m["id"] for m in emitted if m["ok"]] == ["hello", "on"]
    errors = [m for m in emitted if not m["ok"]]
    assert len(errors) == N_MALFORMED and {e["error"]["code"] for e in errors} == {
        "malformed",
        "bad_request",
        "unknown_op",
    }
    # The period has not ended: its values wait on disk, whole, for the period's one report.
    assert not list((root / "data" / "queue").glob("*.json"))
    assert json.loads((root / "data" / "period.json").read_bytes())["values"]["toolpath.pocket"] == N_RECORDS
    with collector(tmp_path) as running:
        run_killed_host(tmp_path, root, running.url, ahead_s=DAY_S)  # the next day: the first day's report goes
        # The app starts again a day later: the second day's report is sent, nothing twice.
        agent = AgentChild(ahead_s=2 * DAY_S)
        assert agent.request("hello", **hello(root, running.url))["ok"]
        assert agent.request("flush", timeout_s=30)["result"] == {"done": True}
        assert agent.request("status")["result"]["queued"] == 0
        history = agent.request("history")["result"]["entries"]
        assert agent.request("close", timeout_s=30)["ok"] and agent.end() == 0
    ids, total = stored(running.db, "toolpath.pocket")
    assert total == 2 * N_RECORDS
    assert len(ids) == len(set(ids)) == 2  # one report per day the host ran, each stored once
    sent = [e["content"]["report_id"] for e in history if e["result"] == "accepted"]
    assert sorted(sent) == sorted(ids)


AUDITED = r"""
import atexit, json, os, sys, threading
events, threads, written = [], [], []
def hook(event, args):
    if event.startswith("socket."):
        events.append(event)
    elif event == "open" and args[0] is not None:
        mode, flags = args[1], args[2] or 0
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            written.append(str(args[0]))
sys.addaudithook(hook)
start = threading.Thread.start
def recorded_start(self):
    threads.append(self.name)
    start(self)
threading.Thread.start = recorded_start
audit = {"sockets": events, "threads": threads, "written": written}
atexit.register(lambda: sys.stderr.write("AUDIT " + json.dumps(audit) + "\n"))
from optin.client.__main__ import main
sys.exit(main(["agent"]))
"""


def test_with_feedback_off_the_agent_opens_no_socket_starts_no_thread_and_writes_no_file(tmp_path: Path) -> None:
    root = tmp_path / "app"
    with collector(tmp_path) as running:
        agent = AgentChild([sys.executable, "-c", AUDITED])
        assert agent.request("hello", **hello(root, running.url))["result"]["status"]["on"] is False
        assert agent.request("menu")["result"]["checked"] is False
        for _ in range(1000):
            agent.send("count", name="toolpath.pocket")
            agent.send("choose", name="ui.theme", value="dark")
            agent.send("duration", name="simulation.duration", seconds=4.0)
        agent.send("session", action="start")
        agent.send("session", action="end")
        assert agent.request("ask")["ok"] and agent.request("status")["result"]["queued"] == 0
        assert agent.request("preview")["result"]["report"]["metrics"].get("toolpath.pocket") is None
        assert agent.request("history")["result"]["entries"] == []
        assert agent.request("flush", timeout_s=1)["result"] == {"done": True}
        assert agent.request("close", timeout_s=1)["result"] == {"done": True}
        assert agent.end() == 0
    audit = json.loads(agent.stderr.split("AUDIT ", 1)[1])
    assert audit["sockets"] == [] and audit["threads"] == []
    # The consent file (first run date) is the one file; the preview's `uname -p` (platform.processor)
    # opens os.devnull and a pipe (an fd number) for its child, which are no files of ours.
    others = [w for w in audit["written"] if w != os.devnull and not w.isdigit()]
    assert all(Path(w).parent == root / "config" for w in others) and others
    assert [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()] == ["config/consent.json"]
    assert stored(running.db, "toolpath.pocket") == ([], 0)
    assert not [m for m in agent.emitted if not m["ok"]]


def test_sigterm_closes_the_agent_as_the_end_of_input_does(tmp_path: Path) -> None:
    root = tmp_path / "app"
    agent = AgentChild()
    assert agent.request("hello", **hello(root, f"http://127.0.0.1:{free_port()}"))["ok"]
    assert agent.request("turn_on")["result"]["on"]
    agent.send("count", name="toolpath.pocket", n=4)
    assert agent.request("status")["ok"]  # the count before it has been taken in
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(60) == 0
    # Closed as at the end of input: the count is kept on disk for the period's report.
    assert json.loads((root / "data" / "period.json").read_bytes())["values"]["toolpath.pocket"] == 4
