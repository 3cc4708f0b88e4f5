"""Erased reports' value rows wait for the loader's sweep: no query may read value rows without their report."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_WRITES = re.compile(r"^\s*(INSERT INTO|DELETE FROM|CREATE TABLE)\s+report_values\b", re.IGNORECASE)
_THROUGH_REPORTS = re.compile(
    r"reports\s+\w+\s+JOIN\s+report_values\b|report_values\s+\w+\s+JOIN\s+reports\b", re.IGNORECASE
)


def _sql_reading_values() -> list[tuple[str, str]]:
    """Every SQL string of the packages that names report_values and is not a write to it."""
    found = []
    for folder in ("analysis", "collector", "contract"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.JoinedStr):
                    text = "".join(
                        v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
                    )
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value
                else:
                    continue
                sql = re.search(r"\bSELECT\b", text) is not None  # (not prose)
                if sql and re.search(r"\breport_values\b", text) and not _WRITES.search(text):
                    found.append((path.name, text))
    return found


def test_every_query_of_value_rows_reads_them_through_their_report() -> None:
    queries = _sql_reading_values()
    assert len(queries) >= 6  # the release SQL, snapshots, retention: the check sees them
    alone = [(name, text) for name, text in queries if not _THROUGH_REPORTS.search(text)]
    assert alone == []


def test_the_check_finds_a_query_of_value_rows_alone() -> None:
    text = "SELECT metric_key, sum(value) FROM report_values GROUP BY metric_key"
    assert re.search(r"\breport_values\b", text) and not _THROUGH_REPORTS.search(text)
