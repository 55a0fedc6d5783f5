"""A small hand-made organisation for KPI and scorecard tests (every figure countable by hand)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

UTC = dt.UTC
OCT = dt.date(2026, 10, 1)


def t(day: int, month: int = 10, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


def build_org(conn, *, local: dict | None = None) -> dict:
    """Enterprise 1, region 1, sites A (id 1), B (2), C (3, no hours); one department and one
    area per site; stages: A storage, B waste_disposal, C general."""
    conn.execute(sa.text("INSERT INTO enterprise (id, name) VALUES (1, 'Test Group')"))
    conn.execute(sa.text("INSERT INTO region (id, enterprise_id, code, name) VALUES (1, 1, 'R1', 'Region 1')"))
    for sid, code, stage, kind, risk in ((1, "A", "storage", "chemical_store", "A"),
                                         (2, "B", "waste_disposal", "waste", "B"),
                                         (3, "C", "general", "assembly", "C")):
        conn.execute(sa.text("INSERT INTO site (id, region_id, code, name, industry, timezone, settings) "
                             "VALUES (:i, 1, :c, :n, 'machining', 'Asia/Shanghai', CAST(:s AS jsonb))"),
                     {"i": sid, "c": code, "n": f"Plant {code}",
                      "s": '{"local_indicators": %s}' % ("{}" if not local or code not in local else
                                                         f'{{"{local[code]}": true}}')})
        conn.execute(sa.text("INSERT INTO department (id, site_id, code, name, stage) VALUES (:i, :i, 'D', :n, :st)"),
                     {"i": sid, "n": f"Dept {code}", "st": stage})
        conn.execute(sa.text("INSERT INTO area (id, site_id, department_id, code, name, kind, risk_class, is_gas_area, "
                             "x_m, y_m) VALUES (:i, :i, :i, 'AR', :n, :k, :r, :g, 0, 0)"),
                     {"i": sid, "n": f"Area {code}", "k": kind, "r": risk, "g": kind in ("chemical_store", "waste")})
        conn.execute(sa.text("INSERT INTO post (id, department_id, code, name, hazardous) VALUES (:i, :i, 'OP', "
                             "'Operator', true)"), {"i": sid})
    return {"sites": [1, 2, 3]}


def hours(conn, site_id: int, month: dt.date, h: float, contractor: float = 0.0, dept: bool = True) -> None:
    conn.execute(sa.text("INSERT INTO hours_worked (site_id, department_id, month, hours, headcount, contractor_hours) "
                         "VALUES (:s, :d, :m, :h, 10, :c)"),
                 {"s": site_id, "d": site_id if dept else None, "m": month, "h": h, "c": contractor})


def incident(conn, site_id: int, when: dt.datetime, kind: str = "injury", recordable: bool = False,
             lost_time: bool = False, restricted: bool = False, days_away: int = 0, days_restricted: int = 0,
             contractor: bool = False) -> int:
    return conn.execute(sa.text(
        "INSERT INTO incident (site_id, area_id, department_id, occurred_at, kind, recordable, lost_time, "
        "restricted_or_transfer, days_away, days_restricted, fatality, contractor_involved, currency) "
        "VALUES (:s, :s, :s, :w, :k, :r, :l, :rt, :da, :dr, false, :c, 'CNY') RETURNING id"),
        {"s": site_id, "w": when, "k": kind, "r": recordable, "l": lost_time, "rt": restricted, "da": days_away,
         "dr": days_restricted, "c": contractor}).scalar_one()


def hazard(conn, site_id: int, reported: dt.datetime, *, status: str = "reported", closed: dt.datetime | None = None,
           rectified: dt.datetime | None = None, severity: str = "normal", category: str = "housekeeping",
           repeat: bool = False, reporter: int | None = None) -> int:
    return conn.execute(sa.text(
        "INSERT INTO hazard_report (site_id, area_id, category, title, severity, likelihood, consequence, status, "
        "source, reported_at, rectified_at, closed_at, is_repeat, reporter_person_id, points_awarded) "
        "VALUES (:s, :s, :cat, 'test hazard', :sev, 3, 3, :st, 'worker', :r, :rect, :c, :rep, :who, 0) RETURNING id"),
        {"s": site_id, "cat": category, "sev": severity, "st": status, "r": reported, "rect": rectified, "c": closed,
         "rep": repeat, "who": reporter}).scalar_one()


def action(conn, hazard_id: int, dept: int, due: dt.datetime, completed: dt.datetime | None) -> int:
    return conn.execute(sa.text(
        "INSERT INTO corrective_action (hazard_id, department_id, description, status, created_at, due_at, "
        "completed_at, escalation_level, currency) VALUES (:h, :d, 'fix', :st, :c0, :due, :done, 0, 'CNY') "
        "RETURNING id"),
        {"h": hazard_id, "d": dept, "st": "done" if completed else "open", "c0": due - dt.timedelta(days=3),
         "due": due, "done": completed}).scalar_one()


def inspection(conn, area_id: int, due: dt.datetime, status: str, findings: int = 0) -> int:
    rid = conn.execute(sa.text("SELECT id FROM inspection_route WHERE area_id = :a"), {"a": area_id}).scalar()
    if rid is None:
        rid = conn.execute(sa.text("INSERT INTO inspection_route (site_id, area_id, name, checklist, active) "
                                   "SELECT site_id, id, 'round', '[]', true FROM area WHERE id = :a RETURNING id"),
                           {"a": area_id}).scalar_one()
    return conn.execute(sa.text(
        "INSERT INTO inspection (route_id, area_id, due_at, performed_at, status, results, findings) "
        "VALUES (:r, :a, :d, :p, :s, '{}', :f) RETURNING id"),
        {"r": rid, "a": area_id, "d": due, "p": due if status == "done" else None, "s": status, "f": findings}
    ).scalar_one()


def person(conn, pid: int, site_id: int, kind: str = "employee") -> int:
    conn.execute(sa.text("INSERT INTO person (id, employee_no, name, kind, site_id, department_id, post_id, active) "
                         "VALUES (:i, :no, :n, :k, :s, :s, :s, true)"),
                 {"i": pid, "no": f"E{pid}", "n": f"Person {pid}", "k": kind, "s": site_id})
    return pid


def course(conn, cid: int, code: str) -> int:
    conn.execute(sa.text("INSERT INTO training_course (id, code, name, validity_months) VALUES (:i, :c, :c, 12)"),
                 {"i": cid, "c": code})
    return cid


def training(conn, person_id: int, course_id: int, completed: dt.date, expires: dt.date | None) -> int:
    return conn.execute(sa.text(
        "INSERT INTO training_record (person_id, course_id, completed_on, expires_on, passed) "
        "VALUES (:p, :c, :d, :e, true) RETURNING id"), {"p": person_id, "c": course_id, "d": completed, "e": expires}
    ).scalar_one()
