"""`optin-collector import FILE --url URL`: reports carried from a computer without a network.

`optin export FILE` on that computer writes the reports waiting in its queue (a JSON list, see
docs/protocol.md); this command posts each to a running collector exactly as a client would, so
each is checked like any report and stored once (its report id makes a second import a duplicate).
It prints one line per report (its id and the answer) and exits 1 if any was refused.
"""

from __future__ import annotations

import gzip
import sys
import urllib.error
import urllib.request
from pathlib import Path

import orjson

TIMEOUT_S = 60.0
ANSWERS = {202: "stored", 200: "already stored (a duplicate)"}


def post(url: str, report: object) -> tuple[int, str]:
    """POST one report; the status and the collector's answer (its error code and field on a refusal)."""
    body = gzip.compress(orjson.dumps(report), mtime=0)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    request = urllib.request.Request(url.rstrip("/") + "/v1/reports", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            return answer.status, ANSWERS.get(answer.status, "accepted")
    except urllib.error.HTTPError as refused:
        try:
            detail = orjson.loads(refused.read())
        except ValueError:
            detail = {}
        why = (
            " ".join(str(detail.get(key, "")) for key in ("error", "path")).strip() if isinstance(detail, dict) else ""
        )
        return refused.code, f"refused ({refused.code}{': ' + why if why else ''})"


def import_file(path: Path, url: str) -> int:
    try:
        reports = orjson.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        print(f"optin-collector import: {path.name} cannot be read as JSON ({error})", file=sys.stderr)
        return 2
    if not isinstance(reports, list):
        print(
            f"optin-collector import: {path.name} is not a list of reports (optin export writes one)", file=sys.stderr
        )
        return 2
    refused = 0
    for report in reports:
        status, said = post(url, report)
        report_id = report.get("report_id", "?") if isinstance(report, dict) else "?"
        print(f"{report_id}: {said}")
        refused += status >= 300
    return 1 if refused else 0
