"""Inspection schedules by risk class over a month, checklists, findings and misses — on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from db.queries import hazards as q
from qhse.domain.access import SYSTEM
from qhse.domain.inspections import InspectionError
from qhse.services.inspections import perform, schedule

from .actor_fixtures import act
from .loop_org import make_org

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")


def local(y, mo, d, h=0, mi=0):
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture(scope="module")
def eng(db_factory):
    url = db_factory.create(prefix="qhse_insp")
    e = sa.create_engine(url)
    yield e
    e.dispose()


def _inspections(s, route_id, lo, hi):
    insp = m.Inspection
    return s.scalars(sa.select(insp).where(insp.route_id == route_id, insp.due_at >= lo, insp.due_at < hi)
                     .order_by(insp.due_at)).all()


def test_month_schedule_by_risk_class_with_misses(eng):
    org = make_org(eng)
    inspector = org.person["sup_PROD"]
    nov, dec = local(2026, 11, 1), local(2026, 12, 1)
    for day in range(1, 31):
        with Session(eng) as s, s.begin():
            res = schedule(s, local(2026, 11, day, 6), site_ids=[org.site_id])
            assert not res.errors
        if day % 2 == 0:  # the A-area inspector only manages every other day
            with Session(eng) as s, s.begin():
                (today,) = _inspections(s, org.route["A"], local(2026, 11, day),
                                        local(2026, 11, day) + dt.timedelta(days=1))
                perform(s, today.id, actor=act(s, "inspector.one", "inspector"), inspector_person_id=inspector,
                        at=local(2026, 11, day, 10),
                        results={"exits_clear": True, "extinguishers_ok": True, "housekeeping": 4})
    with Session(eng) as s, s.begin():
        schedule(s, local(2026, 12, 1, 6), site_ids=[org.site_id])  # flags what the last day left undone
    with Session(eng) as s:
        got = {rc: _inspections(s, org.route[rc], nov, dec) for rc in "ABC"}
        # A daily, B every 2 days, C twice a week (Mondays and Thursdays) -- all at 09:00 site time.
        assert {rc: len(v) for rc, v in got.items()} == {"A": 30, "B": 15, "C": 9}
        days = {rc: [i.due_at.astimezone(SH) for i in v] for rc, v in got.items()}
        assert all(t.time() == dt.time(9, 0) for v in days.values() for t in v)
        assert {(b - a).days for a, b in zip(days["A"], days["A"][1:], strict=False)} == {1}
        assert {(b - a).days for a, b in zip(days["B"], days["B"][1:], strict=False)} == {2}
        assert Counter(t.weekday() for t in days["C"]) == {0: 5, 3: 4}
        status = {rc: Counter(i.status for i in v) for rc, v in got.items()}
        assert status == {"A": {"done": 15, "missed": 15}, "B": {"missed": 15}, "C": {"missed": 9}}
        # Every miss told the area manager once.
        missed_ids = [i.id for v in got.values() for i in v if i.status == "missed"]
        refs = s.scalars(sa.select(m.Notification.ref).where(m.Notification.ref.in_(
            [f"inspection:{i}:missed" for i in missed_ids]))).all()
        assert len(refs) == len(set(refs)) == 39
    # Re-running the scheduler changes nothing.
    with Session(eng) as s, s.begin():
        again = schedule(s, local(2026, 12, 1, 6), site_ids=[org.site_id])
        assert again.created == 0 and again.missed == 0
    df = q.inspections(eng, SYSTEM, site_ids=[org.site_id], status="missed", since=nov, until=dec)
    assert len(df) == 39 and set(df["risk_class"]) == {"A", "B", "C"}


def test_frequency_configurable(eng):
    org = make_org(eng, settings={"inspections": {"frequency_days": {"C": 7}, "due_time": "14:30"}})
    with Session(eng) as s, s.begin():
        s.get(m.InspectionRoute, org.route["B"]).frequency_days = 1.0  # this route: daily
    with Session(eng) as s, s.begin():
        schedule(s, local(2026, 11, 2, 6), horizon=dt.timedelta(days=14), site_ids=[org.site_id])
    lo, hi = local(2026, 11, 2), local(2026, 11, 16)
    with Session(eng) as s:
        n = {rc: [i.due_at.astimezone(SH) for i in _inspections(s, org.route[rc], lo, hi)] for rc in "ABC"}
    assert (len(n["A"]), len(n["B"]), len(n["C"])) == (14, 14, 2)
    assert all(t.weekday() == 0 and t.time() == dt.time(14, 30) for t in n["C"])


def _one_inspection(eng, org, rc="B", at=None):
    at = at or local(2026, 11, 2, 6)
    with Session(eng) as s, s.begin():
        schedule(s, at, horizon=dt.timedelta(days=1), site_ids=[org.site_id])
        return _inspections(s, org.route[rc], at - dt.timedelta(days=1), at + dt.timedelta(days=3))[0].id


@pytest.mark.parametrize("results,match", [
    ({"exits_clear": True, "housekeeping": 4},
     r"missing required item\(s\): Extinguishers in place \(extinguishers_ok\)"),
    ({"exits_clear": True, "extinguishers_ok": True, "housekeeping": "4"}, "housekeeping: expected a number"),
    ({"exits_clear": "yes", "extinguishers_ok": True, "housekeeping": 4}, "exits_clear: expected yes/no"),
    ({"exits_clear": True, "extinguishers_ok": True, "housekeeping": 4, "forklift": True}, "unknown checklist item"),
    ({"exits_clear": True, "extinguishers_ok": True, "housekeeping": 4, "remarks": 5}, "remarks: expected text"),
])
def test_checklist_errors_change_nothing(eng, results, match):
    org = make_org(eng)
    iid = _one_inspection(eng, org)
    with Session(eng) as s:
        with pytest.raises(InspectionError, match=match), s.begin():
            perform(s, iid, actor=act(s, "inspector.one", "inspector"), inspector_person_id=org.person["sup_PROD"],
                    results=results)
        with s.begin():
            assert s.get(m.Inspection, iid).status == "scheduled"
            assert s.scalar(sa.select(sa.func.count()).select_from(m.HazardReport)
                            .where(m.HazardReport.site_id == org.site_id)) == 0


def test_findings_become_hazard_reports(eng):
    org = make_org(eng)
    iid = _one_inspection(eng, org, "A")
    at = local(2026, 11, 2, 10).astimezone(UTC)
    with Session(eng) as s, s.begin():
        out = perform(s, iid, actor=act(s, "inspector.one", "inspector"), inspector_person_id=org.person["sup_MNT"],
                      at=at,
                      results={"exits_clear": False, "extinguishers_ok": True, "housekeeping": 2, "remarks": "oil"},
                      findings=[{"title": "Forklift battery leaking", "category": "chemical", "severity": "high"}])
        assert not out.late
        hz = sorted((h.category, h.severity, h.title) for h in out.hazards)
        assert hz == [("chemical", "high", "Forklift battery leaking"),
                      ("fire", "normal", "Inspection finding: Emergency exits clear"),
                      ("housekeeping", "normal", "Inspection finding: Housekeeping (1-5)")]
        for h in out.hazards:
            assert (h.source, h.inspection_id, h.status, h.reporter_person_id, h.area_id) == (
                "inspection", iid, "reported", org.person["sup_MNT"], org.area["A"])
            assert h.response_due_at is not None
        insp = s.get(m.Inspection, iid)
        assert (insp.status, insp.findings, insp.performed_at) == ("done", 3, at)
        assert insp.results["remarks"] == "oil"
    with Session(eng) as s:
        with pytest.raises(InspectionError, match="already done"), s.begin():
            perform(s, iid, actor=act(s, "inspector.one", "inspector"), inspector_person_id=org.person["sup_MNT"],
                    results={})


def test_missed_inspection_can_be_done_late(eng):
    org = make_org(eng)
    iid = _one_inspection(eng, org, "C", at=local(2026, 11, 2, 6))
    with Session(eng) as s, s.begin():
        schedule(s, local(2026, 11, 4, 6), site_ids=[org.site_id])
        assert s.get(m.Inspection, iid).status == "missed"
    with Session(eng) as s, s.begin():
        out = perform(s, iid, actor=act(s, "inspector.one", "inspector"), inspector_person_id=org.person["sup_PROD"],
                      results={"exits_clear": True, "extinguishers_ok": True, "housekeeping": 5})
        assert out.late and out.inspection.status == "done" and out.inspection.results["_late"] is True
