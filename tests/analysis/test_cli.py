"""The command line: a subcommand per question, `report`, every format, every local source, progress."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from optin.analysis import QUESTIONS
from optin.analysis.__main__ import main
from optin.contract import Registry

from . import fleet as F

K = 10


TODAY = "2026-05-01"  # every period of the 20-day fleet has closed, and the grace has passed


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> tuple[F.Fleet, Path, Path]:
    """A fleet's database, released by `optin-analysis release`, and its `publish` folder."""
    folder = tmp_path_factory.mktemp("cli")
    fleet = F.generate(11, installations=150, days=20)
    db = F.write_database(fleet, [registry, dataclasses.replace(registry, app="lathekit")], folder / "fleet.duckdb")
    assert main(["release", "--db", str(db), "--today", TODAY]) == 0
    assert main(["publish", "--db", str(db), "--out", str(folder / "published")]) == 0
    return fleet, db, folder / "published"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_release_makes_each_release_once_and_publish_writes_only_releases(
    stores: tuple[F.Fleet, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, db, published = stores
    code, out, _ = run(capsys, "release", "--db", str(db), "--today", TODAY)
    assert code == 0 and out.startswith("made 0 release(s)")  # already made: never recomputed
    assert sorted(p.name for p in published.iterdir()) == sorted(
        [
            "releases.json",
            "releases.parquet",
            "release_cells.parquet",
            "privacy_ledger.parquet",
            "release_refusals.parquet",
        ]
    )
    doc = json.loads((published / "releases.json").read_text())
    assert doc["releases"] and {"value", "sd", "key", "measure"} == set(doc["releases"][0]["cells"][0])


def test_report_as_json_has_every_question_the_window_and_intervals(
    stores: tuple[F.Fleet, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    fleet, db, _ = stores
    code, out, _ = run(capsys, "report", "--db", str(db), "--format", "json", "--period", "month")
    assert code == 0
    doc = json.loads(out)
    assert set(doc["tables"]) == set(QUESTIONS)
    assert (doc["from"], doc["period"]) == (F.START.replace(day=1).isoformat(), "month")
    active = len({r.inst for r in fleet.reports if r.app == "millwright" and r.day.month == 3})
    ((period, count, ci),) = [row for row in doc["tables"]["active-monthly"]["rows"] if row[0] == "2026-03-01"]
    assert doc["tables"]["active-monthly"]["columns"] == ["period", "installations", "installations_ci95"]
    assert abs(count - active) <= 3 * ci  # a noisy count near the truth (3 × the 95 % half-width)


def test_one_question_as_csv_table_and_html(
    stores: tuple[F.Fleet, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, db, _ = stores
    args = ("os", "--db", str(db), "--from", F.START.isoformat(), "--to", (F.START + dt.timedelta(days=6)).isoformat())
    code, out, _ = run(capsys, *args, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["value"] for r in rows][:1] == ["windows"] and set(rows[0]) == {
        "value", "installations", "installations_ci95", "share", "share_ci95"
    }  # fmt: skip
    code, out, _ = run(capsys, *args)
    assert code == 0 and "Operating systems\n=================\n" in out and "±" in out and "privacy cost" in out
    code, out, _ = run(capsys, *args, "--format", "html")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and "<script" not in out
    assert "http://" not in out and "https://" not in out


def test_the_published_folder_reads_as_a_snapshot_and_an_output_file(
    stores: tuple[F.Fleet, Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, db, published = stores
    target = tmp_path / "report.html"
    assert (
        run(capsys, "features", "--snapshot", str(published), "--format", "json", "--out", str(tmp_path / "a.json"))[0]
        == 0
    )
    assert run(capsys, "features", "--db", str(db), "--format", "json", "--out", str(tmp_path / "b.json"))[0] == 0
    assert json.loads((tmp_path / "a.json").read_text()) == json.loads((tmp_path / "b.json").read_text())
    assert run(capsys, "report", "--snapshot", str(published), "--format", "html", "--out", str(target))[0] == 0
    assert target.read_text().count("<section") == len(QUESTIONS)


def test_budget_shows_the_ledger_per_week(
    stores: tuple[F.Fleet, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, db, _ = stores
    code, out, _ = run(capsys, "budget", "--db", str(db))
    assert code == 0 and "Privacy budget of millwright" in out and "2026-03-02" in out
    code, out, _ = run(capsys, "budget", "--db", str(db), "--format", "json")
    weeks = json.loads(out)["weeks"]
    assert weeks and all(w["spent_rho"] <= 0.5 + 1e-9 and w["refused"] == 0 for w in weeks)


def test_k_can_only_be_raised_and_bad_input_is_refused(
    stores: tuple[F.Fleet, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, db, _ = stores
    with pytest.raises(SystemExit):
        main(["os", "--db", str(db), "--k", "5"])
    with pytest.raises(SystemExit):
        main(["raw-rows", "--db", str(db)])
    assert "at least 10" in capsys.readouterr().err
    assert run(capsys, "os", "--db", str(db), "--from", "2026-03-09", "--to", "2026-03-01")[0] == 2
    assert run(capsys, "os", "--db", str(db.parent / "missing.duckdb"))[0] == 2
    code, out, _ = run(capsys, "os", "--db", str(db), "--k", "100000")
    assert code == 0 and "fewer than 100000" in out


def test_the_console_script_runs_the_same_cli(stores: tuple[F.Fleet, Path, Path]) -> None:
    _, db, _ = stores
    script = shutil.which("optin-analysis", path=str(Path(sys.executable).parent))
    assert script is not None, "pyproject declares the optin-analysis console script"
    out = subprocess.run(
        [script, "versions", "--db", str(db), "--format", "csv"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.startswith("version,installations,installations_ci95,share,share_ci95\n")


class Stream(io.StringIO):
    """A non-terminal stderr that lets a test wait for a line without sleeping blind."""

    def __init__(self) -> None:
        super().__init__()
        self.wrote = threading.Event()

    def write(self, text: str) -> int:
        n = super().write(text)
        self.wrote.set()
        return n


def test_progress_is_shown_for_a_long_question_and_not_for_a_quick_one() -> None:
    from optin.analysis._progress import SHOW_AFTER_S, Progress

    now = [0.0]
    stream = Stream()
    progress = Progress(stream, lambda: 42.0, clock=lambda: now[0])
    progress.run("quick", lambda: None)
    assert stream.getvalue() == ""

    def long_question() -> None:
        now[0] = SHOW_AFTER_S + 1  # the question has now run longer than the threshold
        deadline = time.monotonic() + 30
        while "running" not in stream.getvalue() and time.monotonic() < deadline:
            stream.wrote.wait(0.5)
            stream.wrote.clear()

    progress.run("[3/18] features", long_question)
    assert stream.getvalue().splitlines() == ["[3/18] features: running...", "[3/18] features: done in 2.0 s"]
