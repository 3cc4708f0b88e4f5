"""Dependencies point one way: client, collector and analysis import the contract, never each other's internals."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "contract": "optin.contract",
    "client": "optin.client",
    "collector": "optin.collector",
    "analysis": "optin.analysis",
}
# What each component may import from this project. The collector serves live aggregates through
# the analysis package's public gateway (SPEC §3), never its private modules.
ALLOWED = {
    "optin.contract": {"optin.contract"},
    "optin.client": {"optin.contract", "optin.client"},
    "optin.collector": {"optin.contract", "optin.collector", "optin.analysis"},
    "optin.analysis": {"optin.contract", "optin.analysis"},
}
NEVER_AT_IMPORT = {
    "optin.client": {"aiohttp", "duckdb", "psutil", "pyarrow"},
    "optin.contract": {"aiohttp", "duckdb", "psutil", "pyarrow"},
}


def imports_of(path: Path, package: str) -> list[tuple[str, int, bool]]:
    """(module, line, at_module_level) for every import in a file, with relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int, bool]] = []
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.append((name, node.lineno, id(node) in top_level))
    return found


def test_components_import_only_the_contract_and_public_apis() -> None:
    problems = []
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            for name, line, _ in imports_of(path, package):
                if not name.startswith("optin."):
                    continue
                owner = ".".join(name.split(".")[:2])
                if owner not in ALLOWED[package]:
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
                elif owner != package and name != owner:
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {name}, a private part of {owner}")
    assert problems == []


def test_client_and_contract_never_import_heavy_dependencies_at_module_level() -> None:
    problems = []
    for folder, package in PACKAGES.items():
        banned = NEVER_AT_IMPORT.get(package, set())
        for path in (ROOT / folder).rglob("*.py"):
            for name, line, top in imports_of(path, package):
                if top and name.split(".")[0] in banned:
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert problems == []


def test_import_optin_client_in_a_fresh_interpreter_loads_no_aiohttp_psutil_or_duckdb() -> None:
    code = "import sys, optin.client; print(sorted(m for m in ('aiohttp','psutil','duckdb','pyarrow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_every_package_exports_a_sorted_all() -> None:
    import importlib

    for package in PACKAGES.values():
        module = importlib.import_module(package)
        exported = list(module.__all__)
        assert exported == sorted(exported), package
        assert all(hasattr(module, name) for name in exported), package
