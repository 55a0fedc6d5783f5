"""The job runner: due jobs, advisory locks, job_run log, failures recorded — on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from qhse.jobs import runner as w
from qhse.jobs.schedule import JOBS_BY_NAME, select_jobs
from qhse.services import workflow as wf

from .actor_fixtures import act
from .loop_org import make_org

UTC = dt.UTC
CORE = ["sla_escalation", "inspection_schedule", "notifications", "rollup_refresh"]


@pytest.fixture()
def env(fresh_db_url, tmp_path, monkeypatch, mqtt_url):
    """A fresh database the worker's settings point at, with one plant and an overdue action."""
    from qhse.settings import reset_settings_cache

    monkeypatch.setenv("QHSE_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("QHSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QHSE_MQTT_URL", mqtt_url)
    reset_settings_cache()
    e = sa.create_engine(fresh_db_url)
    org = make_org(e)
    now = dt.datetime.now(UTC)
    with Session(e) as s, s.begin():
        h = wf.report_hazard(s, site_id=org.site_id, area_id=org.area["A"], category="fire", title="Blocked exit",
                             severity="severe", reported_at=now - dt.timedelta(days=2), actor=act(s, "t"))
        wf.transition(s, h.id, "assigned", actor=act(s, "hse"), at=now - dt.timedelta(days=1),
                      due_at=now - dt.timedelta(hours=5))
    yield e, org
    e.dispose()


def _runs(e):
    with Session(e) as s:
        return s.execute(sa.select(m.JobRun.job, m.JobRun.status, m.JobRun.duration_s, m.JobRun.detail)
                         .order_by(m.JobRun.id)).all()


def test_run_once_runs_each_due_job_and_logs_it(env):
    e, org = env
    outs = w.run_once(e, select_jobs(CORE))
    assert [(o.job, o.status) for o in outs] == [(j, "ok") for j in CORE], [o.detail for o in outs]
    runs = _runs(e)
    assert [r.job for r in runs] == CORE
    assert all(r.status == "ok" and r.duration_s >= 0 and r.detail for r in runs)
    by = {r.job: r.detail for r in runs}
    assert "1 escalations (L1: 1)" in by["sla_escalation"]
    assert "3 routes" in by["inspection_schedule"] and "inspections scheduled" in by["inspection_schedule"]
    # Notifications queued by the report, the assignment and the escalation went out in the same pass
    # (e-mails to the mail spool under the data directory).
    assert "0 to retry" in by["notifications"] and "sent" in by["notifications"]
    with Session(e) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.Notification)
                        .where(m.Notification.status != "sent")) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(m.Inspection)) > 0
    # Run again at once: nothing is due.
    again = w.run_once(e, select_jobs(CORE))
    assert {o.status for o in again} == {"not_due"}
    assert len(_runs(e)) == len(CORE)
    # --force runs them anyway.
    forced = w.run_once(e, select_jobs(["sla_escalation"]), force=True)
    assert forced[0].status == "ok" and "0 escalations" in forced[0].detail


def test_scorecards_job(env):
    e, _ = env
    (o,) = w.run_once(e, select_jobs(["scorecards"]))
    assert o.status == "ok", o.detail
    month = dt.datetime.now(UTC).strftime("%Y-%m")
    assert month in o.detail
    with Session(e) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.AssessmentScore)) > 0


def test_job_locked_by_another_worker_is_left_alone(env):
    e, _ = env
    job = JOBS_BY_NAME["sla_escalation"]
    with e.connect() as other:
        assert other.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :k)"),
                             {"ns": w.LOCK_NAMESPACE, "k": job.lock_key}).scalar()
        o = w.run_job(e, job)
        assert o.status == "locked"
        other.execute(sa.text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": w.LOCK_NAMESPACE, "k": job.lock_key})
        other.commit()
    assert _runs(e) == []
    assert w.run_job(e, job).status == "ok"


def test_failing_job_is_recorded_and_others_still_run(env):
    e, _ = env

    def boom(ctx):
        raise RuntimeError("disk full\nsecond line")

    bad = w.Job("broken_job", 60, boom, "always fails")
    outs = w.run_once(e, [bad, JOBS_BY_NAME["notifications"]])
    assert [(o.job, o.status) for o in outs] == [("broken_job", "failed"), ("notifications", "ok")]
    runs = _runs(e)
    assert runs[0].job == "broken_job" and runs[0].status == "failed" and runs[0].detail == "RuntimeError: disk full"


def test_run_left_running_by_a_dead_worker_is_marked_failed(env):
    e, _ = env
    with e.begin() as c:
        c.execute(sa.text("INSERT INTO job_run (job, started_at, status, worker) "
                          "VALUES ('sla_escalation', now() - interval '1 hour', 'running', 'gone:1')"))
    o = w.run_job(e, JOBS_BY_NAME["sla_escalation"])
    assert o.status == "ok"
    runs = _runs(e)
    assert runs[0].status == "failed" and "worker stopped before the job finished" in runs[0].detail


def test_unknown_job_name_refused():
    with pytest.raises(ValueError, match="unknown job"):
        select_jobs(["sla_escalation", "make_coffee"])


def test_run_forever_stops_cleanly(env):
    e, _ = env
    stop = threading.Event()
    seen = []
    t = threading.Thread(target=w.run_forever, args=(e, select_jobs(["notifications", "sla_escalation"])),
                         kwargs={"tick_s": 0.2, "stop": stop, "on_outcome": seen.append})
    t.start()
    deadline = time.time() + 30
    while len(seen) < 2 and time.time() < deadline:
        time.sleep(0.1)
    stop.set()
    t.join(10)
    assert not t.is_alive()
    assert sorted(o.job for o in seen) == ["notifications", "sla_escalation"]
    assert all(o.status == "ok" for o in seen)
