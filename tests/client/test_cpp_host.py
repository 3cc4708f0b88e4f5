"""The C++ example host (examples/cpp/host.cpp), compiled here with the system's g++, drives `optin agent`
against a real collector: what the user turned off is erased, what was recorded while on is stored, and
a host whose user never turned feedback on sends nothing at all."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import collector

from .agent_child import AGENT, DAY_S, AgentChild, hello
from .conftest import ScriptedCollector
from .test_agent import stored

SOURCE = Path(__file__).resolve().parents[2] / "examples" / "cpp" / "host.cpp"
MENU_OFF = "Help\n  [ ] Customer Feedback Program: Off\n      What is sent…\n      View sent data…\n"
MENU_ON = MENU_OFF.replace("[ ]", "[x]").replace(": Off", ": On")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("no C++ compiler: g++ is not installed (Debian package g++)")
    binary = tmp_path_factory.mktemp("cpp") / "host"
    subprocess.run(
        [compiler, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(SOURCE)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return binary


def run_host(host: Path, endpoint: str, root: Path, *flags: str) -> str:
    done = subprocess.run(
        [str(host), "--endpoint", endpoint, "--root", str(root), *flags, "--", *AGENT],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # no error line from the agent: every request the host wrote was well-formed
    return done.stdout


def test_the_cpp_host_toggles_off_and_on_and_only_what_was_recorded_while_on_is_stored(
    host: Path, tmp_path: Path
) -> None:
    root = tmp_path / "app"
    with collector(tmp_path) as running:
        out = run_host(host, running.url, root)
        # The app starts again the next day: that start sends the first day's one report.
        later = AgentChild(ahead_s=DAY_S)
        assert later.request("hello", **hello(root, running.url))["result"]["status"]["on"]
        assert later.request("flush", timeout_s=30)["result"] == {"done": True}
        assert later.request("close", timeout_s=30)["ok"] and later.end() == 0
    assert out.startswith("agent protocol 1, feedback off\n" + MENU_OFF)
    assert out.count(MENU_ON) == 2 and out.count(MENU_OFF) == 2
    assert "next report: toolpath.pocket=7\n" in out and out.endswith("closed within the budget: true\n")
    ids, pockets = stored(running.db, "toolpath.pocket")
    assert len(ids) == 1 and pockets == 7  # 3 were erased when the user turned it off; 100 came while off
    _, imports = stored(running.db, "file.import")
    assert imports == 1
    consent = json.loads((root / "config" / "consent.json").read_text())
    assert consent["status"] == "on" and consent["surface"] == "help_menu"
    history = [line for line in (root / "data" / "history.jsonl").read_text().splitlines() if line]
    assert [json.loads(line)["result"] for line in history] == ["accepted"]


def test_the_cpp_host_whose_user_never_turned_feedback_on_sends_nothing(host: Path, tmp_path: Path) -> None:
    root = tmp_path / "app"
    server = ScriptedCollector().start()
    try:
        out = run_host(host, server.url, root, "--stay-off")
    finally:
        server.stop()
    assert out == "agent protocol 1, feedback off\n" + MENU_OFF + "next report: toolpath.pocket=none\n" + (
        "closed within the budget: true\n"
    )
    assert server.seen == []  # not one request reached the server
    assert [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()] == ["config/consent.json"]
