"""The ``qhse`` root group: a registry of command modules imported only when used."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import click

from qhse.cli.root import COMMANDS, LazyGroup, cli

ROOT = Path(__file__).resolve().parents[1]
COMMAND_MODULES = sorted({t.split(":")[0] for t in COMMANDS.values()})


def test_every_registered_command_resolves_under_its_name():
    ctx = click.Context(cli)
    assert isinstance(cli, LazyGroup)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert isinstance(cmd, click.Command) and cmd.name == name
    assert cli.get_command(ctx, "make-coffee") is None


def test_one_command_imports_only_its_own_module():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import sys; from click.testing import CliRunner; from qhse.cli.root import cli; "
            "r = CliRunner().invoke(cli, ['kpi', '--help']); assert r.exit_code == 0, r.output; "
            "print(' '.join(m for m in sys.modules if m.startswith(('qhse.cli.', 'ingestion', 'vision', 'ml'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert "qhse.cli.kpi" in loaded
    assert loaded <= {"qhse.cli.root", "qhse.cli.kpi", "qhse.cli.support"}, loaded


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def test_command_modules_share_only_support():
    bad = []
    for mod in COMMAND_MODULES:
        path = ROOT / (mod.replace(".", "/") + ".py")
        for imp in _imports(path):
            if imp.startswith("qhse.cli") and imp != "qhse.cli.support":
                bad.append(f"{mod} imports {imp}")
    assert bad == []


def test_help_lists_every_command():
    res = subprocess.run([sys.executable, "-m", "qhse.cli", "--help"], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "COLUMNS": "200"}, timeout=120)
    assert res.returncode == 0, res.stderr
    listed = [ln.split()[0] for ln in res.stdout.split("Commands:")[1].splitlines() if ln.strip()]
    assert listed == sorted(COMMANDS)


def test_db_seed_refuses_a_database_with_data_in_one_line(seeded_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = seeded_url
    res = subprocess.run([sys.executable, "-m", "qhse.cli", "db", "seed", "--scale", "small"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=300)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: ") and "already holds data" in res.stderr
    assert "Traceback" not in res.stderr


def test_user_commands_add_list_passwd(fresh_db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env.update(QHSE_DATABASE_URL=fresh_db_url, COLUMNS="200")

    def qhse(*args):
        return subprocess.run([sys.executable, "-m", "qhse.cli", "user", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=120)

    r = qhse("add", "Reg.Admin", "--role", "admin", "--all-sites", "--password", "a-long-enough-password-1")
    assert r.returncode == 0, r.stderr
    assert "user reg.admin added" in r.stdout and "database: PostgreSQL" in r.stderr
    r = qhse("add", "reg.admin", "--role", "admin", "--all-sites", "--password", "a-long-enough-password-1")
    assert r.returncode == 2 and r.stderr.startswith("database: ") and "error: " in r.stderr
    r = qhse("list")
    assert r.returncode == 0 and "reg.admin" in r.stdout and "admin" in r.stdout
    r = qhse("passwd", "reg.admin", "--password", "another-long-password-2")
    assert r.returncode == 0 and "password of reg.admin changed" in r.stdout, r.stderr
