"""The façade (`_feedback.py`): a host application that constructs a `Feedback` and records with feedback
off loads only what the off state needs. Asserted on the modules a fresh interpreter holds, never on time
(the time is bench/client.py's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

# What the off state never needs: the heavy dependencies (SPEC §6), the standard library the on state,
# the dialogs or a policy file need, and every part of the client that only recording, sending or
# asking uses. (`_admin` reads Windows and macOS policies; elsewhere it is loaded only when named.)
NEVER_WHILE_OFF = (
    *("aiohttp", "psutil", "duckdb", "pyarrow"),
    *("threading", "logging", "gzip", "http.client", "ssl", "socket", "tomllib", "hashlib", "typing"),
    *("gettext", "locale", "getpass", "plistlib"),
    *(f"optin.contract.{name}" for name in ("_registry", "_report", "_checker", "_storage")),
    *(
        f"optin.client.{name}"
        for name in (
            "_agent_schema",
            "_assemble",
            "_counts",
            "_diagnose",
            "_facts",
            "_history",
            "_http",
            "_i18n",
            "_menu",
            "_period",
            "_protocols",
            "_queue",
            "_recorder",
            "_recording",
            "_reports",
            "_sending",
            "_steps",
            "_transport",
            "_upload",
            "_wording",
            "_worker",
        )
    ),
    *(("optin.client._admin",) if sys.platform not in ("win32", "darwin") else ()),
)

HOST = """
import sys
from pathlib import Path
from optin.contract import bundled_registry_file
from optin.client import AppPaths, Feedback, FeedbackOptions
feedback = Feedback(
    bundled_registry_file("millwright"), app_version="2025.3.0", endpoint="https://telemetry.invalid",
    options=FeedbackOptions(paths=AppPaths.under(Path(sys.argv[1]))),
)
feedback.start_session()
feedback.count("toolpath.pocket")
feedback.count("post.run", 1, "fanuc")
feedback.flag("simulation.collision_check")
feedback.choose("ui.theme", "dark")
feedback.quantity("model.part_count", 120)
feedback.duration("simulation.duration", 12.5)
with feedback.timer("simulation.duration"):
    pass
feedback.should_ask()
feedback.end_session()
feedback.close()
import orjson
print(orjson.dumps({"on": feedback.is_on, "loaded": sorted(set(sys.argv[2].split(",")) & set(sys.modules))}).decode())
"""


def run_host(host: str, folder: Path) -> dict[str, object]:
    """Run ``host`` in a fresh interpreter; whether feedback was on, and which of NEVER_WHILE_OFF it loaded."""
    args = [sys.executable, "-c", host, str(folder), ",".join(NEVER_WHILE_OFF)]
    run = subprocess.run(args, capture_output=True, text=True, check=True)
    seen = orjson.loads(run.stdout.strip().splitlines()[-1])
    assert isinstance(seen, dict)
    return seen


def test_a_host_with_feedback_off_loads_nothing_the_off_state_does_not_need(tmp_path: Path) -> None:
    assert run_host(HOST, tmp_path) == {"on": False, "loaded": []}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["config", "consent.json"]  # and wrote only consent


def test_the_check_sees_a_module_the_host_loads(tmp_path: Path) -> None:
    """The check above can fail: a module the host itself imports is reported."""
    host = HOST.replace("feedback.close()", "feedback.close()\nimport gzip, threading")
    assert run_host(host, tmp_path)["loaded"] == ["gzip", "threading"]
