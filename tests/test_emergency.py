"""Emergency response on real PostgreSQL: the plan's content, notifications, timeline, review -> template."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from db.queries.emergency import emergencies, emergency_detail
from qhse.demo.response_seed import DEFAULT_GATING_RULES, DEFAULT_PLAN_TEMPLATES, ensure_reference_data
from qhse.domain.access import SYSTEM, Scope
from qhse.domain.emergency import EmergencyError
from qhse.services import contractors as C
from qhse.services import emergency as E

from .actor_fixtures import act
from .conftest import SEED_END
from .response_world import T, build_world

H = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def world(db_factory):
    url = db_factory.create(prefix="qhse_emergency")
    w = build_world(url)
    # People inside the gas area now: an employee and a contractor on an approved job.
    C.record_entry(w.engine, w.e2, w.gas, at=T - 30 * 60 * dt.timedelta(seconds=1), actor="system:gate")
    jid = C.create_job(w.engine, actor=act(w.engine, "hse.manager", "plant_manager"), company_id=w.company,
                       area_id=w.gas, scope="Pump repair", work_types=["hot_work"],
                       starts_at=T - 2 * H, ends_at=T + 6 * H, worker_ids=[w.w1])
    C.approve_job(w.engine, jid, actor=act(w.engine, "hse.manager", "plant_manager"), at=T - 3 * H)
    C.record_entry(w.engine, w.w1, w.gas, at=T - H, actor="system:gate")
    # Someone who already left is not inside.
    C.record_entry(w.engine, w.e1, w.gas, at=T - 3 * H, actor="system:gate")
    C.record_exit(w.engine, w.e1, at=T - 2 * H, actor="system:gate")
    w.job = jid
    yield w
    w.engine.dispose()
    db_factory.drop(url)


def test_plan_has_materials_nearest_resources_and_people_present(world):
    w = world
    res = E.declare(w.engine, area_id=w.gas, kind="gas_leak", actor=act(w.engine, "shift.lead", "plant_manager"),
                    description="H2S 14 ppm", at=T)
    plan = res.plan
    assert sorted(x["name"] for x in plan["materials"]) == sorted(w.materials)  # only what is stored in GAS
    # People inside now, from open access records; the contractor with their company and job.
    people = {p["name"]: p for p in plan["people"]}
    assert set(people) == {"Valid Two", "Worker One"}
    assert people["Worker One"]["company"] == "Acme Welding" and people["Worker One"]["job_id"] == w.job
    assert plan["people_count"] == {"employees": 1, "contractors": 1}
    # Nearest resources per kind the gas-leak template needs, by distance on the site plan.
    by_kind: dict[str, list] = {}
    for r in plan["resources"]:
        by_kind.setdefault(r["kind"], []).append((r["id"], r["distance_m"]))
    assert by_kind["gas_detector"] == [(w.resources["gas_detector@GAS"], 0.0),
                                       (w.resources["gas_detector@CHEM"], 100.0)]
    assert by_kind["breathing_apparatus"] == [(w.resources["breathing_apparatus@HALL"], 50.0),
                                              (w.resources["breathing_apparatus@CHEM"], 100.0)]
    assert by_kind["first_aid"] == [(w.resources["first_aid@HALL"], 50.0)]
    assert "extinguisher" not in by_kind  # not a gas-leak resource
    assert plan["missing_resources"] == ["eyewash"]
    assert plan["evacuation_route"] == "Corridor A to the north gate"
    assert plan["assembly_point"] == "Assembly point 1 (north car park)"
    gas_tpl = next(t for t in DEFAULT_PLAN_TEMPLATES if t["kind"] == "gas_leak")
    assert plan["steps"] == gas_tpl["steps"]
    notify = {(c["role"], c["name"]) for c in plan["notify"]}
    assert ("area_owner", "Owner One") in notify and ("contractor_supervisor", "Owner One") in notify
    assert {"name": "Fire brigade (hazmat)", "contact": "119"} in plan["external_contacts"]
    assert res.plan_ms > 0
    # Stored with the emergency, notifications queued, timeline started.
    with Session(w.engine) as s:
        e = s.get(m.Emergency, res.emergency_id)
        assert e.status == "active" and e.plan["materials"] == plan["materials"] and e.plan_ms is not None
        notes = s.scalars(sa.select(m.Notification).where(m.Notification.ref == f"emergency:{e.id}")).all()
        kinds = [ev.kind for ev in s.scalars(sa.select(m.EmergencyEvent).where(m.EmergencyEvent.emergency_id == e.id)
                                             .order_by(m.EmergencyEvent.id))]
    recipients = {(n.channel, n.recipient) for n in notes}
    assert ("email", "owner1@plant.example") in recipients
    assert ("mqtt", "qhse/S1/emergency") in recipients
    assert ("mqtt", "qhse/S1/notifications/security") in recipients  # nobody with the security role has an e-mail
    assert res.notifications == len(notes)
    assert all("Sodium hypochlorite" in n.body and "Worker One" in n.body for n in notes)
    assert kinds == ["declared", "plan", "notified"]


def test_timeline_actions_resources_and_duplicates(world):
    w = world
    with pytest.raises(EmergencyError, match="already active"):
        E.declare(w.engine, area_id=w.gas, kind="gas_leak", actor=act(w.engine, "someone", "security"), at=T + H)
    eid = emergencies(w.engine, SYSTEM, status="active").iloc[0]["id"]
    E.log_action(w.engine, int(eid), actor=act(w.engine, "shift.lead", "plant_manager"),
                 text="Area evacuated, roll call complete", at=T + H)
    rid = w.resources["breathing_apparatus@CHEM"]
    responder = act(w.engine, "responder", "security")
    E.use_resource(w.engine, int(eid), resource_id=rid, quantity=1, actor=responder, at=T + H)
    with pytest.raises(EmergencyError, match="only 1 breathing_apparatus in stock"):
        E.use_resource(w.engine, int(eid), resource_id=rid, quantity=2, actor=responder, at=T + H)
    with Session(w.engine) as s:
        assert s.get(m.EmergencyResource, rid).quantity == 1
    with pytest.raises(EmergencyError, match="needs a text"):
        E.log_action(w.engine, int(eid), actor=responder, text="  ", at=T + H)
    with pytest.raises(EmergencyError, match="emergency type must be one of"):
        E.declare(w.engine, area_id=w.gas, kind="flood", actor=responder, at=T)
    d = emergency_detail(w.engine, SYSTEM, int(eid))
    assert [ev["kind"] for ev in d["timeline"]] == ["declared", "plan", "notified", "action", "resource_used"]
    assert emergency_detail(w.engine, Scope(None, "x", "security", (w.site + 999,)), int(eid)) is None


def test_close_with_review_feeds_the_template(world):
    w = world
    eid = int(emergencies(w.engine, SYSTEM, status="active").iloc[0]["id"])
    hse = act(w.engine, "hse.manager", "plant_manager")
    with pytest.raises(EmergencyError, match="review summary"):
        E.close(w.engine, eid, actor=hse, summary=" ", at=T + 2 * H)
    tid = E.close(w.engine, eid, actor=hse, summary="Leak at pump seal, contained in 40 min",
                  lessons=["Keep a spare pump seal kit at the gas area"],
                  new_steps=["Check the wind sock before choosing the assembly point."], at=T + 2 * H)
    assert tid is not None
    with Session(w.engine) as s:
        tpl = s.get(m.PlanTemplate, tid)
        assert tpl.site_id == w.site and tpl.version == 1 and tpl.kind == "gas_leak"
        assert tpl.lessons[-1]["lesson"] == "Keep a spare pump seal kit at the gas area"
        assert tpl.lessons[-1]["emergency_id"] == eid
        assert s.get(m.Emergency, eid).status == "closed"
        assert s.scalar(sa.select(m.EmergencyReview.template_id).where(m.EmergencyReview.emergency_id == eid)) == tid
    with pytest.raises(EmergencyError, match="is closed"):
        E.log_action(w.engine, eid, actor=hse, text="late", at=T + 3 * H)
    # The next plan for this site carries the lesson and the new step; other sites keep the group template.
    with w.engine.connect() as conn:
        plan = E.build_plan(conn, w.chem, "gas_leak", T + 3 * H)
    assert plan["template"] == {"id": tid, "version": 1, "site_specific": True, "title": tpl.title}
    assert plan["lessons"] == ["Keep a spare pump seal kit at the gas area"]
    assert plan["steps"][-1] == "Check the wind sock before choosing the assembly point."
    # A second review makes version 2 and keeps the earlier lessons.
    e2 = E.declare(w.engine, area_id=w.chem, kind="gas_leak", actor=hse, at=T + 3 * H).emergency_id
    tid2 = E.close(w.engine, e2, actor=hse, summary="Drill", lessons=["Label the isolation valve"],
                   at=T + 4 * H)
    with Session(w.engine) as s:
        t2 = s.get(m.PlanTemplate, tid2)
        assert t2.version == 2 and [x["lesson"] for x in t2.lessons] == [
            "Keep a spare pump seal kit at the gas area", "Label the isolation valve"]
        assert s.get(m.PlanTemplate, tid).active is False


def other_site(w) -> int:
    """A second site (S2) of the same region, for users limited to another plant."""
    with w.engine.begin() as conn:
        return conn.execute(sa.text(
            "INSERT INTO site (region_id, code, name, industry, timezone, settings) "
            "SELECT region_id, 'S2', 'Other Plant', industry, timezone, '{}' FROM site WHERE id = :s "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id"), {"s": w.site}).scalar_one()


def _audit_rows(engine, eid: int) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT action, user_id, username FROM audit_log "
            "WHERE entity = 'emergency' AND entity_id = :e ORDER BY id"),
            {"e": str(eid)})]


def test_actor_is_a_platform_user_and_every_step_is_audited_with_its_id(world):
    w = world
    at = T + 10 * H
    with w.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM emergency")).scalar()
    # Free text, a user without manage_emergency and a user of another site are refused; nothing is written.
    with pytest.raises(EmergencyError, match="not free text"):
        E.declare(w.engine, area_id=w.chem, kind="fire", actor="Mallory (forged name)", at=at)
    with pytest.raises(EmergencyError, match="neither a platform user"):
        E.declare(w.engine, area_id=w.chem, kind="fire", actor=Scope(None, "Mallory", "admin", None), at=at)
    with pytest.raises(EmergencyError, match="may not manage emergency"):
        E.declare(w.engine, area_id=w.chem, kind="fire", actor=act(w.engine, "em.worker", "worker"), at=at)
    other = act(w.engine, "em.elsewhere", "security", site_ids=(other_site(w),))
    with pytest.raises(EmergencyError, match="outside"):
        E.declare(w.engine, area_id=w.chem, kind="fire", actor=other, at=at)
    with w.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM emergency")).scalar() == before
    # A platform user of the site: each write is in audit_log with the user id.
    lead = act(w.engine, "em.lead", "security", site_ids=(w.site,))
    eid = E.declare(w.engine, area_id=w.chem, kind="fire", actor=lead, at=at).emergency_id
    with pytest.raises(EmergencyError, match=f"no emergency #{eid}"):
        E.log_action(w.engine, eid, actor=other, text="not my plant", at=at)
    E.log_action(w.engine, eid, actor=lead, text="Hoses out", at=at + H)
    E.use_resource(w.engine, eid, resource_id=w.resources["extinguisher@HALL"], quantity=1, actor=lead, at=at + H)
    E.close(w.engine, eid, actor=lead, summary="Small fire, out in 5 min", at=at + 2 * H)
    rows = _audit_rows(w.engine, eid)
    assert rows == [(a, lead.user_id, "em.lead") for a in
                    ("declare_emergency", "emergency_action", "emergency_resource_used", "close_emergency")]
    d = emergency_detail(w.engine, SYSTEM, eid)
    assert d["emergency"]["declared_by"] == "em.lead" and d["review"]["reviewed_by"] == "em.lead"
    # A job acts as a labelled system actor (no user id).
    sid = E.declare(w.engine, area_id=w.chem, kind="fire", actor="system:drill", at=at + 3 * H).emergency_id
    E.close(w.engine, sid, actor="system:drill", summary="Drill", at=at + 4 * H)
    assert _audit_rows(w.engine, sid) == [("declare_emergency", None, "system:drill"),
                                          ("close_emergency", None, "system:drill")]


def test_reference_data_is_reinstalled_idempotently(fresh_db_url, db_factory):
    eng = sa.create_engine(db_factory.owner_url(fresh_db_url))  # TRUNCATE ... RESTART IDENTITY: the owner only
    try:
        with eng.begin() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM plan_template")).scalar() == len(DEFAULT_PLAN_TEMPLATES)
            conn.execute(sa.text("TRUNCATE plan_template, gating_rule RESTART IDENTITY CASCADE"))
            ensure_reference_data(conn)
            ensure_reference_data(conn)
            assert conn.execute(sa.text("SELECT count(*) FROM plan_template")).scalar() == len(DEFAULT_PLAN_TEMPLATES)
            assert conn.execute(sa.text("SELECT count(*) FROM gating_rule")).scalar() == len(DEFAULT_GATING_RULES)
    finally:
        eng.dispose()


def test_plan_on_demo_data_matches_the_source_tables(seeded_engine):
    """Read only: for the busiest area of the demo data, the plan lists exactly what the tables hold."""
    at = SEED_END - H
    with seeded_engine.connect() as conn:
        area_id = conn.execute(sa.text("""
            SELECT a.id FROM area a
            WHERE EXISTS (SELECT 1 FROM hazardous_material h WHERE h.area_id = a.id)
            ORDER BY (SELECT count(*) FROM access_record r WHERE r.area_id = a.id AND r.exited_at IS NULL) DESC, a.id
            LIMIT 1""")).scalar()
        mats = set(conn.execute(sa.text("SELECT id FROM hazardous_material WHERE area_id = :a"),
                                {"a": area_id}).scalars())
        inside = set(conn.execute(sa.text("""SELECT person_id FROM access_record WHERE area_id = :a
                                             AND entered_at <= :t AND (exited_at IS NULL OR exited_at > :t)"""),
                                  {"a": area_id, "t": at}).scalars())
        plan = E.build_plan(conn, area_id, "chemical_spill", at)
        # The nearest stocked spill kit, computed independently.
        nearest = conn.execute(sa.text("""
            SELECT min(sqrt(power(ra.x_m - a.x_m, 2) + power(ra.y_m - a.y_m, 2)))
            FROM emergency_resource r JOIN area ra ON ra.id = r.area_id JOIN area a ON a.id = :a
            WHERE r.site_id = a.site_id AND r.kind = 'spill_kit' AND r.quantity > 0"""), {"a": area_id}).scalar()
    assert inside, "the demo data has people inside this area"
    assert {x["id"] for x in plan["materials"]} == mats
    assert {p["person_id"] for p in plan["people"]} == inside
    kits = [r["distance_m"] for r in plan["resources"] if r["kind"] == "spill_kit"]
    assert kits == sorted(kits) and kits[0] == pytest.approx(nearest, abs=0.05)


def test_cli_declare_prints_the_plan(world):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = world.url
    guard = act(world.engine, "guard", "security")
    act(world.engine, "cli.worker", "worker")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "qhse.cli", "emergency", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    declare = ["declare", "--area", "S1/HALL", "--type", "fire", "--at", (T + 5 * H).isoformat(), "--json"]
    # Free text is not accepted any more; unknown users and users without manage_emergency are refused.
    r = cli(*declare, "--by", "Mallory (forged name)")
    assert r.returncode == 2 and "--by" in r.stderr, r.stderr
    r = cli(*declare, "--as", "mallory")
    assert r.returncode == 2 and "unknown user 'mallory'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli(*declare, "--as", "cli.worker")
    assert r.returncode == 2 and "may not manage emergency" in r.stderr, r.stderr
    r = cli(*declare, "--as", "guard")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["plan"]["area"]["code"] == "HALL"
    assert [x["kind"] for x in out["plan"]["resources"]][:1] == ["extinguisher"]
    eid = out["emergency_id"]
    r = cli("log", str(eid), "--as", "guard", "--action", "Area cleared", "--at", (T + 5 * H).isoformat())
    assert r.returncode == 0, r.stderr
    r = cli("close", str(eid), "--as", "guard", "--summary", "False alarm", "--at", (T + 6 * H).isoformat())
    assert r.returncode == 0 and "closed" in r.stdout, r.stderr
    assert _audit_rows(world.engine, eid) == [(a, guard.user_id, "guard") for a in
                                              ("declare_emergency", "emergency_action", "close_emergency")]
