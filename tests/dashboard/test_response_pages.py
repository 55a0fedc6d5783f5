"""AppTest: emergency response, contractors and training, compliance ledgers pages on the demo data."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from .conftest import site_id
from .helpers import assert_ok, open_page, texts


def _metric(at, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def test_emergency_page_declares_shows_the_plan_and_closes(dash_env, dash_users, dash_engine):
    sz = site_id(dash_engine, "SZ-ELEC")
    with dash_engine.connect() as conn:
        area = conn.execute(sa.text("""
            SELECT a.id FROM area a
            WHERE a.site_id = :s AND EXISTS (SELECT 1 FROM hazardous_material h WHERE h.area_id = a.id)
            ORDER BY (SELECT count(*) FROM access_record r WHERE r.area_id = a.id AND r.exited_at IS NULL) DESC, a.id
            LIMIT 1"""), {"s": sz}).scalar_one()
        inside = conn.execute(sa.text("SELECT count(DISTINCT person_id) FROM access_record WHERE area_id = :a "
                                      "AND entered_at <= now() AND exited_at IS NULL"), {"a": area}).scalar_one()
        materials = set(conn.execute(sa.text("SELECT name FROM hazardous_material WHERE area_id = :a"),
                                     {"a": area}).scalars())
    at = open_page(dash_users["plant.manager"], "app_pages/emergency.py")
    assert_ok(at)
    assert at.selectbox(key="em.site").options == ["SZ-ELEC · Shenzhen Electronics Plant"]  # scope: one site
    at.selectbox(key="em.area").set_value(area)
    at.selectbox(key="em.kind").set_value("chemical_spill")
    at.text_input(key="em.description").input("Drum leaking at the loading bay")
    at.button(key="em.declare").click()
    at.run()
    assert_ok(at)
    shown = texts(at)
    assert "declared: plan generated in" in shown
    assert _metric(at, "People inside") == str(inside)
    assert _metric(at, "Hazardous materials") == str(len(materials))
    tables = [d.value for d in at.dataframe]
    mats = next(t for t in tables if "hazard_class" in t.columns)
    assert set(mats["name"]) == materials
    with dash_engine.connect() as conn:
        eid = conn.execute(sa.text("SELECT max(id) FROM emergency WHERE area_id = :a AND status = 'active'"),
                           {"a": area}).scalar_one()
    at.text_area(key="em.action").input("Spill kit deployed, drains covered")
    at.run()  # the browser reruns when the text is entered; the button then enables
    at.button(key="em.log").click()
    at.run()
    assert_ok(at)
    at.text_area(key="em.summary").input("Drum seam failed; contained in 20 minutes")
    at.text_area(key="em.lessons").input("Inspect drum seams weekly")
    at.run()
    at.button(key="em.close").click()
    at.run()
    assert_ok(at)
    assert "lessons are in plan template" in texts(at)
    with dash_engine.connect() as conn:
        status, kinds = conn.execute(sa.text("""
            SELECT e.status, array_agg(ev.kind ORDER BY ev.id) FROM emergency e
            JOIN emergency_event ev ON ev.emergency_id = e.id WHERE e.id = :e GROUP BY e.status"""), {"e": eid}).one()
        lesson = conn.execute(sa.text("""SELECT lessons -> -1 ->> 'lesson' FROM plan_template
                                         WHERE kind = 'chemical_spill' AND site_id = :s AND active"""),
                              {"s": sz}).scalar()
    assert status == "closed" and kinds == ["declared", "plan", "notified", "action", "reviewed", "closed"]
    assert lesson == "Inspect drum seams weekly"
    # Every step is in audit_log with the signed-in user's id.
    with dash_engine.connect() as conn:
        audit = conn.execute(sa.text("SELECT action, user_id, username FROM audit_log WHERE entity = 'emergency' "
                                     "AND entity_id = :e ORDER BY id"), {"e": str(eid)}).fetchall()
    pm = dash_users["plant.manager"]
    assert [tuple(r) for r in audit] == [("declare_emergency", pm, "plant.manager"),
                                         ("emergency_action", pm, "plant.manager"),
                                         ("close_emergency", pm, "plant.manager")]


def test_emergency_page_keeps_to_the_users_sites(dash_env, dash_users):
    at = open_page(dash_users["security"], "app_pages/emergency.py")
    assert_ok(at)
    assert [o.split(" · ")[0] for o in at.selectbox(key="em.site").options] == ["SU-MACH"]


def test_contractors_page_approves_and_lists_training(dash_env, dash_users, dash_engine):
    sz = site_id(dash_engine, "SZ-ELEC")
    with dash_engine.begin() as conn:
        cid = conn.execute(sa.text("""INSERT INTO contractor_company (name, licence_no, licence_expires_on, status)
                                      VALUES ('Page Test Electrics', 'L-77', current_date + 400, 'pending')
                                      ON CONFLICT (name) DO UPDATE SET status = 'pending', approved_safety_by = NULL
                                      RETURNING id""")).scalar_one()
        conn.execute(sa.text("""INSERT INTO qualification (company_id, kind, number, expires_on)
                                VALUES (:c, 'safety_licence', 'SL-77', current_date + 400)"""), {"c": cid})
        conn.execute(sa.text("""INSERT INTO person (employee_no, name, kind, site_id, contractor_company_id, active)
                                VALUES ('CPT01', 'Page Tester', 'contractor', :s, :c, true)
                                ON CONFLICT (employee_no) DO NOTHING"""), {"s": sz, "c": cid})
    at = open_page(dash_users["plant.manager"], "app_pages/contractors.py")
    assert_ok(at)
    companies = at.dataframe[0].value
    assert "Page Test Electrics" in set(companies["name"])
    assert at.selectbox(key="ct.capacity").options == ["Safety"]  # a plant manager gives the safety approval only
    at.selectbox(key="ct.company").set_value(cid)
    at.button(key="ct.approve").click()
    at.run()
    assert_ok(at)
    assert "Approval recorded; the company is now pending." in texts(at)
    with dash_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT approved_safety_by FROM contractor_company WHERE id = :c"),
                            {"c": cid}).scalar_one() == "plant.manager"
        audit = conn.execute(sa.text("SELECT user_id, username FROM audit_log "
                                     "WHERE action = 'approve_contractor_safety' "
                                     "AND entity_id = :c ORDER BY id DESC LIMIT 1"), {"c": str(cid)}).one()
    assert tuple(audit) == (dash_users["plant.manager"], "plant.manager")
    # Training due soon per department, for the user's site only.
    shown = texts(at)
    assert "Training due soon, per department" in shown
    dept_tables = [d.value for d in at.dataframe if "due_soon" in d.value.columns]
    if dept_tables:
        assert set(dept_tables[0]["site"]) <= {"SZ-ELEC"}
    # The group manager gives the legal approval; security staff may look but not approve.
    at = open_page(dash_users["group.manager"], "app_pages/contractors.py")
    assert_ok(at)
    assert at.selectbox(key="ct.capacity").options == ["Legal"]
    at = open_page(dash_users["security"], "app_pages/contractors.py")
    assert_ok(at)
    assert not [s for s in at.selectbox if s.key == "ct.capacity"]


def test_ledgers_page_totals_match_the_source(dash_env, dash_users, dash_engine):
    sz = site_id(dash_engine, "SZ-ELEC")
    start, end = dt.date(2026, 8, 1), dt.date(2026, 10, 31)
    at = open_page(dash_users["plant.manager"], "app_pages/ledgers.py")
    assert_ok(at)
    at.selectbox(key="lg.kind").set_value("inspection")
    at.selectbox(key="lg.site").set_value("SZ-ELEC")
    at.date_input(key="lg.from").set_value(start)
    at.date_input(key="lg.to").set_value(end)
    at.run()
    assert_ok(at)
    with dash_engine.connect() as conn:
        n, done = conn.execute(sa.text("""
            SELECT count(*), count(*) FILTER (WHERE i.status = 'done') FROM inspection i JOIN area a ON a.id = i.area_id
            WHERE a.site_id = :s AND i.due_at >= '2026-07-31 16:00+00' AND i.due_at < '2026-10-31 16:00+00'"""),
            {"s": sz}).one()
    assert _metric(at, "lines") == str(n) and _metric(at, "done") == str(done)
    lines = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert len(lines) == min(n, 1000) and lines["source"].str.startswith("inspection#").all()
    assert len(at.get("download_button")) == 2
    assert "HX-HSE-STD-012" in texts(at)
    # The register lists group-wide and the user's site's entries only.
    reg = next(d.value for d in at.dataframe if "requirement" in d.value.columns)
    assert set(reg["site"]) <= {"group", "SZ-ELEC"} and "SZ-ELEC" in set(reg["site"])
