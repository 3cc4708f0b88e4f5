"""Every analysis surface reads releases only (SPEC §4): no SQL over raw report rows, by construction.

The surfaces are the modules behind the CLI's questions, `LocalSource`, `RemoteSource`, the
collector's aggregate, budget and dashboard endpoints, the HTML report, snapshots and `publish`.
Their SQL (every string constant, f-strings included) may name only the release tables, and none
of them may import, directly or through another module, the release job's bounding SQL: the one
place that reads raw rows, run only by the process that owns the database. A new question that
tried to bypass the pipeline fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from optin.contract import RELEASE_TABLES

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = {"optin.analysis._release_sql", "optin.analysis._release_job"}  # reads raw rows; owner process only
SURFACES = {
    "optin.analysis._questions",
    "optin.analysis._releases",
    "optin.analysis._source",
    "optin.analysis._remote",
    "optin.analysis._render",
    "optin.analysis._html",
    "optin.analysis._charts",
    "optin.analysis._catalog",
    "optin.analysis._adoption",
    "optin.analysis._compare",
    "optin.analysis._dashboard",
    "optin.analysis._dashboard_compare",
    "optin.analysis._retention",
    "optin.analysis._breakdowns",
    "optin.analysis._export",
    "optin.analysis._serialize",
    "optin.analysis._publish",
    "optin.analysis._table",
    "optin.analysis._window",
    "optin.analysis._progress",
    "optin.collector._aggregates",
}
# The CLI may start the release job (`optin-analysis release`, an operator's command on a stopped
# collector's file) but its own text may not hold raw SQL; likewise the collector's handlers.
SQL_ONLY = {"optin.analysis.__main__", "optin.collector._handlers", "optin.analysis._tools"}
TABLE_AFTER = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
ALLOWED_SOURCES = set(RELEASE_TABLES) | {"read_parquet", "unnest"}


def module_path(name: str) -> Path:
    folder, rest = name.split(".")[1], name.split(".")[2:]
    return ROOT / folder / (("/".join(rest) or "__init__") + ".py")


def strings(path: Path) -> list[tuple[int, str]]:
    """Every string constant, with f-strings joined (placeholders as {})."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            text = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
            out.append((node.lineno, str(text)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


def raw_sql(path: Path) -> list[str]:
    """Table names after FROM or JOIN that are not release tables."""
    found = []
    for line, text in strings(path):
        for name in TABLE_AFTER.findall(text):
            if name not in ALLOWED_SOURCES and re.search(r"\bSELECT\b", text, re.IGNORECASE):
                found.append(f"{path.relative_to(ROOT)}:{line} reads {name}")
    return sorted(set(found))


def _public_homes() -> dict[str, str]:
    """Each name ``optin.analysis`` exports, mapped to the private module it comes from."""
    homes = {}
    for node in ast.parse(module_path("optin.analysis.__init__").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            homes.update({alias.name: f"optin.analysis.{node.module}" for alias in node.names})
    return homes


def _imports(name: str) -> set[str]:
    """Project modules one module imports; a name taken from the public API counts as its home module."""
    path = module_path(name)
    if not path.is_file():
        return set()
    homes = _public_homes()
    package = ".".join(name.split(".")[:2])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "optin.analysis" and not node.level:
            found |= {homes[alias.name] for alias in node.names}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            found |= {m for m, _, _ in imports_of_node(node, package)}
    return {m for m in found if m.startswith("optin.")}


def imports_of_node(node: ast.Import | ast.ImportFrom, package: str) -> list[tuple[str, int, bool]]:
    if isinstance(node, ast.Import):
        return [(alias.name, node.lineno, False) for alias in node.names]
    if node.level:
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        return [(f"{base}.{node.module}" if node.module else base, node.lineno, False)]
    return [(node.module or "", node.lineno, False)]


def closure(name: str) -> set[str]:
    """Project modules ``name`` uses, directly or through others (through the public API by name)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += _imports(current)
    return seen - {name}


def test_no_surface_names_a_raw_table_in_its_sql() -> None:
    problems = [p for name in sorted(SURFACES | SQL_ONLY) for p in raw_sql(module_path(name))]
    assert problems == []


def test_no_surface_reaches_the_release_job_s_raw_sql() -> None:
    problems = {name: sorted(closure(name) & PIPELINE) for name in SURFACES}
    assert {name: found for name, found in problems.items() if found} == {}


def test_every_analysis_module_is_classified() -> None:
    """A new module is a surface or part of the pipeline by decision, never by omission."""
    known = (
        SURFACES
        | SQL_ONLY
        | PIPELINE
        | {"optin.analysis.__init__", "optin.analysis._noise", "optin.analysis._release_plan"}
    )
    modules = {f"optin.analysis.{p.stem}" for p in (ROOT / "analysis").glob("*.py")}
    assert modules - known == set()


def test_the_check_catches_a_question_that_reads_raw_rows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        'SQL = f"SELECT count(*) FROM reports r WHERE r.day = {1}"\nOK = "SELECT * FROM release_cells"\n',
        encoding="utf-8",
    )
    bad = bad.rename(ROOT / "tests" / "_surface_canary.py")
    try:
        assert raw_sql(bad) == ["tests/_surface_canary.py:1 reads reports"]
    finally:
        bad.unlink()
    assert closure("optin.analysis._tools") & PIPELINE  # the closure does follow imports
