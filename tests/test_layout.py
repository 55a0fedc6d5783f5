"""The layering of the platform, checked on the source.

One table (LAYERS) says which package belongs to which layer and which layers it may import.
Every ``import`` in a file counts, also the ones inside functions or ``if TYPE_CHECKING:``
blocks (the whole tree is walked), and relative imports are resolved. On top of the table:
no cycles between packages, the domain touches no infrastructure (no database, web, CLI,
broker, network, files), migrations import nothing from the application, the CLI's root
group is imported by nobody but ``python -m qhse.cli`` and the demo, pages build no SQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# layer, its packages, the layers it may import (besides stdlib and third party), whether its
# packages may import each other. Lowest layer first; a module belongs to its longest prefix.
LAYERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], bool], ...] = (
    ("settings", ("qhse", "qhse.settings", "qhse.vocab", "qhse.mqtt_address"), (), True),
    ("domain", ("qhse.domain",), ("settings",), True),
    ("db", ("db",), ("settings", "domain"), True),
    ("services", ("qhse.services",), ("db", "domain", "settings"), True),
    ("features", ("ingestion", "ml", "vision"), ("services", "db", "domain", "settings"), False),
    # qhse.api: the HTTP API, an entry point beside the command line, the jobs and the dashboard.
    ("entry points", ("qhse.cli", "qhse.jobs", "qhse.api", "dashboard", "ingestion.cli", "vision.cli"),
     ("features", "services", "db", "domain", "settings"), False),
    ("composition", ("qhse.demo",), ("entry points", "features", "services", "db", "domain", "settings"), True),
)
# Imports between two packages of one layer that are allowed all the same (importer package, imported module):
# the vision model registry keeps its runs in the MLflow store that ml.tracking opens.
SIBLING_EXCEPTIONS = {
    ("vision", "ml.tracking"),
    # The ingestion and vision commands (kept beside their features) share the CLI's one error type,
    # engine and --as option; `qhse worker` runs the job runner; `qhse dashboard` starts its server.
    ("ingestion.cli", "qhse.cli.support"), ("vision.cli", "qhse.cli.support"),
    ("qhse.cli", "qhse.jobs"), ("qhse.cli", "dashboard.launch"),
}

TOPS = ("qhse", "db", "ingestion", "ml", "vision", "dashboard")
PACKAGE_OF = {pkg: layer for layer, pkgs, _, _ in LAYERS for pkg in pkgs}
LAYER = {layer: (pkgs, may, siblings) for layer, pkgs, may, siblings in LAYERS}

# The domain is pure: none of these, and no file I/O.
DOMAIN_FORBIDDEN = ("sqlalchemy", "alembic", "psycopg", "streamlit", "starlette", "click", "rich", "paho", "amqtt",
                    "requests", "httpx", "urllib.request", "http.client", "http.server", "socket", "smtplib",
                    "subprocess", "mlflow")
FILE_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "glob", "rglob", "mkdir",
              "unlink", "listdir", "scandir", "walk"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


FILES = sorted(p for top in TOPS for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)
MODULES = {_module_name(p): p for p in FILES}


def _package(mod: str) -> str | None:
    """The table's package of a project module (longest prefix), None for an unlisted one."""
    best = None
    for pkg in PACKAGE_OF:
        if (mod == pkg or mod.startswith(pkg + ".")) and (best is None or len(pkg) > len(best)):
            best = pkg
    return best


def _is_project(mod: str) -> bool:
    return mod.split(".")[0] in TOPS


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file; ``from a import b`` gives ``a.b`` when that is a
    module of the project, else ``a``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((node.lineno, sub if sub in MODULES else mod))
    return list(dict.fromkeys(out))


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_every_module_has_a_layer():
    assert [m for m in MODULES if _package(m) is None] == []


def test_import_rules():
    """Each package imports only its own layer's packages (where allowed) and the layers the table lists."""
    bad = []
    for mod, path in MODULES.items():
        pkg = _package(mod)
        if pkg is None:
            continue
        layer = PACKAGE_OF[pkg]
        _, may, siblings = LAYER[layer]
        for line, target in _imports(path):
            if not _is_project(target):
                continue
            tpkg = _package(target)
            if tpkg is None or tpkg == pkg:
                continue
            tlayer = PACKAGE_OF[tpkg]
            if tlayer in may:
                continue
            if tlayer == layer and (siblings or any(pkg == p and (target == m or target.startswith(m + "."))
                                                    for p, m in SIBLING_EXCEPTIONS)):
                continue
            why = f"a sibling {layer} package" if tlayer == layer else f"{tlayer} (above {layer})"
            bad.append(f"{_where(path, line)}: {pkg} imports {target}: {why}")
    assert bad == [], "\n".join(bad)


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {pkg: set() for pkg in PACKAGE_OF}
    for mod, path in MODULES.items():
        pkg = _package(mod)
        for _, target in _imports(path):
            tpkg = _package(target) if _is_project(target) else None
            if pkg and tpkg and tpkg != pkg:
                graph[pkg].add(tpkg)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_package_cycles():
    # The packages of the table (qhse.settings/vocab, qhse.domain, db, qhse.services, ingestion, ml, vision,
    # qhse.cli, qhse.jobs, dashboard, qhse.demo): none reaches itself through another.
    graph = _package_graph()
    cycles = _cycles(graph)
    assert cycles == [], "\n".join(f"{p} -> {', '.join(sorted(graph[p] & set(c)))}" for c in cycles for p in c)


def test_domain_touches_no_infrastructure():
    bad = []
    for mod, path in MODULES.items():
        if _package(mod) != "qhse.domain":
            continue
        for line, target in _imports(path):
            if any(target == f or target.startswith(f + ".") for f in DOMAIN_FORBIDDEN):
                bad.append(f"{_where(path, line)}: imports {target}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
                if name in FILE_CALLS:
                    bad.append(f"{_where(path, node.lineno)}: file I/O ({name}())")
    assert bad == [], "\n".join(bad)


def test_migrations_import_nothing_from_the_application():
    # A migration is history: it must replay the same way whatever the application's code becomes.
    bad = []
    for path in (ROOT / "db" / "migrations" / "versions").rglob("*.py"):
        bad += [f"{_where(path, line)}: imports {t}" for line, t in _imports(path) if _is_project(t)]
    assert bad == [], "\n".join(bad)


def test_only_the_entry_module_and_the_demo_import_the_cli_root():
    # Command modules share qhse.cli.support; the root group imports them, never the other way round.
    bad = []
    for mod, path in MODULES.items():
        if mod in ("qhse.cli.root", "qhse.cli.__main__") or _package(mod) == "qhse.demo":
            continue
        bad += [f"{_where(path, line)}: imports {t}" for line, t in _imports(path) if t == "qhse.cli.root"]
    assert bad == [], "\n".join(bad)


def test_settings_are_a_leaf():
    assert [t for _, t in _imports(ROOT / "qhse" / "settings.py") if _is_project(t)] == []


def test_pages_build_no_sql():
    pattern = re.compile(r"\b(sa|sqlalchemy)\.(text|select)\(|\btext\(\s*[\x27\x22]|\bselect\(\s*\w+\.|session\.execute|\.query\(|exec_driver_sql|\bSELECT\s+[\w*]|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|import sqlalchemy|from sqlalchemy")  # noqa: E501
    bad = []
    for path in (ROOT / "dashboard").rglob("*.py"):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert bad == [], "\n".join(bad)
