"""Promise 1 (off by default, only the user turns it on), proven on the demo fleet: users who never
opted in made no request at all. The fleet runs in a child process whose every socket operation is
reported by a Python audit hook (a guard on the interpreter, not a mock of our code)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, threading
events = []
def guard(event, args):
    if event.startswith("socket."):
        events.append(event)
sys.addaudithook(guard)
from pathlib import Path
from optin.client import ManualClock
from optin.contract import bundled_registry
from optin.demo._fleet import plan_fleet
from optin.demo._simulate import Simulation, fleet_start
fleet = [i for i in plan_fleet() if i.opt_in_day is None]
clock = ManualClock(fleet_start(30))
threads_before = threading.active_count()
sim = Simulation(fleet, bundled_registry("millwright"), "http://127.0.0.1:9", Path(sys.argv[1]), clock, fleet_start(30))
sim.simulate(30, threads=1)
print(json.dumps({"installations": len(fleet), "socket_events": events, "threads": threading.active_count() - threads_before}))
"""


def test_installations_whose_user_did_not_opt_in_made_no_request_at_all(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, timeout=600, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["installations"] > 200
    assert report["socket_events"] == []
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files and all(f.endswith("config/consent.json") for f in files)
    assert len(files) <= report["installations"]  # one consent file per installation whose app was ever started
