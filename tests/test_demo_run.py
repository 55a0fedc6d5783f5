"""``qhse demo`` as a user runs it: in a directory of its own, on the embedded PostgreSQL and broker.

One seeded data directory for the module (small scale, no dashboard); then a second start, a
command in another terminal (another directory, no QHSE_* variables), and a start with the
dashboard that runs the job runner for as long as it runs and stops everything on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest

BIN = Path(sys.executable).parent / "qhse"
ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = re.compile(r"^│ (\S+)\s+│ (\S[^│]*?)\s+│ (\w+)\s+│", re.M)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Demo:
    def __init__(self, root: Path):
        self.root = root
        self.cwd = root / "demo"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.data = self.cwd / ".qhse"
        self.broker_port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("QHSE_")}
        env.update(XDG_STATE_HOME=str(root / "state"), QHSE_EMBEDDED_MQTT_PORT=str(self.broker_port),
                   COLUMNS="160")
        self.env = env

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 900, input: str | None = None):
        p = subprocess.run([str(BIN), *args], cwd=cwd or self.cwd, env=self.env, capture_output=True, text=True,
                           timeout=timeout, input=input)
        return p

    def accounts(self, out: str) -> dict[str, str]:
        return {u: pw.strip() for u, pw, _role in ACCOUNT.findall(out) if u != "user"}

    def query(self, sql: str, dbname: str = "qhse"):
        """Rows of ``sql`` on the running demo's server (as its owner, over the socket)."""
        with psycopg.connect(host=str(self.data / "pgdata"), user="postgres", dbname=dbname) as conn:
            return conn.execute(sql).fetchall()

    def stopped_query(self, sql: str, dbname: str = "qhse"):
        code = ("import json, sys, psycopg; from db.embedded import start_embedded_postgres; "
                "from pathlib import Path; start_embedded_postgres(Path(sys.argv[1])); "
                "c = psycopg.connect(host=sys.argv[1] + '/pgdata', user='postgres', dbname=sys.argv[2]); "
                "print(json.dumps([list(r) for r in c.execute(sys.argv[3]).fetchall()], default=str)); c.close()")
        p = subprocess.run([sys.executable, "-c", code, str(self.data), dbname, sql], env=self.env,
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def demo():
    # Not under pytest's 0700 temporary folder: run as root, the embedded PostgreSQL runs as its own
    # system user, which must reach the data directory.
    root = Path(tempfile.mkdtemp(prefix="qhse-demo-"))
    root.chmod(0o755)
    d = Demo(root)
    p = d.run("demo", "--no-ui")
    d.first = p
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    yield d
    shutil.rmtree(root, ignore_errors=True)


def test_first_start_keeps_passwords_and_notifies_through_the_broker(demo):
    out = demo.first.stdout + demo.first.stderr
    assert "pipeline aborted" not in out
    accounts = demo.accounts(demo.first.stdout)
    assert set(accounts) >= {"admin", "plant.manager", "worker"}
    assert all(len(pw) >= 12 and "(" not in pw for pw in accounts.values()), accounts
    assert "qhse user passwd NAME" in demo.first.stdout
    pw_file = demo.data / "demo-passwords"
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert all(f"{u} {pw}" in pw_file.read_text() for u, pw in accounts.items())
    # The accounts table ends the start-up (then, without the dashboard, the demo stops what it started).
    lines = demo.first.stdout.rstrip().splitlines()
    end = lines.index("stopping what the demo started ...")
    assert lines[end - 2].startswith("The passwords stay the same"), lines[end - 3:end + 1]
    assert {x.strip() for x in lines[end + 1:]} == {"stopped job runner",
                                                     "stopped MQTT broker, ingestion and simulator",
                                                "stopped embedded PostgreSQL"}, lines[end:]
    # The first job pass ran with the broker up: every queued notification went out.
    jobs = demo.first.stdout[demo.first.stdout.index("== Job runner"):]
    line = next(x for x in jobs.splitlines() if x.strip().startswith("notifications"))
    assert " ok " in line and "0 to retry" in line and "refused" not in out, line
    assert demo.first.stdout.index("MQTT broker:") < demo.first.stdout.index("== Job runner")
    assert (demo.root / "state" / "qhse" / "demo-data-dir").read_text().strip() == str(demo.data)


def test_commands_in_another_terminal_find_the_demo_data(demo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = demo.run("user", "list", cwd=elsewhere, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "plant.manager" in p.stdout and "creating a new, empty" not in p.stderr
    assert not (elsewhere / ".qhse").exists()
    # Without the demo's record, the same command says it creates a new, empty database.
    env = dict(demo.env, XDG_STATE_HOME=str(tmp_path / "no-state"))
    p = subprocess.run([str(BIN), "user", "list"], cwd=elsewhere, env=env, capture_output=True, text=True,
                       timeout=300)
    assert f"no database in {elsewhere / '.qhse'}: creating a new, empty embedded database" in p.stderr
    assert "plant.manager" not in p.stdout


def test_second_start_same_passwords_keeps_a_changed_one_and_no_new_model(demo):
    first = demo.accounts(demo.first.stdout)
    p = demo.run("user", "passwd", "worker", "--password", "changed-by-the-worker-1", timeout=300)
    assert p.returncode == 0, p.stderr
    p = demo.run("demo", "--no-ui")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    again = demo.accounts(p.stdout)
    assert {u: pw for u, pw in again.items() if u != "worker"} == {u: pw for u, pw in first.items() if u != "worker"}
    assert again["worker"] == "(changed with qhse user passwd)"
    assert "demo data already present" in p.stdout
    assert "training skipped: champion qhse-failure v1 was trained on the same data" in p.stdout
    # The demo has stopped its database: read it through a process of its own (it stops it again).
    assert demo.stopped_query("SELECT version FROM model_versions WHERE name = 'qhse-failure'",
                              dbname="qhse_mlflow") == [[1]]
    from argon2 import PasswordHasher

    (hash_,) = demo.stopped_query("SELECT password_hash FROM user_account WHERE username = 'worker'")[0]
    assert PasswordHasher().verify(hash_, "changed-by-the-worker-1")


def test_demo_runs_the_jobs_while_it_runs_and_sigterm_stops_everything(demo):
    port = _free_port()
    proc = subprocess.Popen([str(BIN), "demo", "--port", str(port)], cwd=demo.cwd, env=demo.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 600
        while not (any("open http://127.0.0.1" in x for x in lines) and _port_open(port)):
            assert proc.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "".join(lines)[-3000:]
            time.sleep(1)
        (started,) = demo.query("SELECT now()")[0]
        # The job runner keeps running: the 30-second jobs run again while the demo is up.
        deadline = time.monotonic() + 120
        while True:
            (n,) = demo.query(f"SELECT count(*) FROM job_run WHERE job = 'notifications' "
                              f"AND started_at > '{started.isoformat()}'")[0]
            if n >= 1:
                break
            assert time.monotonic() < deadline, "notifications job did not run again"
            time.sleep(3)
        family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert len(family) > 1  # at least the dashboard's server
        assert _port_open(demo.broker_port)
        assert (demo.data / "pgdata" / "postmaster.pid").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0, "".join(lines)[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    out = "".join(lines)
    assert "stopping what the demo started" in out
    for what in ("vision worker", "job runner", "MQTT broker, ingestion and simulator", "embedded PostgreSQL"):
        assert f"stopped {what}" in out, out[-2000:]
    time.sleep(2)
    assert not _port_open(port) and not _port_open(demo.broker_port)
    assert not (demo.data / "pgdata" / "postmaster.pid").exists()
    alive = [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert not alive, [psutil.Process(p).cmdline() for p in alive]
