"""One desktop installation as a separate process, driven line by line over stdin/stdout.

Built from the real client: `Feedback` with its files under a root folder, a `ManualClock`
(the harness moves time; nothing sleeps), no environment, a short period and a small queue
bound so that a long outage evicts. Each command is one JSON line; each answer is one JSON
line with what this installation has built and what its local history says happened:

    {"op": "advance", "s": 3600}     move the clock
    {"op": "record", "n": 5}         use the app: n feature uses and a session
    {"op": "flush", "timeout": 5}    one background pass now (close a due period, send)
    {"op": "close", "timeout": 5}    clean exit of the app (final report, bounded send)
    {"op": "state"}                  only answer

A report is "evicted" when it was seen in the queue, left it, and the history has no final
answer for it (2xx, or a 4xx other than 408/429). The queue files are named
`<seq>-<report_id>.json`; the history holds the full content of what was sent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from optin.client import AppPaths, Feedback, FeedbackOptions, ManualClock
from optin.client._queue import ReportQueue, report_id_of
from optin.contract import bundled_registry

FINAL_OK = ("accepted", "duplicate (already stored)")


def _final(result: str) -> bool:
    if result in FINAL_OK:
        return True
    if result.startswith("answered "):
        status = int(result.split()[1])
        return 400 <= status < 500 and status not in (408, 429)
    return False


class Installation:
    def __init__(
        self, root: Path, endpoint: str, start: float, period_s: int, max_reports: int, timeout_s: float
    ) -> None:
        self.clock = ManualClock(start)
        self.paths = AppPaths.under(root)
        self.queue = ReportQueue(self.paths.queue_dir, max_reports=max_reports)
        self.feedback = Feedback(
            bundled_registry("millwright"),
            app_version="2025.3.0",
            endpoint=endpoint,
            options=FeedbackOptions(
                paths=self.paths,
                clock=self.clock,
                facts=lambda: {"system.os_family": "linux", "system.ram_gib": 16},
                environ={},
                period_s=period_s,
                queue=self.queue,
                timeout_s=timeout_s,
            ),
        )
        if not self.feedback.is_on:
            self.feedback.turn_on()  # the user's action, once; a restarted process finds consent on disk
        self.built: dict[str, None] = {}  # every report id seen (ordered)
        self.results: dict[str, list[str]] = {}
        self.max_queue_seen = 0
        self._history: list[tuple[Any, ...]] = []
        self._observe()

    def _entries(self) -> list[tuple[Any, ...]]:
        out = []
        for e in self.feedback.history.entries():
            rid = e.content.get("report_id", "") if isinstance(e.content, dict) else ""
            out.append((e.at, e.endpoint, e.size, e.result, rid))
        return out

    def _observe(self) -> None:
        queued = [report_id_of(p) for p in self.queue.pending()]
        self.max_queue_seen = max(self.max_queue_seen, len(queued))
        for rid in queued:
            self.built.setdefault(rid, None)
        current = self._entries()
        previous = self._history
        overlap = 0  # the history keeps its last N lines: find where the new list continues the old one
        for k in range(min(len(previous), len(current)), 0, -1):
            if previous[len(previous) - k :] == current[:k]:
                overlap = k
                break
        for _at, endpoint, _size, result, rid in current[overlap:]:
            if rid and endpoint.endswith("/v1/reports"):
                self.built.setdefault(rid, None)
                self.results.setdefault(rid, []).append(result)
        self._history = current

    def answer(self, ok: bool) -> dict[str, Any]:
        queued = [report_id_of(p) for p in self.queue.pending()]
        final = {rid for rid, results in self.results.items() if any(_final(r) for r in results)}
        evicted = [rid for rid in self.built if rid not in final and rid not in queued]
        return {
            "ok": ok,
            "installation_id": self.feedback.state.installation_id,
            "now": self.clock.now(),
            "built": list(self.built),
            "queued": queued,
            "results": self.results,
            "evicted": evicted,
            "max_queue_seen": self.max_queue_seen,
            "max_reports": self.queue.max_reports,
        }

    def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd["op"]
        ok = True
        if op == "advance":
            self.clock.advance(float(cmd["s"]))
        elif op == "record":
            self.feedback.start_session()
            for i in range(int(cmd["n"])):
                self.feedback.count("toolpath.pocket")
                self.feedback.count("file.import", label="step" if i % 2 else "dxf")
            self.clock.advance(60)
            self.feedback.end_session()
        elif op == "flush":
            ok = self.feedback.flush(float(cmd.get("timeout", 5)))
        elif op == "close":
            ok = self.feedback.close(float(cmd.get("timeout", 5)))
        self._observe()
        return self.answer(ok)


def main() -> None:
    args = json.loads(sys.argv[1])
    inst = Installation(
        Path(args["root"]),
        args["endpoint"],
        float(args["start"]),
        int(args["period_s"]),
        int(args["max_reports"]),
        float(args["timeout_s"]),
    )
    print(json.dumps(inst.answer(True)), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        print(json.dumps(inst.handle(cmd)), flush=True)
        if cmd["op"] == "close":
            return


if __name__ == "__main__":
    main()
