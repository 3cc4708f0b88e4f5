"""The `optin` CLI as a user runs it: status, enable, disable, preview, history, export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from optin.client import ManualClock
from optin.collector import CollectorThread, Config
from optin.contract import Registry

from .conftest import make_feedback


def optin(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optin.client", *args, "--data-dir", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_shows_changes_previews_and_exports(tmp_path: Path, registry: Registry, clock: ManualClock) -> None:
    root = tmp_path / "app"
    status = optin(root, "status")
    assert status.returncode == 0 and "off (undecided)" in status.stdout
    enabled = optin(root, "enable").stdout
    assert enabled.endswith("Customer Feedback Program: on\n") and "[x] Feature usage (usage)" in enabled
    assert "on (on)" in optin(root, "status").stdout and "from the optin command" in optin(root, "status").stdout
    preview = json.loads(optin(root, "preview").stdout)
    assert (
        preview["app"]["name"] == "millwright"
        and preview["installation_id"] == json.loads((root / "config" / "consent.json").read_text())["installation_id"]
    )

    # The app records and queues a report while the collector is unreachable; the user exports it.
    app = make_feedback(registry, root, "http://127.0.0.1:9", clock)
    app.count("toolpath.adaptive", 3)
    clock.advance(86400)
    app.flush(10)
    app.close(0)
    export = optin(root, "export", str(tmp_path / "pending.json"))
    assert export.returncode == 0 and "Exported" in export.stdout
    exported = json.loads((tmp_path / "pending.json").read_text())
    assert [r["metrics"].get("toolpath.adaptive") for r in exported][:1] == [3]
    assert "no answer" in optin(root, "history").stdout

    with CollectorThread(Config(db=tmp_path / "c" / "optin.duckdb", host="127.0.0.1", port=0)) as collector:
        disable = optin(root, "--endpoint", collector.url, "disable")
    assert disable.returncode == 0 and "queued reports removed" in disable.stdout
    assert "confirmed the deletion" in disable.stdout  # the id had been (possibly) sent: deletion requested
    assert "off (off)" in optin(root, "status").stdout
    assert not list((root / "data" / "queue").glob("*.json"))
    assert optin(root, "history", "--clear").returncode == 0
    assert "Nothing has been sent" in optin(root, "history").stdout


def test_enable_is_refused_when_an_administrator_forced_feedback_off(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir(parents=True)
    (tmp_path / "site" / "policy.toml").write_text('feedback = "off"\n')
    result = optin(tmp_path, "enable")
    assert result.returncode == 1 and "administrator" in result.stderr
    assert "off (undecided)" in optin(tmp_path, "status").stdout


def test_enable_lists_the_categories_and_agrees_only_to_those_chosen(tmp_path: Path, registry: Registry) -> None:
    result = optin(tmp_path, "enable", "--categories", "usage,system")
    assert result.returncode == 0, result.stderr
    for category in registry.categories.values():
        assert category.description in result.stdout  # what each category sends, before it is agreed to
    assert "[ ] Sessions and usage time (sessions)" in result.stdout and "Never sent" in result.stdout
    consent = json.loads((tmp_path / "config" / "consent.json").read_text())
    assert consent["categories"] == ["system", "usage"] and consent["wording_hash"]
    wrong = optin(tmp_path / "other", "enable", "--categories", "usage,geometry")
    assert wrong.returncode == 2 and "geometry" in wrong.stderr
    assert not (tmp_path / "other" / "config" / "consent.json").exists() or (
        json.loads((tmp_path / "other" / "config" / "consent.json").read_text())["status"] != "on"
    )


def test_status_is_read_only(tmp_path: Path) -> None:
    status = optin(tmp_path / "app", "status")
    assert status.returncode == 0 and "off (undecided)" in status.stdout
    assert not (tmp_path / "app").exists()  # no consent file, no folder: looking starts no ask clock


def test_history_export_then_clear_keeps_the_export(tmp_path: Path, registry: Registry, clock: ManualClock) -> None:
    root = tmp_path / "app"
    app = make_feedback(registry, root, "http://127.0.0.1:9", clock)
    assert app.turn_on()
    app.count("toolpath.pocket")
    clock.advance(86400)  # the period has ended: the close sends its report
    app.close(5)  # nothing answers: the history holds the attempt
    assert app.history.entries()
    result = optin(root, "history", "--export", str(tmp_path / "history.json"), "--clear")
    assert result.returncode == 0, result.stderr
    exported = json.loads((tmp_path / "history.json").read_text())
    assert len(exported) >= 1 and exported[0]["content"]["metrics"]["toolpath.pocket"] == 1  # exported first
    assert app.history.entries() == []  # then cleared


def test_an_air_gapped_computers_export_reaches_the_collector_with_optin_collector_import(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    root = tmp_path / "app"
    app = make_feedback(registry, root, "http://127.0.0.1:9", clock)  # no network: nothing leaves
    assert app.turn_on()
    app.count("toolpath.adaptive", 3)
    clock.advance(86400)
    app.close(5)
    assert optin(root, "export", str(tmp_path / "pending.json")).returncode == 0
    exported = json.loads((tmp_path / "pending.json").read_text())
    bad = {**exported[0], "report_id": "00000000-0000-4000-8000-00000000000b", "metrics": {"not.declared": 1}}
    (tmp_path / "carried.json").write_text(json.dumps([*exported, bad]))
    importer = [sys.executable, "-m", "optin.collector", "import", str(tmp_path / "carried.json"), "--url"]
    with CollectorThread(Config(db=tmp_path / "c" / "optin.duckdb", host="127.0.0.1", port=0), clock=clock.now) as c:
        first = subprocess.run([*importer, c.url], capture_output=True, text=True, timeout=120)
        again = subprocess.run([*importer, c.url], capture_output=True, text=True, timeout=120)
    report_id = exported[0]["report_id"]
    assert first.returncode == 1  # one was refused, and said so
    assert f"{report_id}: stored" in first.stdout and "refused (422: undeclared_metric metrics.<undeclared>)" in (
        first.stdout
    )
    assert f"{report_id}: already stored (a duplicate)" in again.stdout  # imported twice, stored once


def test_every_command_has_help_and_takes_the_options_before_or_after_it(tmp_path: Path) -> None:
    root = tmp_path / "app"
    for command in ("status", "enable", "disable", "preview", "history", "export", "agent"):
        shown = subprocess.run(
            [sys.executable, "-m", "optin.client", command, "--help"], capture_output=True, text=True, timeout=120
        )
        assert shown.returncode == 0 and f"usage: optin {command}" in shown.stdout
        assert len(shown.stdout.split("\n\n")[1].strip()) > 20, command  # a sentence saying what it does
    before = subprocess.run(
        [sys.executable, "-m", "optin.client", "--data-dir", str(root), "status"], capture_output=True, text=True
    )
    assert before.stdout == optin(root, "status").stdout and "off (undecided)" in before.stdout
    assert not root.exists()  # status creates nothing
    note = optin(root, "preview")
    assert "version is unknown here" in note.stderr
    assert json.loads(optin(root, "preview", "--app-version", "2025.1.0").stdout)["app"]["version"] == "2025.1.0"


def test_disable_sends_the_deletion_to_the_collector_the_history_names(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    root = tmp_path / "app"
    with CollectorThread(Config(db=tmp_path / "c" / "optin.duckdb", host="127.0.0.1", port=0), clock=clock.now) as c:
        app = make_feedback(registry, root, c.url, clock)
        assert app.turn_on()
        app.count("toolpath.pocket")
        clock.advance(86400)
        assert app.close(5) and [e.result for e in app.history.entries()] == ["accepted"]
        disabled = optin(root, "disable")  # no --endpoint
    assert "The collector confirmed the deletion" in disabled.stdout, disabled.stdout + disabled.stderr
