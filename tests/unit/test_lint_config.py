"""The lint configuration in pyproject.toml stays honest: the strict layers are never relaxed, and every
module the mypy ratchet still excuses exists (a renamed or removed module leaves the list)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRICT = ("qhse.domain", "qhse.services", "qhse.vocab", "qhse.settings")


def _mypy() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def _is_project_module(name: str) -> bool:
    return name.split(".")[0] in ("qhse", "db", "ingestion", "ml", "vision", "dashboard")


def _exists(name: str) -> bool:
    base = ROOT.joinpath(*name.removesuffix(".*").split("."))
    return base.with_suffix(".py").is_file() or base.is_dir()


def test_mypy_is_strict_by_default():
    assert _mypy()["strict"] is True


def test_the_strict_layers_are_never_relaxed():
    relaxed = []
    for override in _mypy()["overrides"]:
        if override.get("ignore_missing_imports"):
            continue
        mods = override["module"] if isinstance(override["module"], list) else [override["module"]]
        relaxed += [m for m in mods if any(m == s or m.startswith(s + ".") or s.startswith(m.removesuffix("*"))
                                           for s in STRICT)]
    assert relaxed == []


def test_every_excused_module_exists():
    missing = []
    for override in _mypy()["overrides"]:
        mods = override["module"] if isinstance(override["module"], list) else [override["module"]]
        missing += [m for m in mods if _is_project_module(m) and not _exists(m)]
    assert missing == []


def test_ruff_per_file_ignores_name_files_that_exist():
    ignores = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]["per-file-ignores"]
    assert [g for g in ignores if not list(ROOT.glob(g))] == []
