"""The rules every dashboard page follows, checked on the source (no database, no browser):
one i18n mechanism (catalog keys of dashboard/i18n.py, every key present in both languages),
titles from the page registry, no role names in pages (permissions through ``ctx.can``)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from dashboard import i18n
from dashboard.pages import PAGES
from qhse.vocab import Role

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
PAGE_FILES = sorted((DASHBOARD / "app_pages").glob("*.py"))
ALL_FILES = sorted(DASHBOARD.rglob("*.py"))


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_the_registry_and_pages_agree():
    assert sorted(p.file for p in PAGES) == sorted(f"app_pages/{p.name}" for p in PAGE_FILES)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(DASHBOARD)))
def test_text_comes_from_the_catalog(path):
    """No inline (English, Chinese) pairs; every key looked up exists, in both languages."""
    bad = []
    for c in _calls(path):
        where = f"{path.relative_to(DASHBOARD)}:{c.lineno}"
        if c.func.attr in ("tr", "tr_for"):
            bad.append(f"{where}: inline translation .{c.func.attr}(...)")
        if c.func.attr == "t" and c.args:
            key = c.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                if key.value not in i18n.STRINGS:
                    bad.append(f"{where}: key {key.value!r} is not in the catalog")
                else:
                    given = {k.arg for k in c.keywords}
                    for text in i18n.STRINGS[key.value] if given else ():  # no arguments: read as written
                        if not _fields(text) <= given:
                            bad.append(f"{where}: {key.value!r} needs {sorted(_fields(text) - given)}")
            elif isinstance(key, ast.JoinedStr) and isinstance(key.values[0], ast.Constant):
                prefix = key.values[0].value
                if not any(k.startswith(prefix) for k in i18n.STRINGS):
                    bad.append(f"{where}: no catalog key starts with {prefix!r}")
        if c.func.attr == "label" and c.args and isinstance(c.args[0], ast.Constant):
            if not any(k.startswith(c.args[0].value + ".") for k in i18n.STRINGS):
                bad.append(f"{where}: no catalog entries for vocabulary {c.args[0].value!r}")
    assert bad == []


def test_every_catalog_entry_has_both_languages():
    bad = [k for k, pair in i18n.STRINGS.items()
           if len(pair) != 2 or not all(isinstance(x, str) and x.strip() for x in pair)]
    assert bad == []


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.stem)
def test_pages_take_titles_from_the_registry_and_ask_permissions(path):
    src = path.read_text()
    bad = [f"line {c.lineno}: st.title" for c in _calls(path) if c.func.attr == "title"]
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "role":
            bad.append(f"line {node.lineno}: reads the user's role")
        if isinstance(node, ast.Constant) and node.value in set(Role):
            bad.append(f"line {node.lineno}: role name {node.value!r}")
        if isinstance(node, ast.Name) and node.id.endswith("_ROLES"):
            bad.append(f"line {node.lineno}: role list {node.id}")
    assert bad == []


def test_a_missing_label_reads_as_the_value():
    assert i18n.label("zh", "hazard_severity", "high") == "较大"
    assert i18n.label("en", "hazard_severity", "high") == "High"
    assert i18n.label("zh", "hazard_severity", "unheard_of") == "unheard_of"
    assert i18n.label("en", "resource_kind", "fire_blanket", default="fire blanket") == "fire blanket"
