"""Training gating on real PostgreSQL: rules, no-entry warnings, owner notification, due-soon lists."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from db.queries.training import due_soon, due_soon_by_department, entry_warnings
from qhse.domain.access import SYSTEM, Scope
from qhse.domain.contractors import AccessRefused
from qhse.services import contractors as C
from qhse.services import gating as G

from .response_world import T, build_world

H = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def world(db_factory):
    url = db_factory.create(prefix="qhse_gating")
    w = build_world(url)
    yield w
    w.engine.dispose()
    db_factory.drop(url)


def _area(s, area_id):
    return s.get(m.Area, area_id)


def test_rule_fires_for_expired_person_in_alarmed_area_not_for_valid_one(world):
    w = world
    with Session(w.engine) as s:
        v = G.evaluate(s, [w.e2, w.e3], _area(s, w.gas), T)
    assert [x.person_id for x in v] == [w.e3]
    assert v[0].rule_code == "GAS_AREA_H2S_CONFINED" and v[0].alarm_id == w.alarm
    expired = (T.date() - dt.timedelta(days=10)).isoformat()
    assert v[0].missing == [{"course": "H2S", "expired_on": expired}]
    assert f"H2S expired on {expired}" in v[0].message
    # The valid person walks in; the expired one is refused, warned, and the owner told.
    C.record_entry(w.engine, w.e2, w.gas, at=T, actor="system:gate")
    with pytest.raises(AccessRefused, match="H2S expired"):
        C.record_entry(w.engine, w.e3, w.gas, at=T, actor="system:gate")
    with Session(w.engine) as s:
        warns = s.scalars(sa.select(m.EntryWarning).where(m.EntryWarning.area_id == w.gas,
                                                          m.EntryWarning.resolved_at.is_(None))).all()
        assert [(x.person_id, x.alarm_id, x.notified_person_id) for x in warns] == [(w.e3, w.alarm, w.e1)]
        notes = s.scalars(sa.select(m.Notification).where(m.Notification.ref == f"entry_warning:{warns[0].id}")).all()
        assert [(n.channel, n.recipient) for n in notes] == [("email", "owner1@plant.example")]
        assert "Expired Three" in notes[0].body
        assert s.scalar(sa.select(sa.func.count()).select_from(m.AccessRecord)
                        .where(m.AccessRecord.person_id == w.e3)) == 0
    # Without an open alarm the 'open_alarm' rule does not bite.
    with Session(w.engine) as s:
        assert G.evaluate(s, [w.e3], _area(s, w.gas), T - 2 * H) == []
    C.record_exit(w.engine, w.e2, at=T + H, actor="system:gate")


def test_always_rule_bites_without_alarm(world):
    w = world
    with Session(w.engine) as s:
        v = G.evaluate(s, [w.e1, w.e2, w.e3], _area(s, w.chem), T)
    assert [(x.person_id, x.rule_code, x.missing) for x in v] == \
        [(w.e3, "CHEM_STORE_HANDLING", [{"course": "CHEM", "expired_on": None}])]
    assert "CHEM never passed" in v[0].message
    # No rule covers the assembly hall.
    with Session(w.engine) as s:
        assert G.evaluate(s, [w.e3], _area(s, w.hall), T) == []


def test_scan_raises_once_and_resolves_when_the_alarm_clears(world):
    w = world
    first = G.scan(w.engine, at=T + 2 * H, site_ids=[w.site])
    again = G.scan(w.engine, at=T + 3 * H, site_ids=[w.site])
    assert again.raised == []  # idempotent: nothing new the second time
    open_rows = entry_warnings(w.engine, SYSTEM, site_ids=[w.site])
    pairs = {(r.person, r.area, r.rule) for r in open_rows.itertuples()}
    assert ("Expired Three", "GAS", "GAS_AREA_H2S_CONFINED") in pairs
    assert ("Expired Three", "CHEM", "CHEM_STORE_HANDLING") in pairs
    assert not any(p in ("Valid Two", "Owner One", "Worker One") for p, _, _ in pairs)
    assert first.open == again.open == len(open_rows)
    # A scope without the site sees none of them.
    other = Scope(user_id=None, username="x", role="plant_manager", site_ids=(w.site + 999,))
    assert entry_warnings(w.engine, other).empty
    # The alarm clears: the gas-area warning resolves, the chemical-store one stays.
    with w.engine.begin() as conn:
        conn.execute(sa.update(m.Alarm.__table__).where(m.Alarm.__table__.c.id == w.alarm)
                     .values(cleared_at=T + 4 * H, status="cleared"))
    res = G.scan(w.engine, at=T + 5 * H, site_ids=[w.site])
    assert res.resolved == 1
    with Session(w.engine) as s:
        gas = s.scalars(sa.select(m.EntryWarning).where(m.EntryWarning.area_id == w.gas)).all()
        assert all(x.resolved_at == T + 5 * H and x.resolution == "alarm_cleared" for x in gas)
    left = entry_warnings(w.engine, SYSTEM, site_ids=[w.site])
    assert set(left["area"]) == {"CHEM"}
    # Fresh CHEM training resolves the last one.
    with Session(w.engine) as s, s.begin():
        s.add(m.TrainingRecord(person_id=w.e3, course_id=w.courses["CHEM"], completed_on=(T + 5 * H).date(),
                               expires_on=(T + 5 * H).date() + dt.timedelta(days=700), score=88, passed=True))
    res = G.scan(w.engine, at=T + 6 * H, site_ids=[w.site])
    assert res.resolved == 1 and res.open == 0
    with Session(w.engine) as s:
        chem = s.scalars(sa.select(m.EntryWarning).where(m.EntryWarning.area_id == w.chem)).all()
        assert [x.resolution for x in chem] == ["training_valid"]


def test_due_soon_per_department(world):
    w = world
    frame = due_soon(w.engine, SYSTEM, on=T.date(), days=30, site_ids=[w.site])
    got = {(r.employee_no, r.course_code, r.status) for r in frame.itertuples()}
    assert ("E2", "H2S", "due soon") in got  # expires in 10 days
    assert ("E3", "H2S", "expired") in got
    assert not any(no == "E1" for no, _, _ in got)
    summary = due_soon_by_department(frame)
    ops = summary[summary["department"] == "Operations"].iloc[0]
    assert ops["due_soon"] == sum(1 for _, _, st in got if st == "due soon")
    assert ops["expired"] == sum(1 for _, _, st in got if st == "expired")
    short = due_soon(w.engine, SYSTEM, on=T.date(), days=5, site_ids=[w.site], include_expired=False)
    assert short.empty
    # Scope applies in the query layer.
    assert due_soon(w.engine, Scope(None, "x", "plant_manager", (w.site + 999,)), on=T.date()).empty


def test_worker_runs_the_gating_scan(world):
    from qhse.jobs import runner as W
    from qhse.jobs.schedule import JOBS_BY_NAME

    out = W.run_job(world.engine, JOBS_BY_NAME["training_gating"], now=T + 8 * H)
    assert out.status == "ok", out.detail
    assert "person-area checks" in out.detail and "no-entry warnings" in out.detail
    with Session(world.engine) as s:
        run = s.scalars(sa.select(m.JobRun).where(m.JobRun.job == "training_gating")).one()
        assert run.status == "ok" and run.detail == out.detail
