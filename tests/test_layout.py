"""The layout rules of ARCHITECTURE.md, checked on the source: who may import whom, no SQL in pages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("qhse", "db", "ingestion", "ml", "vision", "dashboard")
ALLOWED = {
    "qhse": {"qhse", "db"},
    "db": {"db", "qhse.settings"},
    "ingestion": {"ingestion", "db", "qhse"},
    "ml": {"ml", "db", "qhse"},
    "vision": {"vision", "db", "qhse"},
    "dashboard": set(PACKAGES),
}
# The composition roots (the command line, the demo, the job runner) may import every package.
COMPOSITION_ROOTS = {p for d in ("cli", "demo", "jobs") for p in (ROOT / "qhse" / d).rglob("*.py")}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out


def _allowed(pkg: str, mod: str) -> bool:
    top = mod.split(".")[0]
    if top not in PACKAGES:
        return True
    return any(mod == a or mod.startswith(a + ".") for a in ALLOWED[pkg])


def test_import_rules():
    bad = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if path in COMPOSITION_ROOTS:
                continue
            for mod in _imports(path):
                if not _allowed(pkg, mod):
                    bad.append(f"{path.relative_to(ROOT)} imports {mod}")
                # Command modules share qhse.cli.support; the root group is imported by nothing but the demo.
                if mod == "qhse.cli.root" and not path.is_relative_to(ROOT / "qhse" / "demo"):
                    bad.append(f"{path.relative_to(ROOT)} imports the CLI (nothing may)")
    assert bad == []


def test_settings_are_a_leaf():
    mods = [m for m in _imports(ROOT / "qhse" / "settings.py") if m.split(".")[0] in PACKAGES]
    assert mods == []


def test_pages_build_no_sql():
    pattern = re.compile(r"\b(sa|sqlalchemy)\.(text|select)\(|\btext\(\s*[\x27\x22]|\bselect\(\s*\w+\.|session\.execute|\.query\(|exec_driver_sql|\bSELECT\s+[\w*]|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|import sqlalchemy|from sqlalchemy")
    bad = []
    for path in (ROOT / "dashboard").rglob("*.py"):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert bad == []
