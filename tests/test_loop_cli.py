"""``qhse hazard|inspection|notify|worker`` from the command line, against real PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from db import models as m

from .actor_fixtures import act
from .loop_org import make_org

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def setup(db_factory, tmp_path_factory):
    url = db_factory.create(prefix="qhse_cli")
    e = sa.create_engine(url)
    org = make_org(e)
    for name in ("hse.officer", "mnt.lead", "fac.lead"):
        act(e, name, "plant_manager")
    act(e, "off.duty", "plant_manager", active=False)
    act(e, "line.worker", "worker")
    act(e, "inspector.one", "inspector")
    with e.connect() as c:
        emp = dict(c.execute(sa.select(m.Person.id, m.Person.employee_no)).all())
    e.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env.update(QHSE_DATABASE_URL=url, QHSE_DATA_DIR=str(tmp_path_factory.mktemp("data")), COLUMNS="220")
    return url, org, emp, env


def qhse(setup, *args):
    _, _, _, env = setup
    return subprocess.run([sys.executable, "-m", "qhse.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_hazard_commands(setup):
    url, org, emp, _ = setup
    r = qhse(setup, "hazard", "report", "--site", org.site_code, "--area", "AREA-A", "--category", "fire",
             "--title", "Blocked fire exit", "--severity", "severe", "--reporter", emp[org.person["worker1"]],
             "--as", "line.worker")
    assert r.returncode == 0, r.stderr
    hid = int(re.search(r"hazard #(\d+) reported; response due", r.stdout).group(1))

    r = qhse(setup, "hazard", "report", "--site", org.site_code, "--area", "NOPE", "--category", "fire", "--title", "x",
             "--as", "line.worker")
    assert r.returncode == 2 and r.stderr.strip() == "error: unknown area 'NOPE' (known: AREA-A, AREA-B, AREA-C)"

    r = qhse(setup, "hazard", "transition", str(hid), "closed", "--actor", "hse.officer")
    assert r.returncode == 2 and "cannot go from 'reported' to 'closed' (allowed next: assigned, rejected)" in r.stderr
    assert "Traceback" not in r.stderr

    r = qhse(setup, "hazard", "transition", str(hid), "assigned", "--actor", "hse.officer", "--department", "MNT",
             "--department", "FAC")
    assert r.returncode == 0 and f"hazard #{hid} is now assigned" in r.stdout, r.stderr
    e = sa.create_engine(url)
    with e.connect() as c:
        acts = c.execute(sa.select(m.CorrectiveAction.id).where(m.CorrectiveAction.hazard_id == hid)
                         .order_by(m.CorrectiveAction.id)).scalars().all()
    e.dispose()
    assert len(acts) == 2
    r = qhse(setup, "hazard", "complete-action", str(acts[0]), "--actor", "mnt.lead", "--cost", "120")
    assert r.returncode == 0 and f"hazard #{hid} is in_progress" in r.stdout, r.stderr
    r = qhse(setup, "hazard", "complete-action", str(acts[1]), "--actor", "fac.lead")
    assert r.returncode == 0 and f"hazard #{hid} is rectified" in r.stdout, r.stderr

    r = qhse(setup, "hazard", "list", "--site", org.site_code)
    assert r.returncode == 0 and "Blocked fire exit" in r.stdout and "rectified" in r.stdout
    r = qhse(setup, "hazard", "show", str(hid))
    assert r.returncode == 0, r.stderr
    assert "reported -> assigned" in r.stdout and "by hse.officer" in r.stdout and "Maintenance" in r.stdout
    r = qhse(setup, "hazard", "board", "--site", org.site_code)
    assert r.returncode == 0 and "SLA board" in r.stdout, r.stderr
    r = qhse(setup, "hazard", "leaderboard", "--site", org.site_code)
    assert r.returncode == 0 and "20 points" in r.stdout  # severe report accepted


def test_inspection_and_worker_commands(setup):
    url, org, emp, _ = setup
    r = qhse(setup, "inspection", "schedule", "--days", "3")
    assert r.returncode == 0 and "inspections scheduled" in r.stdout, r.stderr
    e = sa.create_engine(url)
    with e.connect() as c:
        iid = c.execute(sa.select(m.Inspection.id).where(m.Inspection.route_id == org.route["A"])
                        .order_by(m.Inspection.due_at)).scalars().first()
    e.dispose()
    insp = emp[org.person["sup_PROD"]]
    r = qhse(setup, "inspection", "perform", str(iid), "--inspector", insp, "--as", "inspector.one",
             "--set", "exits_clear=yes")
    assert r.returncode == 2 and "missing required item(s)" in r.stderr
    r = qhse(setup, "inspection", "perform", str(iid), "--inspector", insp, "--as", "inspector.one",
             "--set", "exits_clear=maybe")
    assert r.returncode == 2 and "answer yes or no" in r.stderr
    r = qhse(setup, "inspection", "perform", str(iid), "--inspector", insp, "--as", "inspector.one",
             "--set", "exits_clear=no", "--set", "extinguishers_ok=yes", "--set", "housekeeping=4",
             "--finding", "Forklift battery leaking|chemical|high")
    assert r.returncode == 0 and "2 finding(s) reported" in r.stdout, r.stderr
    r = qhse(setup, "inspection", "list", "--site", org.site_code, "--status", "done")
    assert r.returncode == 0 and "1 inspection(s)" in r.stdout

    r = qhse(setup, "worker", "--once", "--job", "sla_escalation", "--job", "notifications")
    assert r.returncode == 0, r.stderr
    assert re.search(r"sla_escalation\s+ok", r.stdout) and re.search(r"notifications\s+ok", r.stdout)
    r = qhse(setup, "worker", "--once", "--job", "nonsense")
    assert r.returncode == 2 and "unknown job(s) nonsense" in r.stderr
    r = qhse(setup, "notify", "list")
    assert r.returncode == 0 and "notification(s)" in r.stdout


def test_writes_run_as_a_checked_platform_user(setup):
    """--as names a real, active user whose role permits the command; its id lands in audit_log."""
    url, org, emp, _ = setup
    base = ["hazard", "report", "--site", org.site_code, "--area", "AREA-A", "--category", "fire", "--title", "As test"]
    for who, msg in (("Mallory (forged name)", "unknown user 'mallory (forged name)'"),
                     ("nobody.here", "unknown user 'nobody.here'"),
                     ("off.duty", "user 'off.duty' is disabled")):
        r = qhse(setup, *base, "--as", who)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = qhse(setup, *base)
    assert r.returncode == 2 and "--as" in r.stderr
    r = qhse(setup, *base, "--as", "line.worker")
    assert r.returncode == 0, r.stderr
    hid = int(re.search(r"hazard #(\d+) reported", r.stdout).group(1))
    # A worker may report but not move a report through the workflow (qhse.services.access).
    r = qhse(setup, "hazard", "transition", str(hid), "rejected", "--reason", "dup", "--as", "line.worker")
    assert r.returncode == 2 and "may not view actions" in r.stderr, r.stderr
    r = qhse(setup, "hazard", "transition", str(hid), "rejected", "--reason", "dup", "--as", "hse.officer")
    assert r.returncode == 0, r.stderr
    e = sa.create_engine(url)
    with e.connect() as c:
        rows = c.execute(sa.text(
            "SELECT a.action, a.username, u.username AS real FROM audit_log a JOIN user_account u ON u.id = a.user_id "
            "WHERE a.entity = 'hazard_report' AND a.entity_id = :h ORDER BY a.id"), {"h": str(hid)}).all()
        actors = c.execute(sa.text("SELECT actor FROM hazard_transition WHERE hazard_id = :h ORDER BY id"),
                           {"h": hid}).scalars().all()
    e.dispose()
    assert [tuple(r) for r in rows] == [("report_hazard", "line.worker", "line.worker"),
                                        ("hazard_rejected", "hse.officer", "hse.officer")]
    assert actors == ["line.worker", "hse.officer"]
