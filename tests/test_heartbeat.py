"""Consumer heartbeats: written by the writer, checked by `qhse health --component ingest`,
notified to the on-call role by the worker once per stall (real PostgreSQL and broker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest
import sqlalchemy as sa

from db.engine import libpq_dsn

from .ingest_fixtures import (
    ROOT,
    Publisher,
    consumer_config,
    count_readings,
    make_plant,
    now_ms,
    reading,
    start_consumer,
    unique,
    wait_for,
)


def _health(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env.update(QHSE_DATABASE_URL=db_url)
    return subprocess.run([sys.executable, "-m", "qhse.cli", "health", "--component", "ingest", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def _beat(engine, cid: str):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT *, extract(epoch FROM now() - updated_at) AS age FROM ingest_heartbeat "
                                    "WHERE client_id = :c"), {"c": cid}).mappings().first()


def test_wedged_consumer_stays_alive_but_its_heartbeat_goes_stale(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine, rules=False)
    cid = unique("qhse-test-hb-")
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool", client_id=cid,
                                       heartbeat_every_s=0.5))
    pub = Publisher(mqtt_url)
    locker = None
    try:
        s = plant.sensors["humidity"]
        t0 = now_ms() - 50_000
        for i in range(20):
            pub.publish(plant.topic("humidity"), reading(50.0, "%RH", t0 + i))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 20, 20)
        row = wait_for(lambda: (b := _beat(engine, cid)) is not None and b["readings"] == 20 and b, 10)
        assert row and row["status"] == "running" and row["last_commit_at"] is not None and row["connected"]
        assert row["spool_bytes"] == 0 and row["dead_letters"] == 0
        r = _health(db_url, "--client-id", cid, "--stale-after", "3")
        assert r.returncode == 0 and cid in r.stdout, r.stdout + r.stderr

        # Wedge the writer: another session holds a lock the next batch needs.
        locker = psycopg.connect(libpq_dsn(db_url))
        locker.execute("LOCK TABLE sensor_reading IN EXCLUSIVE MODE")
        pub.publish(plant.topic("humidity"), reading(51.0, "%RH", t0 + 100))
        pub.flush()
        time.sleep(4.5)
        assert c._writer.is_alive() and c._connected.is_set()  # alive and connected: nothing else would notice
        r = _health(db_url, "--client-id", cid, "--stale-after", "3")
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"STALE {cid}" in r.stderr and "unhealthy" in r.stderr

        locker.rollback()  # unwedged: the batch commits and the heartbeat is fresh again
        assert wait_for(lambda: count_readings(engine, [s.id]) == 21, 20)
        assert wait_for(lambda: _health(db_url, "--client-id", cid, "--stale-after", "3").returncode == 0, 15)
    finally:
        if locker is not None:
            locker.close()
        pub.close()
        c.stop()
    row = _beat(engine, cid)
    assert row["status"] == "stopped"
    # A cleanly stopped consumer is not a stall, but a check for running consumers finds none.
    r = _health(db_url, "--client-id", cid, "--stale-after", "3")
    assert r.returncode == 1 and "no running consumer" in r.stderr


@pytest.fixture()
def hb_engine(fresh_db_url):
    eng = sa.create_engine(fresh_db_url)
    yield eng
    eng.dispose()


def _insert_beat(engine, cid: str, age_s: float) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO ingest_heartbeat (client_id, host, pid, status, started_at, updated_at, last_commit_at, "
            "lag_s, backlog, spool_bytes, spool_segments, received, readings, dead_letters, dead_letters_per_s, "
            "connected, db_up) VALUES (:c, 'ingest-host', 1, 'running', now() - interval '1 hour', "
            "now() - make_interval(secs => :a), now() - make_interval(secs => :a), 0.1, 0, 0, 0, 10, 10, 0, 0, true, "
            "true) ON CONFLICT (client_id) DO UPDATE SET updated_at = EXCLUDED.updated_at, stale_notified_at = NULL"),
            {"c": cid, "a": age_s})


def _on_call_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT channel, recipient, subject FROM notification WHERE ref LIKE 'ingest_heartbeat:%' ORDER BY id"))]


def test_stale_heartbeat_notifies_on_call_once_per_stall(hb_engine, monkeypatch):
    from qhse.jobs import runner as w
    from qhse.jobs.schedule import JOBS_BY_NAME

    monkeypatch.setenv("QHSE_HEARTBEAT_STALE_S", "30")
    monkeypatch.setenv("QHSE_ONCALL_NOTIFY", "email:oncall@example.com, mqtt:ops/oncall")
    job = JOBS_BY_NAME["ingest_heartbeat"]
    _insert_beat(hb_engine, "qhse-ingest-fresh", 2)
    _insert_beat(hb_engine, "qhse-ingest-wedged", 120)
    o = w.run_job(hb_engine, job, force=True)
    assert o.status == "ok" and o.detail.startswith("1 stalled"), o
    rows = _on_call_rows(hb_engine)
    assert [(ch, rec) for ch, rec, _ in rows] == [("email", "oncall@example.com"), ("mqtt", "ops/oncall")]
    assert all("qhse-ingest-wedged" in subj for _, _, subj in rows)
    # Further passes during the same stall notify nobody.
    for _ in range(3):
        assert w.run_job(hb_engine, job, force=True).status == "ok"
    assert len(_on_call_rows(hb_engine)) == 2
    # It recovers (a fresh heartbeat), then stalls again: a new notification.
    _insert_beat(hb_engine, "qhse-ingest-wedged", 1)
    w.run_job(hb_engine, job, force=True)
    assert len(_on_call_rows(hb_engine)) == 2
    _insert_beat(hb_engine, "qhse-ingest-wedged", 90)
    w.run_job(hb_engine, job, force=True)
    assert len(_on_call_rows(hb_engine)) == 4


def test_on_call_defaults_to_admins_then_the_platform_topic(hb_engine, monkeypatch):
    from sqlalchemy.orm import Session

    from db import models as m
    from qhse.domain.notify import ON_CALL_TOPIC, NotifyError
    from qhse.services.notify import on_call_targets

    with Session(hb_engine) as s:
        assert [(t.channel, t.recipient) for t in on_call_targets(s, None)] == [("mqtt", ON_CALL_TOPIC)]
        with pytest.raises(NotifyError, match="QHSE_ONCALL_NOTIFY"):
            on_call_targets(s, "pager:123")
    plant = make_plant(hb_engine, rules=False)
    with Session(hb_engine) as s, s.begin():
        p = m.Person(employee_no=unique("E"), name="Ops Admin", email="ops.admin@example.com", active=True,
                     site_id=plant.site_id)
        s.add(p)
        s.flush()
        s.add(m.UserAccount(username=unique("ops").lower(), display_name="Ops", password_hash="x", role="admin",
                            person_id=p.id, active=True, all_sites=True, locale="en"))
    with Session(hb_engine) as s:
        assert [(t.channel, t.recipient) for t in on_call_targets(s, None)] == [("email", "ops.admin@example.com")]
