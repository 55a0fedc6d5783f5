"""Settings on the command line: unknown keys, bad values and unreachable services give one clear line, exit 2
(the settings rules themselves: tests/unit/test_settings.py)."""

from __future__ import annotations

import os
import subprocess
import sys

ENV_BASE = {k: v for k, v in os.environ.items() if not k.upper().startswith("QHSE_")}


def run_cli(*args, env_extra=None, cwd=None):
    env = {**ENV_BASE, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "qhse.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_cli_unknown_key_exit_2():
    r = run_cli("db", "url", env_extra={"QHSE_BOGUS": "1"})
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: QHSE_BOGUS: unknown setting")
    assert "Traceback" not in r.stderr


def test_cli_unreachable_database_exit_2():
    r = run_cli("db", "url", env_extra={"QHSE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nope"})
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: QHSE_DATABASE_URL: cannot connect")
    assert "Traceback" not in r.stderr


def test_cli_unwritable_data_dir_exit_2(tmp_path):
    if os.geteuid() == 0:
        target = "/proc/qhse-cannot-write-here"  # not writable even for root
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = str(ro / "data")
    r = run_cli("db", "url", env_extra={"QHSE_DATA_DIR": target})
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().startswith("error: QHSE_DATA_DIR:") and "not writable" in r.stderr
    assert "Traceback" not in r.stderr


def test_help_everywhere():
    for args in (["--help"], ["db", "--help"], ["db", "seed", "--help"], ["demo", "--help"]):
        r = run_cli(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert "Usage:" in r.stdout
