"""Millwright under a real display, used as a person uses it (SPEC §2, §5).

One story, three runs of the app (a separate process on an Xvfb display, driven by xdotool),
against a real collector process, with every byte the app sends passing a counting TCP tap:

1. First run: the app asks (grace period 0); the user declines with one click, then turns the
   Customer Feedback Program on from Help, draws a model with distinctive geometry, a part
   name and an imported STEP file, uses a few tools and closes the app. The collector holds
   exactly those feature counts; nothing of the model is in any report or collector file.
2. Second run: the user turns it off from Help. One deletion request; the rows are gone.
3. Third run, still off: the user works; not one connection is made, no counter moves.

Screenshots of the dialog and the menu are kept in the test's folder and bench/out/screenshots/.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

import duckdb
import orjson
import pytest

from optin.contract import Registry
from tests.helpers import CollectorProcess, request, start_collector

from ._millwright import ASK, OFF_NOTICE, TURN_ON, Millwright
from ._tap import Tap
from ._x11 import Display, Geometry

DAY_S: Final = 86400  # the later runs live a day ahead: the first day's report is due

ROOT: Final = Path(__file__).resolve().parents[2]
SHOTS_OUT: Final = ROOT / "bench" / "out" / "screenshots"

# What the user does in the first run, and what the collector must then hold (usage category).
EXPECTED: Final = {
    ("sketch.line", ""): 2,
    ("sketch.circle", ""): 2,
    ("solid.extrude", ""): 1,
    ("toolpath.pocket", ""): 1,
    ("simulation.run", ""): 1,
    ("file.import", "step"): 1,
    ("edit.undo", ""): 1,
}
# The model: typed coordinates (mm), a part name, an imported file and its product name.
LINE: Final = "613.25 347.5 271.75 419.125"
CIRCLE: Final = "533.5 288.75 97.375"
EXTRUDE_DEPTH: Final = "23.875"
POCKET_DEPTH: Final = "4.625"
PART_NAME: Final = "QUOKKA-7731-BRACKET"
PRODUCT: Final = "WOMBAT-GEARBOX-HOUSING-X9"
STEP_STEM: Final = "customer-secret-part-Q7"
DECIMALS: Final = tuple(f"{LINE} {CIRCLE} {EXTRUDE_DEPTH} {POCKET_DEPTH}".split())
WHOLE_PARTS: Final = (613, 347, 271, 419, 533, 288)  # none is a count, bucket or power of two a report could hold
NAMES: Final = (PART_NAME, PRODUCT, STEP_STEM)

USAGE_SQL: Final = """
    SELECT m.name, coalesce(l.label, ''), sum(v.value)::BIGINT
    FROM report_values v JOIN metrics m USING (metric_key)
    LEFT JOIN labels l ON l.metric_key = v.metric_key AND l.label_key = v.label_key
    WHERE m.category = ? GROUP BY ALL
"""


def model_data_in(blob: bytes) -> list[str]:
    """Any piece of the drawn model found in some bytes (a report, a file, a log)."""
    text = blob.decode("latin-1")
    found = [s for s in (*NAMES, *DECIMALS) if s in text]
    found += [str(n) for n in WHOLE_PARTS if re.search(rf"(?<![0-9A-Za-z.]){n}(?![0-9A-Za-z])", text)]
    return found


def counts_of(metrics: dict[str, object], names: set[str]) -> dict[tuple[str, str], int]:
    out: Counter[tuple[str, str]] = Counter()
    for name, value in metrics.items():
        if name not in names:
            continue
        if isinstance(value, dict):
            out.update({(name, label): int(n) for label, n in value.items()})
        else:
            out[(name, "")] += int(value)  # type: ignore[call-overload]
    return dict(out)


def counters(collector: CollectorProcess) -> dict[str, str]:
    """The collector's stored / duplicate / rejected counters, read from its /metrics."""
    status, _, body = request(collector.url, "GET", "/metrics")
    assert status == 200
    lines = body.decode().splitlines()
    return dict(
        line.rsplit(" ", 1) for line in lines if line.startswith(("optin_reports_", "optin_requests_rejected_total"))
    )


def shot(display: Display, folder: Path, name: str) -> Path:
    path = display.screenshot(folder / f"{name}.png")
    SHOTS_OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS_OUT / path.name)
    return path


def write_step(folder: Path) -> Path:
    path = folder / f"{STEP_STEM}.step"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "ISO-10303-21;\nHEADER;\nFILE_NAME('" + STEP_STEM + "','2026-01-01',(''),(''),'','','');\nENDSEC;\nDATA;\n"
        f"#1=PRODUCT('{PRODUCT}','{PRODUCT}','',(#2));\n#2=PRODUCT_CONTEXT('',#3,'mechanical');\nENDSEC;\nEND-ISO-10303-21;\n"
    )
    return path


def draw_model(app: Millwright, window: Geometry, step_file: Path) -> None:
    """Everything in EXPECTED, through the mouse, the keyboard, the command line and a file dialog."""
    display = app.display
    app.at(window, 600, 520)  # into the canvas: it takes the keyboard
    display.key("l")
    app.at(window, 200, 300)
    app.at(window, 420, 380)  # line 1
    display.key("c")
    app.at(window, 700, 300)
    app.at(window, 760, 330)  # circle 1
    app.command(window, f"line {LINE}")  # line 2
    app.command(window, f"circle {CIRCLE}")  # circle 2
    app.command(window, f"name {PART_NAME}")
    display.window(f"^Millwright - {PART_NAME}$")  # the title shows the name: the commands so far are done
    app.command(window, f"extrude {EXTRUDE_DEPTH}")
    app.command(window, f"pocket {POCKET_DEPTH}")
    display.key("F5")  # simulate
    display.key("ctrl+i")
    display.window("^Import STEP$")
    display.type(str(step_file))
    display.key("Return")
    display.gone("^Import STEP$")
    display.key("ctrl+z")  # undo the import


def stored_usage(db: Path, category: str = "usage") -> tuple[dict[tuple[str, str], int], list[str]]:
    """(counts by metric and label, installation ids) from the collector's DuckDB, opened read-only."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = {(name, label): int(n) for name, label, n in con.execute(USAGE_SQL, [category]).fetchall()}
        ids = [
            str(row[0])
            for row in con.execute(
                "SELECT DISTINCT i.installation_id FROM reports r JOIN installations i USING (inst_key)"
            ).fetchall()
        ]
        return counts, ids
    finally:
        con.close()


def model_data_in_database(db: Path) -> list[str]:
    """Every text column of every table, and every stored number, searched for the model."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = []
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in columns:
            for (value,) in con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall():
                found += [f"{table}.{column}: {hit}" for hit in model_data_in(str(value).encode())]
        numbers = {int(v) for (v,) in con.execute("SELECT DISTINCT value FROM report_values").fetchall()}
        found += [f"report_values.value: {n}" for n in sorted(numbers & set(WHOLE_PARTS))]
        return found
    finally:
        con.close()


@pytest.fixture
def tap_and_collector(tmp_path: Path) -> Iterator[tuple[Tap, dict[str, CollectorProcess]]]:
    collector = start_collector(tmp_path / "db" / "optin.duckdb", tmp_path / "collector-1.log")
    tap = Tap(collector.port)
    state = {"collector": collector}
    try:
        yield tap, state
    finally:
        state["collector"].stop()
        tap.close()


@pytest.fixture
def app_log(tmp_path: Path) -> Iterator[IO[bytes]]:
    with open(tmp_path / "app.log", "ab") as log:
        yield log


def test_help_menu_toggle_under_a_real_display(
    display: Display,
    tmp_path: Path,
    registry: Registry,
    tap_and_collector: tuple[Tap, dict[str, CollectorProcess]],
    app_log: IO[bytes],
) -> None:
    tap, state = tap_and_collector
    collector: CollectorProcess = state["collector"]
    data, shots = tmp_path / "millwright", tmp_path / "screenshots"
    step_file = write_step(tmp_path / "customer-files")
    log = app_log

    # --- 1. first run: asked once, declined in one click; turned on from Help; a model drawn ----
    app = Millwright.launch(display, tap.url, data, log)
    try:
        dialog = display.window(ASK)
        assert app.consent()["status"] == "undecided"  # off by default
        shot(display, shots, "1-ask-dialog")
        # "Yes" and "No" are the two halves of the dialog's bottom row: declining is one click, as accepting is.
        display.click(dialog.x + dialog.width * 3 // 4, dialog.y + dialog.height - 30)
        display.gone(ASK)
        declined = app.wait_consent("the answer to be recorded", lambda c: bool(c["prompts"]))
        assert declined["status"] == "undecided" and [p["answer"] for p in declined["prompts"]] == ["no"]

        dropdown = app.open_help()
        shot(display, shots, "2-help-menu")
        app.click_feedback_item(dropdown)
        display.window(TURN_ON)
        shot(display, shots, "2b-turn-on-dialog")
        app.answer_turn_on()
        on = app.wait_consent("feedback to be on", lambda c: c["status"] == "on")
        assert on["surface"] == "help_menu"
        installation_id = on["installation_id"]

        window = app.focus_main()
        draw_model(app, window, step_file)
        shot(display, shots, "3-model")
        app.open_help()
        display.key("w")  # What is sent…
        display.window("^What is sent")
        shot(display, shots, "4-what-is-sent")
        display.key("Escape")
        display.gone("^What is sent")
        assert app.quit() == 0
    finally:
        app.kill()
    assert app.history() == [] and app.queued() == []  # the day is not over: its values wait on disk

    # --- 1b. the next morning: the app's first start sends yesterday's one report -------------
    app = Millwright.launch(display, tap.url, data, log, ahead_s=DAY_S)
    try:
        app.wait_history("the first day's report to be sent", lambda entries: bool(entries))
        assert display.windows(ASK) == []  # on: nothing to ask
        assert app.quit() == 0
    finally:
        app.kill()

    reports = [r for r in tap.requests() if r.path == "/v1/reports"]
    assert reports and tap.connections == len(reports)  # nothing but reports so far
    usage_names = {m.name for m in registry.metrics.values() if m.category == "usage"}
    wire = [orjson.loads(r.body) for r in reports]
    assert all(doc["installation_id"] == installation_id for doc in wire)
    wire_usage: Counter[tuple[str, str]] = Counter()
    for doc in wire:
        wire_usage.update(counts_of(doc["metrics"], usage_names))
    assert dict(wire_usage) == EXPECTED
    assert [hit for r in reports for hit in model_data_in(r.body)] == []

    sent = app.history()
    assert [e["result"] for e in sent] == ["accepted"] * len(reports)
    assert [e["content"] for e in sent] == wire  # the local history shows exactly what left the computer
    assert app.queued() == []

    collector.stop()
    db = collector.db
    usage, ids = stored_usage(db)
    assert usage == EXPECTED
    assert ids == [installation_id]
    assert stored_usage(db, "sessions")[0].get(("session.starts", "")) == 1
    assert model_data_in_database(db) == []
    collector_files = [p for p in db.parent.rglob("*") if p.is_file()] + [collector.log]
    assert [f"{p.name}: {hit}" for p in collector_files for hit in model_data_in(p.read_bytes())] == []
    for p in [*data.rglob("*")]:
        if p.is_file():
            assert model_data_in(p.read_bytes()) == [], p.name  # consent, history: nothing of the model either

    # --- 2. second run: turned off from Help; the collector erases the installation's rows ------
    collector = state["collector"] = start_collector(db, tmp_path / "collector-2.log")
    tap.upstream_port = collector.port
    before = tap.connections
    app = Millwright.launch(display, tap.url, data, log, ahead_s=DAY_S)
    try:
        app.open_help()
        shot(display, shots, "5-help-menu-on")
        display.key("v")  # View sent data…
        display.window("^Sent data")
        shot(display, shots, "6-sent-data")
        display.key("Escape")
        display.gone("^Sent data")

        app.click_feedback_item(app.open_help())
        off = app.wait_consent(
            "the deletion to be acknowledged", lambda c: c["status"] == "off" and not c["pending_deletion"]
        )
        assert off["installation_id"] is None and off["surface"] == "help_menu"
        display.window(OFF_NOTICE)  # says what turning it off did
        shot(display, shots, "6b-turned-off")
        display.key("Return")
        display.gone(OFF_NOTICE)
        window = app.focus_main()
        app.at(window, 600, 520)
        display.key("l")
        app.at(window, 300, 200)
        app.at(window, 500, 250)  # used while off: nothing is counted, nothing is sent
        assert display.windows(ASK) == []  # turning it off by hand is a decline: no question for months
        assert app.quit() == 0
    finally:
        app.kill()

    assert tap.connections == before + 1  # the one deletion request, nothing else
    deletion = tap.requests()[-1]
    assert deletion.path == "/v1/deletions" and orjson.loads(deletion.body) == {"installation_id": installation_id}
    assert app.history()[-1]["result"] == "deletion: answered 202"
    assert app.queued() == []
    after_off = counters(collector)

    # --- 3. third run, still off: the user works; no connection at all -------------------------
    app = Millwright.launch(display, tap.url, data, log, ahead_s=DAY_S)
    try:
        window = app.focus_main()
        app.at(window, 600, 520)
        display.key("c")
        app.at(window, 400, 400)
        app.at(window, 450, 400)
        app.command(window, "extrude 5")
        assert app.quit() == 0
    finally:
        app.kill()
    assert tap.connections == before + 1
    assert counters(collector) == after_off
    final = app.consent()
    assert final["status"] == "off" and len(final["prompts"]) == 1

    collector.stop()
    assert b'"event":"deleted"' in collector.log.read_bytes()
    assert stored_usage(db) == ({}, [])
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute(
            "SELECT count(*) FROM installations WHERE installation_id = ?", [installation_id]
        ).fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM report_values").fetchone() == (0,)
    finally:
        con.close()
    for name in ("1-ask-dialog", "2-help-menu", "5-help-menu-on"):
        assert (SHOTS_OUT / f"{name}.png").stat().st_size > 0


def test_the_model_search_finds_each_piece_and_ignores_report_noise() -> None:
    """The search above can fail: it finds the model's pieces, and only them, in report-like bytes."""
    assert model_data_in(b'{"part": "QUOKKA-7731-BRACKET", "file": "/home/x/customer-secret-part-Q7.step"}') == [
        PART_NAME,
        STEP_STEM,
    ]
    assert model_data_in(b"[613.25, 347.5]") == ["613.25", "347.5", "613", "347"]
    noise = b'{"installation_id": "e613ab20-4271-4288-9347-0a613f288d19", "sent_at": 1795613470, "system.disk_gib": 512, "edit.undo": 1}'
    assert model_data_in(noise) == []
