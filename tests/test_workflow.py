"""Hazard/action state machine, dispatch, recurrence, points and the reporter view — on real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from db.queries import hazards as q
from qhse.domain.access import SYSTEM
from qhse.domain.workflow import TRANSITIONS, TransitionError, WorkflowError
from qhse.services import workflow as wf
from qhse.vocab import HazardStatus

from .actor_fixtures import act
from .loop_org import make_org

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def eng(db_factory):
    url = db_factory.create(prefix="qhse_wf")
    e = sa.create_engine(url)
    yield e
    e.dispose()


@pytest.fixture(scope="module")
def org(eng):
    o = make_org(eng)
    with Session(eng) as s, s.begin():
        # Electrical hazards at this site are owned jointly by Maintenance and Facilities.
        s.add(m.DispatchRule(site_id=o.site_id, category="electrical", department_ids=[o.dept["MNT"], o.dept["FAC"]],
                             priority=10, active=True))
    return o


def _report(s, org, *, category="housekeeping", severity="normal", at=T0, area="B", reporter="worker1", **kw):
    return wf.report_hazard(s, site_id=org.site_id, area_id=org.area[area], category=category,
                            title=f"{category} issue",
                            severity=severity, reporter_person_id=org.person[reporter] if reporter else None,
                            reported_at=at, actor=act(s, "tester"), **kw)


def _hours(h):
    return dt.timedelta(hours=h)


def _drive(s, org, state: str, **kw) -> m.HazardReport:
    """A fresh hazard brought to ``state`` through legal steps only."""
    h = _report(s, org, **kw)
    t = T0
    steps = {
        "reported": [],
        "assigned": ["assigned"],
        "in_progress": ["assigned", "in_progress"],
        "rectified": ["assigned", "in_progress", "complete"],
        "verified": ["assigned", "in_progress", "complete", "verified"],
        "closed": ["assigned", "in_progress", "complete", "verified", "closed"],
        "rejected": ["rejected"],
        "reopened": ["assigned", "rejected", "reopened"],
    }[state]
    for st in steps:
        t += _hours(1)
        if st == "complete":
            for a in wf.open_actions(s, h.id):
                wf.complete_action(s, a.id, actor=act(s, "owner"), at=t)
        else:
            wf.transition(s, h.id, st, actor=act(s, "tester"), at=t,
                          reason="because" if st in ("rejected", "reopened") else None)
    s.refresh(h)
    assert h.status == state
    return h


LEGAL = [(a, b) for a, nxt in TRANSITIONS.items() for b in nxt]
ILLEGAL = [(a, b) for a in TRANSITIONS for b in TRANSITIONS if b not in TRANSITIONS[a]]


def test_transition_table_is_complete():
    assert set(TRANSITIONS) == set(HazardStatus)
    assert len(LEGAL) == 13 and len(ILLEGAL) == 64 - 13


@pytest.mark.parametrize("frm,to", LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_legal_transition(eng, org, frm, to):
    with Session(eng) as s, s.begin():
        h = _drive(s, org, frm)
        n_before = s.scalar(sa.select(sa.func.count()).select_from(m.HazardTransition)
                            .where(m.HazardTransition.hazard_id == h.id))
        at = T0 + _hours(10)
        if to == "rectified":
            # Teams finish without declaring the hazard rectified; the checker then does.
            for a in wf.open_actions(s, h.id):
                wf.complete_action(s, a.id, actor=act(s, "owner"), at=at - _hours(1), rectify=False)
            s.refresh(h)
            assert h.status == "in_progress"
        reason = ("not a hazard: tool rack is fixed" if to == "rejected"
                  else ("fix did not hold" if to == "reopened" else None))
        wf.transition(s, h.id, to, actor=act(s, "alice"), at=at, reason=reason, note="checked on site")
        s.refresh(h)
        assert h.status == to
        last = s.scalars(sa.select(m.HazardTransition).where(m.HazardTransition.hazard_id == h.id)
                         .order_by(m.HazardTransition.id.desc())).first()
        assert (last.from_status, last.to_status, last.actor, last.at) == (frm, to, "alice", at)
        assert s.scalar(sa.select(sa.func.count()).select_from(m.HazardTransition)
                        .where(m.HazardTransition.hazard_id == h.id)) == n_before + 1
        acts = s.scalars(sa.select(m.CorrectiveAction).where(m.CorrectiveAction.hazard_id == h.id)
                         .order_by(m.CorrectiveAction.id)).all()
        if to == "assigned":
            assert h.responded_at is not None and h.points_awarded == 10
            new = [a for a in acts if a.created_at == at]
            assert len(new) == 1 and new[0].status == "open" and new[0].due_at == at + _hours(120)
            assert new[0].department_id == org.dept["PROD"] and new[0].owner_person_id == org.person["sup_PROD"]
            if frm == "reopened":
                assert any(a.status == "cancelled" for a in acts)  # the first round stays on record
        elif to == "in_progress":
            assert [a.status for a in acts] == ["in_progress"]
        elif to == "rectified":
            assert h.rectified_at == at and all(a.status == "done" for a in acts)
        elif to == "verified":
            assert h.verified_at == at and all(a.status == "verified" and a.verified_by == "alice" for a in acts)
        elif to == "closed":
            assert h.closed_at == at
        elif to == "rejected":
            assert h.reject_reason == reason and h.points_awarded == 0
            assert all(a.status == "cancelled" for a in acts)
            assert "not a hazard" in last.note
        elif to == "reopened":
            assert h.reject_reason is None and h.closed_at is None and h.verified_at is None
            assert h.response_due_at == at + _hours(24)  # a new response clock
            assert last.note.startswith("fix did not hold")


@pytest.mark.parametrize("frm,to", ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_illegal_transition_refused(eng, org, frm, to):
    with Session(eng) as s:
        with s.begin():
            h = _drive(s, org, frm)
            hid = h.id
            n = s.scalar(sa.select(sa.func.count()).select_from(m.HazardTransition)
                         .where(m.HazardTransition.hazard_id == hid))
        with pytest.raises(TransitionError) as e:
            with s.begin():
                wf.transition(s, hid, to, actor=act(s, "mallory"), reason="x")
        msg = str(e.value)
        assert f"hazard #{hid}" in msg and f"from {frm!r} to {to!r}" in msg and "allowed next" in msg
        with s.begin():
            assert s.get(m.HazardReport, hid, populate_existing=True).status == frm
            assert s.scalar(sa.select(sa.func.count()).select_from(m.HazardTransition)
                            .where(m.HazardTransition.hazard_id == hid)) == n


def test_bad_requests_refused(eng, org):
    with Session(eng) as s:
        with s.begin():
            h = _drive(s, org, "reported")
            a = act(s, "a")
        for kw, match in [(dict(to_status="rejected", actor=a), "needs a reason"),
                          (dict(to_status="assigned", actor=" "), "actor"),
                          (dict(to_status="done", actor=a), "unknown status 'done'")]:
            with pytest.raises(WorkflowError, match=match), s.begin():
                wf.transition(s, h.id, **kw)
        with pytest.raises(WorkflowError, match="no hazard report #999999"), s.begin():
            wf.transition(s, 999999, "assigned", actor=act(s, "a"))
        with pytest.raises(WorkflowError, match="unknown severity"), s.begin():
            _report(s, org, severity="critical")
        with pytest.raises(WorkflowError, match="is not an area of site"), s.begin():
            wf.report_hazard(s, site_id=org.site_id, area_id=987654, category="fire", title="x", actor=act(s, "a"))
        with pytest.raises(WorkflowError, match="needs a title"), s.begin():
            wf.report_hazard(s, site_id=org.site_id, area_id=org.area["A"], category="fire", title="  ",
                             actor=act(s, "a"))
        with s.begin():
            h2 = _drive(s, org, "closed")
            with pytest.raises(WorkflowError, match="reopening needs a reason"):
                wf.transition(s, h2.id, "reopened", actor=act(s, "a"))


def test_cross_department_each_team_tracked(eng, org):
    with Session(eng) as s, s.begin():
        h = _report(s, org, category="electrical", severity="high", area="A")
        wf.transition(s, h.id, "assigned", actor=act(s, "dispatcher"), at=T0 + _hours(1))
        acts = s.scalars(sa.select(m.CorrectiveAction).where(m.CorrectiveAction.hazard_id == h.id)
                         .order_by(m.CorrectiveAction.department_id)).all()
        assert sorted(a.department_id for a in acts) == sorted([org.dept["MNT"], org.dept["FAC"]])
        assert {a.owner_person_id for a in acts} == {org.person["sup_MNT"], org.person["sup_FAC"]}
        assert all("joint action with" in a.description for a in acts)
        assert all(a.due_at == T0 + _hours(1 + 72) for a in acts)  # high: 72 h to rectify
        # Every team is told about its own part.
        sent_to = set(s.scalars(sa.select(m.Notification.recipient).where(
            m.Notification.ref.in_([f"action:{a.id}:assigned" for a in acts]))))
        assert sent_to == {f"sup.mnt.{org.n}@plant.example", f"sup.fac.{org.n}@plant.example"}
        mnt = next(a for a in acts if a.department_id == org.dept["MNT"])
        fac = next(a for a in acts if a.department_id == org.dept["FAC"])
        wf.start_action(s, mnt.id, actor=act(s, "mnt.lead"), at=T0 + _hours(2))
        s.refresh(h)
        assert h.status == "in_progress"
        wf.complete_action(s, mnt.id, actor=act(s, "mnt.lead"), at=T0 + _hours(3), rectify=False)
        with pytest.raises(TransitionError, match=r"1 action\(s\) are not done: Facilities"):
            wf.transition(s, h.id, "rectified", actor=act(s, "hse"))
        wf.complete_action(s, fac.id, actor=act(s, "fac.lead"), at=T0 + _hours(5))
        s.refresh(h)
        assert h.status == "rectified" and h.rectified_at == T0 + _hours(5)
        with pytest.raises(TransitionError, match="action #.*cannot go from 'done' to 'done'"):
            wf.complete_action(s, fac.id, actor=act(s, "fac.lead"))
        steps = s.execute(sa.select(m.HazardTransition.to_status, m.HazardTransition.actor)
                          .where(m.HazardTransition.hazard_id == h.id).order_by(m.HazardTransition.id)).all()
        assert steps == [("reported", "tester"), ("assigned", "dispatcher"), ("in_progress", "mnt.lead"),
                         ("rectified", "fac.lead")]


def test_dispatch_most_specific_rule_wins(eng, org):
    from qhse.services.dispatch import dispatch

    with Session(eng) as s, s.begin():
        s.add_all([
            m.DispatchRule(site_id=None, category="fire", department_ids=[org.dept["FAC"]], priority=50),
            m.DispatchRule(site_id=org.site_id, area_id=org.area["C"], category="fire",
                           department_ids=[org.dept["MNT"]], priority=50),
            m.DispatchRule(site_id=org.site_id, category="fire", min_severity="severe",
                           department_ids=[org.dept["PROD"], org.dept["FAC"]], priority=50),
            m.DispatchRule(site_id=org.site_id, category="fire", department_ids=[org.dept["MNT"]], priority=5,
                           active=False),
        ])
        s.flush()
        assert dispatch(s, _report(s, org, category="fire", area="A")).department_ids == (org.dept["FAC"],)
        assert dispatch(s, _report(s, org, category="fire", area="C")).department_ids == (org.dept["MNT"],)
        d = dispatch(s, _report(s, org, category="fire", area="A", severity="severe"))
        assert d.department_ids == (org.dept["PROD"], org.dept["FAC"]) and d.cross_department
        d = dispatch(s, _report(s, org, category="ergonomics", area="A"))
        assert d.department_ids == (org.dept["PROD"],) and d.rule_id is None
        s.rollback()


def test_explicit_departments_and_due(eng, org):
    with Session(eng) as s, s.begin():
        h = _report(s, org, category="chemical", severity="severe")
        with pytest.raises(WorkflowError, match="not at site"):
            wf.transition(s, h.id, "assigned", actor=act(s, "hse"), department_ids=[999999])
        due = T0 + _hours(6)
        wf.transition(s, h.id, "assigned", actor=act(s, "hse"), at=T0 + _hours(1), department_ids=[org.dept["FAC"]],
                      due_at=due)
        a = s.scalars(sa.select(m.CorrectiveAction).where(m.CorrectiveAction.hazard_id == h.id)).one()
        assert a.department_id == org.dept["FAC"] and a.due_at == due and a.owner_person_id == org.person["sup_FAC"]
        assert h.points_awarded == 20  # severe


def test_recurrence_linking(eng, org):
    with Session(eng) as s, s.begin():
        asset = m.Asset(site_id=org.site_id, area_id=org.area["C"], code=f"{org.site_code}-M1", name="Press 1",
                        kind="press", product_type="M")
        s.add(asset)
        s.flush()
        t = dt.datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
        first = _report(s, org, category="machine_guarding", area="C", at=t, asset_id=asset.id)
        assert not first.is_repeat and first.predecessor_id is None
        second = _report(s, org, category="machine_guarding", area="C", at=t + dt.timedelta(days=10), asset_id=asset.id)
        assert second.is_repeat and second.predecessor_id == first.id
        third = _report(s, org, category="machine_guarding", area="C", at=t + dt.timedelta(days=25), asset_id=asset.id)
        assert third.predecessor_id == second.id
        # Other category, other asset, or outside the 30-day window: not repeats.
        assert not _report(s, org, category="fire", area="C", at=t + dt.timedelta(days=26), asset_id=asset.id).is_repeat
        late = _report(s, org, category="machine_guarding", area="C", at=t + dt.timedelta(days=56), asset_id=asset.id)
        assert not late.is_repeat
        # Area-level reports (no asset) match on area and category.
        a1 = _report(s, org, category="housekeeping", area="A", at=t)
        a2 = _report(s, org, category="housekeeping", area="A", at=t + dt.timedelta(days=29, hours=23))
        assert a2.predecessor_id == a1.id
        # A rejected report is not a predecessor.
        r1 = _report(s, org, category="lockout", area="A", at=t)
        wf.transition(s, r1.id, "rejected", actor=act(s, "hse"), at=t + _hours(1), reason="duplicate")
        assert not _report(s, org, category="lockout", area="A", at=t + dt.timedelta(days=2)).is_repeat
        from qhse.services.recurrence import predecessors

        assert [p.id for p in predecessors(s, third.id)] == [second.id, first.id]
        hid, chain = third.id, [second.id, first.id]
    detail = q.hazard_detail(eng, SYSTEM, hid)
    assert [p["id"] for p in detail["predecessors"]] == chain
    reps = q.repeat_hazards(eng, SYSTEM, site_ids=[org.site_id])
    row = reps[(reps.category == "machine_guarding")].iloc[0]
    assert row.repeats == 2


def test_recurrence_window_configurable(eng):
    o = make_org(eng, settings={"recurrence_days": 7})
    with Session(eng) as s, s.begin():
        t = dt.datetime(2026, 6, 1, tzinfo=UTC)
        _report(s, o, category="fire", area="A", at=t)
        assert not _report(s, o, category="fire", area="A", at=t + dt.timedelta(days=8)).is_repeat
        assert _report(s, o, category="fire", area="A", at=t + dt.timedelta(days=13)).is_repeat


def test_reporter_view_points_and_leaderboard(eng):
    o = make_org(eng, settings={"incentive_points": {"severe": 30}})
    with Session(eng) as s, s.begin():
        t = dt.datetime(2026, 7, 1, 8, tzinfo=UTC)
        # worker1: severe accepted (30, site override) + normal accepted (10) + low rejected (0)
        h1 = _report(s, o, severity="severe", category="fire", reporter="worker1", at=t)
        wf.transition(s, h1.id, "assigned", actor=act(s, "hse"), at=t + _hours(1))
        h2 = _report(s, o, severity="normal", category="ppe", reporter="worker1", at=t)
        wf.transition(s, h2.id, "assigned", actor=act(s, "hse"), at=t + _hours(2))
        for a in wf.open_actions(s, h2.id):
            wf.complete_action(s, a.id, actor=act(s, "owner"), at=t + _hours(3))
        wf.transition(s, h2.id, "verified", actor=act(s, "hse"), at=t + _hours(4))
        wf.transition(s, h2.id, "closed", actor=act(s, "hse"), at=t + _hours(5))
        h3 = _report(s, o, severity="low", category="ergonomics", reporter="worker1", at=t)
        wf.transition(s, h3.id, "rejected", actor=act(s, "hse"), at=t + _hours(1), reason="duplicate of an open report")
        # worker2: two high accepted (15 + 15) and one waiting (no points yet)
        for k in range(2):
            h = _report(s, o, severity="high", category="chemical", area="A", reporter="worker2", at=t + _hours(k))
            wf.transition(s, h.id, "assigned", actor=act(s, "hse"), at=t + _hours(k + 1))
        _report(s, o, severity="normal", category="fire", area="C", reporter="worker2", at=t)
        # worker3: one normal accepted
        h = _report(s, o, severity="normal", category="fire", area="C", reporter="worker3", at=t)
        wf.transition(s, h.id, "assigned", actor=act(s, "hse"), at=t + _hours(1))
        h2_id = h2.id
    mine = q.reporter_reports(eng, SYSTEM, o.person["worker1"])
    assert len(mine) == 3
    by_id = mine.set_index("id")
    assert by_id.loc[h2_id, "status"] == "closed" and by_id.loc[h2_id, "last_step"] == "closed"
    assert by_id.loc[h2_id, "actions"] == 1 and by_id.loc[h2_id, "actions_done"] == 1
    assert sorted(mine["status"]) == ["assigned", "closed", "rejected"]
    assert mine.loc[mine.status == "rejected", "reject_reason"].iloc[0] == "duplicate of an open report"
    assert q.reporter_summary(eng, SYSTEM, o.person["worker1"]) == {"reports": 3, "open": 1, "closed": 1, "rejected": 1,
                                                           "points": 40}
    lb = q.leaderboard(eng, SYSTEM, o.site_id)
    assert list(lb["person_id"][:3]) == [o.person["worker1"], o.person["worker2"], o.person["worker3"]]
    assert list(lb["points"][:3]) == [40, 30, 10]
    assert list(lb["valid_reports"][:3]) == [2, 3, 1]
    assert list(lb["rank"][:3]) == [1, 2, 3]


def test_bad_points_config_refused(eng):
    o = make_org(eng, settings={"incentive_points": {"severe": 500}})
    with Session(eng) as s, s.begin():
        h = _report(s, o, severity="severe", category="fire")
        with pytest.raises(ValueError, match="incentive_points.severe must be a whole number 0..100"):
            wf.transition(s, h.id, "assigned", actor=act(s, "hse"))


def test_free_text_actor_refused_and_every_step_audited_with_the_user_id(eng, org):
    """A forged name is refused (nothing stored); each step writes audit_log with the user's id."""
    from qhse.services.actors import system

    with Session(eng) as s:
        with s.begin():
            h = _drive(s, org, "reported")
            hid = h.id
            alice = act(s, "alice.audit", "plant_manager")
            before = s.scalar(sa.select(sa.func.coalesce(sa.func.max(m.AuditLog.id), 0)))
        for forged in ("Mallory (forged name)", "alice.audit", dataclass_scope_without_id("mallory")):
            with pytest.raises(WorkflowError, match="platform user|system actor"), s.begin():
                wf.transition(s, hid, "assigned", actor=forged)
        with s.begin():
            assert s.get(m.HazardReport, hid, populate_existing=True).status == "reported"
            wf.transition(s, hid, "assigned", actor=alice, at=T0 + _hours(1))
            acts = wf.open_actions(s, hid)
            wf.start_action(s, acts[0].id, actor=alice, at=T0 + _hours(2))
            wf.complete_action(s, acts[0].id, actor=system("worker"), at=T0 + _hours(3))
        with s.begin():
            rows = s.execute(sa.select(m.AuditLog.user_id, m.AuditLog.username, m.AuditLog.action, m.AuditLog.entity_id)
                             .where(m.AuditLog.id > before).order_by(m.AuditLog.id)).all()
        assert [(r.user_id, r.username, r.action) for r in rows] == [
            (alice.user_id, "alice.audit", "hazard_assigned"),
            (alice.user_id, "alice.audit", "action_started"),
            (alice.user_id, "alice.audit", "hazard_in_progress"),
            (None, "system:worker", "action_done"),
            (None, "system:worker", "hazard_rectified"),
        ]


def test_site_scope_applies_to_transitions(eng, org):
    import dataclasses

    with Session(eng) as s:
        with s.begin():
            h = _drive(s, org, "reported")
            hid = h.id
            other = dataclasses.replace(act(s, "pm.elsewhere", "plant_manager"), site_ids=(-1,))
        # A user of other sites gets the same answer as for a missing report.
        with pytest.raises(WorkflowError, match=f"no hazard report #{hid}"), s.begin():
            wf.transition(s, hid, "assigned", actor=other)


def dataclass_scope_without_id(name):
    from qhse.domain.access import Scope

    return Scope(user_id=None, username=name, role="admin", site_ids=None)
