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


PACKAGES = (ROOT / "analysis", ROOT / "collector", ROOT / "contract")


def _sql_reading_values(folders: tuple[Path, ...] = PACKAGES) -> list[tuple[str, str]]:
    """Every SQL string of the packages that names report_values and is not a write to it."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
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
    return list(dict.fromkeys(found))  # (an f-string's parts are constants too)


def test_every_query_of_value_rows_reads_them_through_their_report() -> None:
    queries = _sql_reading_values()
    assert len(queries) >= 6  # the release SQL, snapshots, retention: the check sees them
    alone = [(name, text) for name, text in queries if not _THROUGH_REPORTS.search(text)]
    assert alone == []


def test_the_check_finds_a_query_of_value_rows_alone(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text(
        'JOINED = "SELECT v.value FROM reports r JOIN report_values v ON v.report_key = r.report_key"\n'
        'ALONE = f"SELECT metric_key, sum(value) FROM report_values WHERE day = {1}"\n'
        'WRITE = "DELETE FROM report_values WHERE report_key IN (SELECT report_key FROM erased_reports)"\n'
    )
    queries = _sql_reading_values((tmp_path,))
    assert [text for _, text in queries if not _THROUGH_REPORTS.search(text)] == [
        "SELECT metric_key, sum(value) FROM report_values WHERE day = "
    ]
    assert len(queries) == 2  # the write is not a read
