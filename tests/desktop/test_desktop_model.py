"""Millwright's tools map onto declared registry counters; its model and commands need no display."""

from __future__ import annotations

from pathlib import Path

from optin.contract import Kind, Registry
from optin.demo._desktop_model import EXTRUDE, LINE, TOOLS, Command, Part, Shape, parse_command, read_step


def test_every_tool_counts_a_declared_usage_counter_with_a_declared_label(registry: Registry) -> None:
    for tool in TOOLS:
        metric = registry.metrics[tool.metric]
        assert metric.kind is Kind.COUNTER and metric.category == "usage", tool
        assert (tool.label in metric.labels) if tool.label else not metric.labels, tool


def test_commands_parse_numbers_and_refuse_the_rest_in_plain_words() -> None:
    assert parse_command("line 1 2.5 3 4") == Command(LINE, (1.0, 2.5, 3.0, 4.0))
    assert parse_command("name Bracket A") == Command(None, text="Bracket A")
    assert isinstance(parse_command("line 1 2"), str)
    assert isinstance(parse_command("circle 1 2 nan"), str)
    assert isinstance(parse_command("rm -rf /"), str)
    assert parse_command("extrude") == Command(EXTRUDE, ())  # the default depth


def test_tools_need_what_a_cad_tool_needs_and_undo_takes_back_the_last_step() -> None:
    part = Part()
    assert part.extrude() is None and part.pocket() is None and part.simulate() is None
    part.add(Shape("circle", (10, 10, 5)))
    assert part.pocket() is None
    assert part.extrude(3) == Shape("extrude", (10, 10, 5, 3))
    assert part.pocket(1) is not None and part.simulate() is not None
    assert part.undo() == Shape("simulation", (10, 10, 5, 1)) and len(part.shapes) == 3


def test_a_step_import_keeps_the_product_name_in_the_model_only(tmp_path: Path) -> None:
    step = tmp_path / "x.stp"
    step.write_text("ISO-10303-21;\nDATA;\n#1=PRODUCT('PUMP-HOUSING','','',(#2));\nENDSEC;\n")
    assert read_step(step).name == "PUMP-HOUSING"
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    try:
        read_step(other)
    except ValueError:
        pass
    else:
        raise AssertionError("a file that is not STEP was read as STEP")
