"""A small plant for the hazard-loop tests: one site, three departments, three areas (A, B, C)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m

UTC = dt.UTC
_counter = itertools.count(1)

CHECKLIST = [
    {"key": "exits_clear", "label": "Emergency exits clear", "required": True, "type": "bool"},
    {"key": "extinguishers_ok", "label": "Extinguishers in place", "required": True, "type": "bool",
     "severity": "high"},
    {"key": "housekeeping", "label": "Housekeeping (1-5)", "required": True, "type": "number", "min": 3},
    {"key": "remarks", "label": "Remarks", "required": False, "type": "text"},
]


@dataclass
class Org:
    site_id: int
    site_code: str
    dept: dict[str, int]  # PROD, MNT, FAC
    area: dict[str, int]  # A, B, C (risk class)
    person: dict[str, int]  # sup_PROD, sup_MNT, sup_FAC, worker1, worker2, worker3
    route: dict[str, int]  # per risk class
    n: int  # the number in the org's e-mail addresses


def make_org(engine: sa.Engine, *, calendar: dict | None = None, settings: dict | None = None,
             timezone: str = "Asia/Shanghai", routes: bool = True) -> Org:
    """Create a fresh site (unique codes) and return its ids."""
    n = next(_counter)
    tag = f"T{n}-{dt.datetime.now().strftime('%H%M%S%f')}"
    with Session(engine) as s, s.begin():
        ent = s.scalar(sa.select(m.Enterprise).limit(1))
        if ent is None:
            ent = m.Enterprise(name="Test Group")
            s.add(ent)
            s.flush()
        reg = m.Region(enterprise_id=ent.id, code=f"R-{tag}", name="Region")
        s.add(reg)
        s.flush()
        st = dict(settings or {})
        if calendar is not None:
            st["calendar"] = calendar
        site = m.Site(region_id=reg.id, code=f"S-{tag}", name=f"Plant {tag}", industry="machining",
                      timezone=timezone, settings=st)
        s.add(site)
        s.flush()
        dept, person = {}, {}
        for code in ("PROD", "MNT", "FAC"):
            d = m.Department(site_id=site.id, code=code, name={"PROD": "Production", "MNT": "Maintenance",
                                                               "FAC": "Facilities"}[code])
            s.add(d)
            s.flush()
            dept[code] = d.id
            sup_post = m.Post(department_id=d.id, code="SUP", name="Supervisor")
            op_post = m.Post(department_id=d.id, code="OP", name="Operator")
            s.add_all([sup_post, op_post])
            s.flush()
            # An operator first, so "the supervisor" is found by post, not by id order.
            op = m.Person(employee_no=f"{tag}-{code}-op", name=f"{code} operator", site_id=site.id, department_id=d.id,
                          post_id=op_post.id, email=f"op.{code.lower()}.{n}@plant.example")
            sup = m.Person(employee_no=f"{tag}-{code}-sup", name=f"{code} supervisor", site_id=site.id,
                           department_id=d.id, post_id=sup_post.id, email=f"sup.{code.lower()}.{n}@plant.example")
            s.add_all([op, sup])
            s.flush()
            person[f"sup_{code}"] = sup.id
            person[f"op_{code}"] = op.id
        for i in (1, 2, 3):
            w = m.Person(employee_no=f"{tag}-W{i}", name=f"Worker {i} {tag}", site_id=site.id,
                         department_id=dept["PROD"], email=f"worker{i}.{n}@plant.example")
            s.add(w)
            s.flush()
            person[f"worker{i}"] = w.id
        area, route = {}, {}
        for rc in ("A", "B", "C"):
            a = m.Area(site_id=site.id, department_id=dept["PROD"], code=f"AREA-{rc}", name=f"Area {rc}",
                       kind="machining", risk_class=rc, owner_person_id=person["sup_PROD"])
            s.add(a)
            s.flush()
            area[rc] = a.id
            if routes:
                r = m.InspectionRoute(site_id=site.id, area_id=a.id, name=f"Area {rc} round", frequency_days=None,
                                      checklist=CHECKLIST, active=True)
                s.add(r)
                s.flush()
                route[rc] = r.id
        return Org(site.id, site.code, dept, area, person, route, n)


def add_policy(engine: sa.Engine, *, severity: str, hours: float, site_id: int | None = None,
               category: str | None = None, use_calendar: bool = False) -> int:
    with Session(engine) as s, s.begin():
        p = m.SlaPolicy(site_id=site_id, category=category, severity=severity, response_hours=hours,
                        use_calendar=use_calendar)
        s.add(p)
        s.flush()
        return p.id
