"""SLA policies from the database, escalation runs and their idempotence — on real PostgreSQL.

The pure rules (calendar edges, escalation levels, board states) are tests/unit/test_sla.py."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from qhse.services import workflow as wf
from qhse.services.sla import escalate_overdue, resolve_policy

from .actor_fixtures import act
from .loop_org import add_policy, make_org

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")
CAL = {"workdays": [0, 1, 2, 3, 4, 5], "start": "08:00", "end": "20:00", "holidays": ["2026-03-10"]}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def local(y, mo, d, h=0, mi=0):
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


# ----------------------------------------------------------------------------- database
@pytest.fixture(scope="module")
def eng(db_factory):
    url = db_factory.create(prefix="qhse_sla")
    e = sa.create_engine(url)
    yield e
    e.dispose()


T0 = dt.datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def _report(s, org, severity, category="housekeeping", at=T0, area="B"):
    return wf.report_hazard(s, site_id=org.site_id, area_id=org.area[area], category=category, title=f"{severity} x",
                            severity=severity, reported_at=at, actor=act(s, "tester"))


def test_response_due_defaults_clock_hours(eng):
    org = make_org(eng, calendar=CAL)  # a calendar alone does not apply: the policy must ask for it
    with Session(eng) as s, s.begin():
        for sev, hours in (("severe", 4), ("high", 8), ("normal", 24), ("low", 24)):
            h = _report(s, org, sev)
            assert h.response_due_at == T0 + dt.timedelta(hours=hours), sev
        # Saturday 19:00 local, severe: clock hours run through the night.
        sat = local(2026, 3, 7, 19).astimezone(UTC)
        assert _report(s, org, "severe", at=sat).response_due_at == sat + dt.timedelta(hours=4)


def test_response_due_with_site_policies_and_calendar(eng):
    org = make_org(eng, calendar=CAL)
    add_policy(eng, site_id=org.site_id, severity="normal", hours=24, use_calendar=True)
    add_policy(eng, site_id=org.site_id, severity="severe", hours=4, use_calendar=True)
    add_policy(eng, site_id=org.site_id, category="chemical", severity="severe", hours=2, use_calendar=False)
    with Session(eng) as s, s.begin():
        # Normal: 24 working hours from Monday 10:00 -> Wednesday 10:00.
        assert _report(s, org, "normal").response_due_at == local(2026, 3, 4, 10)
        # Severe on Saturday 19:00 -> Monday 11:00 (Sunday is off).
        sat = local(2026, 3, 7, 19).astimezone(UTC)
        assert _report(s, org, "severe", at=sat).response_due_at == local(2026, 3, 9, 11)
        # Category rule for the site wins: chemical severe, 2 clock hours.
        assert _report(s, org, "severe", category="chemical", at=sat).response_due_at == sat + dt.timedelta(hours=2)
        # No policy for high at this site: the built-in default (8 clock hours).
        assert _report(s, org, "high").response_due_at == T0 + dt.timedelta(hours=8)
        site = s.get(m.Site, org.site_id)
        p = resolve_policy(s, site, "chemical", "severe")
        assert p.response_hours == 2 and p.calendar is None and p.source.startswith("sla_policy #")


def test_policy_specificity_with_group_rows(fresh_db_url):
    e = sa.create_engine(fresh_db_url)
    org = make_org(e)
    other = make_org(e)
    add_policy(e, severity="normal", hours=30)                        # group-wide
    add_policy(e, severity="normal", hours=20, category="fire")       # group-wide, one category
    add_policy(e, severity="normal", hours=16, site_id=org.site_id)   # this site
    add_policy(e, severity="normal", hours=10, site_id=org.site_id, category="fire")
    with Session(e) as s:
        site, site2 = s.get(m.Site, org.site_id), s.get(m.Site, other.site_id)
        got = {(st.code, cat): resolve_policy(s, st, cat, "normal").response_hours
               for st in (site, site2) for cat in ("fire", "ppe")}
    e.dispose()
    assert got == {(site.code, "fire"): 10, (site.code, "ppe"): 16, (site2.code, "fire"): 20, (site2.code, "ppe"): 30}


def _assigned_action(s, org, severity, due: dt.datetime, category="housekeeping"):
    h = _report(s, org, severity, category=category, at=due - dt.timedelta(days=3))
    wf.transition(s, h.id, "assigned", actor=act(s, "hse"), at=due - dt.timedelta(days=2), due_at=due)
    return s.scalars(sa.select(m.CorrectiveAction).where(m.CorrectiveAction.hazard_id == h.id)).one()


def _levels(s, action_id):
    return s.scalars(sa.select(m.ActionEscalation.level).where(m.ActionEscalation.action_id == action_id)
                     .order_by(m.ActionEscalation.level)).all()


def test_escalation_after_one_two_three_periods_and_idempotent(fresh_db_url):
    e = sa.create_engine(fresh_db_url)
    org = make_org(e)
    with Session(e) as s, s.begin():
        # The plant manager has a user account scoped to this site; the group has nobody with e-mail.
        u = m.UserAccount(username=f"pm{org.n}", display_name="PM", password_hash="x", role="plant_manager",
                          person_id=org.person["sup_FAC"])
        s.add(u)
        s.flush()
        s.add(m.UserSiteScope(user_id=u.id, site_id=org.site_id))
    due = dt.datetime(2026, 4, 1, 8, tzinfo=UTC)
    with Session(e) as s, s.begin():
        sev = _assigned_action(s, org, "severe", due)     # period 4 h
        norm = _assigned_action(s, org, "normal", due)    # period 24 h
        ids = (sev.id, norm.id)
    expected = [  # (hours after due, severe levels, normal levels)
        (0, [], []),
        (3.99, [], []),
        (4, [1], []),
        (8, [1, 2], []),
        (12, [1, 2, 3], []),
        (24, [1, 2, 3], [1]),
        (48, [1, 2, 3], [1, 2]),
        (72, [1, 2, 3], [1, 2, 3]),
        (500, [1, 2, 3], [1, 2, 3]),
    ]
    n_notes = []
    for hours, lv_sev, lv_norm in expected:
        now = due + dt.timedelta(hours=hours)
        for _ in range(2):  # a job run twice escalates once
            with Session(e) as s, s.begin():
                escalate_overdue(s, now)
        with Session(e) as s:
            assert _levels(s, ids[0]) == lv_sev, hours
            assert _levels(s, ids[1]) == lv_norm, hours
            assert s.get(m.CorrectiveAction, ids[0]).escalation_level == (lv_sev[-1] if lv_sev else 0)
            n_notes.append(s.scalar(sa.select(sa.func.count()).select_from(m.Notification)
                                    .where(m.Notification.ref.like("action:%:level:%"))))
    # Exactly one notification per escalation step: area manager by e-mail, plant manager by e-mail,
    # group (nobody with an address) on the site's MQTT topic.
    assert n_notes[-1] == 6
    with Session(e) as s:
        rows = s.execute(sa.select(m.Notification.ref, m.Notification.channel, m.Notification.recipient)
                         .where(m.Notification.ref.like(f"action:{ids[0]}:level:%")).order_by(m.Notification.ref)).all()
    e.dispose()
    assert rows == [(f"action:{ids[0]}:level:1", "email", f"sup.prod.{org.n}@plant.example"),
                    (f"action:{ids[0]}:level:2", "email", f"sup.fac.{org.n}@plant.example"),
                    (f"action:{ids[0]}:level:3", "mqtt", f"qhse/{org.site_code}/notifications/group")]


def test_escalation_skips_levels_when_late_and_stops_when_done(fresh_db_url):
    e = sa.create_engine(fresh_db_url)
    org = make_org(e)
    due = dt.datetime(2026, 4, 1, 8, tzinfo=UTC)
    with Session(e) as s, s.begin():
        a = _assigned_action(s, org, "severe", due)
        b = _assigned_action(s, org, "severe", due)
        wf.complete_action(s, b.id, actor=act(s, "owner"), at=due + dt.timedelta(hours=1))
        ids = (a.id, b.id)
    with Session(e) as s, s.begin():
        r = escalate_overdue(s, due + dt.timedelta(hours=9))  # worker was down: two levels at once
        assert r.by_level == {1: 1, 2: 1}
    with Session(e) as s:
        assert _levels(s, ids[0]) == [1, 2]
        assert _levels(s, ids[1]) == []  # done actions never escalate
    e.dispose()


def test_escalation_counts_working_hours_with_calendar(fresh_db_url):
    e = sa.create_engine(fresh_db_url)
    org = make_org(e, calendar=CAL)
    add_policy(e, site_id=org.site_id, severity="normal", hours=24, use_calendar=True)
    due = local(2026, 3, 6, 18).astimezone(UTC)  # Friday 18:00
    with Session(e) as s, s.begin():
        aid = _assigned_action(s, org, "normal", due).id
    # Mon 10:00: Fri 2 h + Sat 12 h + Mon 2 h = 16 working hours (64 clock hours) -> not yet.
    with Session(e) as s, s.begin():
        escalate_overdue(s, local(2026, 3, 9, 10).astimezone(UTC))
    with Session(e) as s:
        assert _levels(s, aid) == []
    # Tue 12:00 is a holiday (10 March): Mon 12 h -> 26 working hours -> level 1 only.
    with Session(e) as s, s.begin():
        escalate_overdue(s, local(2026, 3, 10, 12).astimezone(UTC))
    with Session(e) as s:
        assert _levels(s, aid) == [1]
    e.dispose()


_RACE = r"""
import datetime as dt, sys, time
import sqlalchemy as sa
from sqlalchemy.orm import Session
from qhse.services.sla import escalate_overdue
url, start_at, now = sys.argv[1], float(sys.argv[2]), dt.datetime.fromisoformat(sys.argv[3])
e = sa.create_engine(url)
with e.connect() as c:
    c.execute(sa.text("SELECT 1"))
time.sleep(max(0.0, start_at - time.time()))
with Session(e) as s, s.begin():
    r = escalate_overdue(s, now)
print(r.escalations, r.notifications)
"""


def _env(url, tmp_path, mqtt_url=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env.update(QHSE_DATABASE_URL=url, QHSE_DATA_DIR=str(tmp_path), PYTHONPATH=ROOT)
    if mqtt_url:
        env["QHSE_MQTT_URL"] = mqtt_url
    return env


def _overdue_actions(e, org, n, now):
    """n open actions, lateness spread over 0..4 periods of their SLA."""
    expected = {}
    with Session(e) as s, s.begin():
        for i in range(n):
            sev = ("severe", "normal")[i % 2]
            period = {"severe": 4, "normal": 24}[sev]
            late_h = period * (0.5 + (i % 8) / 2)  # 0.5 .. 4 periods
            a = _assigned_action(s, org, sev, now - dt.timedelta(hours=late_h))
            expected[a.id] = min(3, int(late_h // period))
    return expected


def test_escalation_function_race_between_two_processes(fresh_db_url, tmp_path):
    e = sa.create_engine(fresh_db_url)
    org = make_org(e)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    expected = _overdue_actions(e, org, 40, now)
    start_at = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, fresh_db_url, str(start_at), now.isoformat()],
                              env=_env(fresh_db_url, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    total_esc = sum(int(o[0].split()[0]) for o in outs)
    with Session(e) as s:
        got = {aid: _levels(s, aid) for aid in expected}
        refs = s.execute(sa.select(m.Notification.ref, sa.func.count())
                         .where(m.Notification.ref.like("action:%:level:%"))
                         .group_by(m.Notification.ref)).all()
    e.dispose()
    assert got == {aid: list(range(1, lv + 1)) for aid, lv in expected.items()}
    assert total_esc == sum(expected.values())  # the two processes split the work, none done twice
    assert all(c == 1 for _, c in refs) and len(refs) == sum(expected.values())


def test_two_concurrent_worker_processes_escalate_once(fresh_db_url, tmp_path, mqtt_url):
    e = sa.create_engine(fresh_db_url)
    org = make_org(e)
    now = dt.datetime.now(UTC)
    expected = _overdue_actions(e, org, 24, now)
    cmd = [sys.executable, "-m", "qhse.cli", "worker", "--once", "--job", "sla_escalation", "--job",
           "inspection_schedule", "--job", "notifications"]
    procs = [subprocess.Popen(cmd, env=_env(fresh_db_url, tmp_path, mqtt_url), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    with Session(e) as s:
        runs = s.execute(sa.select(m.JobRun.job, m.JobRun.status, m.JobRun.worker, m.JobRun.duration_s)
                         .order_by(m.JobRun.id)).all()
        got = {aid: _levels(s, aid) for aid in expected}
        notes = s.execute(sa.select(m.Notification.ref, m.Notification.recipient, m.Notification.status)
                          .where(m.Notification.ref.like("action:%:level:%"))).all()
    e.dispose()
    # Each job ran exactly once across the two replicas, logged with its duration.
    assert sorted(r.job for r in runs) == ["inspection_schedule", "notifications", "sla_escalation"]
    assert all(r.status == "ok" and r.duration_s is not None and r.duration_s >= 0 for r in runs)
    assert got == {aid: list(range(1, lv + 1)) for aid, lv in expected.items()}
    assert len(notes) == len({(n.ref, n.recipient) for n in notes}) == sum(expected.values())
    # Both processes reported every job: one ran it, the other found it locked or already done.
    text = outs[0][0] + outs[1][0]
    assert text.count("sla_escalation") == 2 and text.count(" ok ") >= 3
