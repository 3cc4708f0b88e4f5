"""`python -m optin.collector --db PATH --host 127.0.0.1 --port N` as an operator runs it."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
from pathlib import Path

from openapi_spec_validator import validate

from optin.contract import Registry
from tests.helpers import collector, make_report, post_json, request


def test_the_collector_starts_serves_health_and_openapi_and_answers_202_and_422(
    tmp_path: Path, registry: Registry
) -> None:
    with collector(tmp_path) as running:
        status, _, body = request(running.url, "GET", "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"

        status, headers, body = request(running.url, "GET", "/openapi.json")
        assert status == 200 and headers["content-type"].startswith("application/json")
        document = json.loads(body)
        validate(document)  # raises on an invalid OpenAPI 3.1 document
        assert {"/v1/reports", "/v1/deletions", "/healthz", "/metrics"} <= set(document["paths"])

        assert post_json(running.url, make_report(registry))[0] == 202
        assert post_json(running.url, make_report(registry), gzipped=True)[0] == 202
        status, error = post_json(running.url, make_report(registry, {"model.vertices": 12}))
        assert (status, error) == (422, {"error": "undeclared_metric", "path": "metrics.<undeclared>"})
        assert running.stop(signal.SIGTERM) == 0
    log = (tmp_path / "collector.log").read_text()
    assert '"event":"stopped"' in log
    # Every process (the loader and each worker) runs on uvloop where it is installed (the collector
    # extra installs it everywhere but Windows).
    loops = [line["loop"] for line in map(json.loads, log.splitlines()) if line.get("event") == "running"]
    installed = importlib.util.find_spec("uvloop") is not None
    assert installed or sys.platform == "win32"
    assert len(loops) >= 2 and set(loops) == {"uvloop" if installed else "asyncio"}
    assert running.db.stat().st_mode & 0o777 == 0o600
    assert running.db.parent.stat().st_mode & 0o777 == 0o700


def test_an_aggregate_k_below_ten_is_refused_at_start_naming_the_setting(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "optin.collector",
            "--db",
            str(tmp_path / "x.duckdb"),
            "--port",
            "0",
            "--aggregate-k",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "aggregate_k must be at least 10" in result.stderr
    assert not (tmp_path / "x.duckdb").exists()
