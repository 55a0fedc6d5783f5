"""A small, fully known plant for the contractor, gating and emergency tests.

Site S1 (Asia/Shanghai) with three areas on the site plan:

* GAS  (0, 0)    gas area (waste water), owner E1, an H2S alarm open since T - 1 h;
* HALL (30, 40)  assembly hall, 50 m from GAS;
* CHEM (100, 0)  chemical store, 100 m from GAS.

People: E1 (owner, supervisor), E2 (valid H2S, confined space and chemical training),
E3 (H2S expired T - 10 days, confined space valid, no chemical training), contractor
workers W1 (induction 92 %, welder certificate) and W2 (no induction yet) of company C1
(approved, licences valid).  ``T`` is the reference time of the tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m

UTC = dt.UTC
T = dt.datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass
class World:
    url: str
    engine: sa.Engine
    site: int
    gas: int
    hall: int
    chem: int
    e1: int
    e2: int
    e3: int
    w1: int
    w2: int
    company: int
    alarm: int
    sensor: int
    courses: dict[str, int]
    resources: dict[str, int]
    materials: list[str]


def build_world(url: str) -> World:
    eng = sa.create_engine(url)
    d = T.date()
    with Session(eng) as s, s.begin():
        ent = m.Enterprise(name="Test Group")
        s.add(ent)
        s.flush()
        reg = m.Region(enterprise_id=ent.id, code="R1", name="Region 1")
        s.add(reg)
        s.flush()
        site = m.Site(region_id=reg.id, code="S1", name="Test Plant", industry="machining", timezone="Asia/Shanghai",
                      settings={})
        s.add(site)
        s.flush()
        sid = site.id
        dep = m.Department(site_id=sid, code="OPS", name="Operations", stage="general")
        s.add(dep)
        s.flush()
        people = [
            m.Person(employee_no="E1", name="Owner One", kind="employee", site_id=sid, department_id=dep.id,
                     email="owner1@plant.example", phone="+86 1"),
            m.Person(employee_no="E2", name="Valid Two", kind="employee", site_id=sid, department_id=dep.id,
                     email="two@plant.example"),
            m.Person(employee_no="E3", name="Expired Three", kind="employee", site_id=sid, department_id=dep.id),
        ]
        s.add_all(people)
        s.flush()
        p1, p2, p3 = (p.id for p in people)
        areas = [
            m.Area(site_id=sid, department_id=dep.id, code="GAS", name="Gas Treatment", kind="waste", risk_class="A",
                   is_gas_area=True, owner_person_id=p1, evacuation_route="Corridor A to the north gate",
                   assembly_point="Assembly point 1 (north car park)", x_m=0.0, y_m=0.0),
            m.Area(site_id=sid, department_id=dep.id, code="HALL", name="Assembly Hall", kind="assembly",
                   risk_class="C", is_gas_area=False, owner_person_id=p1, evacuation_route="Main doors",
                   assembly_point="Assembly point 2", x_m=30.0, y_m=40.0),
            m.Area(site_id=sid, department_id=dep.id, code="CHEM", name="Chemical Store", kind="chemical_store",
                   risk_class="A", is_gas_area=True, owner_person_id=p1, evacuation_route="East door",
                   assembly_point="Assembly point 3", x_m=100.0, y_m=0.0),
        ]
        s.add_all(areas)
        s.flush()
        a_gas, a_hall, a_chem = (a.id for a in areas)
        courses = {c.code: c for c in (m.TrainingCourse(code="H2S", name="H2S awareness", validity_months=12),
                                       m.TrainingCourse(code="CONFINED", name="Confined space", validity_months=24),
                                       m.TrainingCourse(code="CHEM", name="Chemical handling", validity_months=24))}
        s.add_all(courses.values())
        s.flush()

        def train(pid, code, completed, expires):
            s.add(m.TrainingRecord(person_id=pid, course_id=courses[code].id, completed_on=completed,
                                   expires_on=expires, score=90.0, passed=True))

        train(p2, "H2S", d - dt.timedelta(days=300), d + dt.timedelta(days=10))  # valid, due soon
        train(p2, "CONFINED", d - dt.timedelta(days=100), d + dt.timedelta(days=600))
        train(p2, "CHEM", d - dt.timedelta(days=100), d + dt.timedelta(days=600))
        train(p3, "H2S", d - dt.timedelta(days=400), d - dt.timedelta(days=10))  # expired
        train(p3, "CONFINED", d - dt.timedelta(days=100), d + dt.timedelta(days=600))
        train(p1, "H2S", d - dt.timedelta(days=30), d + dt.timedelta(days=330))
        train(p1, "CONFINED", d - dt.timedelta(days=30), d + dt.timedelta(days=700))
        train(p1, "CHEM", d - dt.timedelta(days=30), d + dt.timedelta(days=700))

        c = m.ContractorCompany(name="Acme Welding", licence_no="LIC-1", licence_expires_on=d + dt.timedelta(days=365),
                                status="approved", approved_safety_by="hse.manager", approved_safety_at=T,
                                approved_legal_by="legal.officer", approved_legal_at=T)
        s.add(c)
        s.flush()
        s.add(m.Qualification(company_id=c.id, kind="safety_licence", number="SL-1",
                              expires_on=d + dt.timedelta(days=365)))
        w1 = m.Person(employee_no="W1", name="Worker One", kind="contractor", site_id=sid, contractor_company_id=c.id,
                      induction_score=92.0, induction_passed_at=T - dt.timedelta(days=5))
        w2 = m.Person(employee_no="W2", name="Worker Two", kind="contractor", site_id=sid, contractor_company_id=c.id)
        s.add_all([w1, w2])
        s.flush()
        s.add(m.Qualification(person_id=w1.id, kind="welder", number="W-1", expires_on=d + dt.timedelta(days=200)))
        # W1 holds valid H2S and confined-space training (contractors are gated like everyone else).
        train(w1.id, "H2S", d - dt.timedelta(days=30), d + dt.timedelta(days=330))
        train(w1.id, "CONFINED", d - dt.timedelta(days=30), d + dt.timedelta(days=700))

        sensor = m.Sensor(site_id=sid, area_id=a_gas, code="S1-GAS-h2s", kind="h2s", unit="ppm", alarm_high=10.0)
        s.add(sensor)
        s.flush()
        rule = m.AlarmRule(name="H2S high", sensor_kind="h2s", kind="threshold", op=">", threshold=10.0,
                           clear_threshold=5.0, severity="critical")
        s.add(rule)
        s.flush()
        alarm = m.Alarm(rule_id=rule.id, sensor_id=sensor.id, site_id=sid, area_id=a_gas, severity="critical",
                        status="open", raised_at=T - dt.timedelta(hours=1), updated_at=T - dt.timedelta(hours=1),
                        first_value=14.0, last_value=14.0, peak_value=14.0)
        s.add(alarm)
        res = {
            "gas_detector@GAS": m.EmergencyResource(site_id=sid, area_id=a_gas, kind="gas_detector", quantity=2,
                                                    location="GAS north wall"),
            "gas_detector@CHEM": m.EmergencyResource(site_id=sid, area_id=a_chem, kind="gas_detector", quantity=1,
                                                     location="CHEM door"),
            "breathing_apparatus@HALL": m.EmergencyResource(site_id=sid, area_id=a_hall, kind="breathing_apparatus",
                                                            quantity=1, location="HALL cabinet"),
            "breathing_apparatus@CHEM": m.EmergencyResource(site_id=sid, area_id=a_chem, kind="breathing_apparatus",
                                                            quantity=2, location="CHEM cabinet"),
            "extinguisher@HALL": m.EmergencyResource(site_id=sid, area_id=a_hall, kind="extinguisher", quantity=4,
                                                     location="HALL pillars"),
            "first_aid@HALL": m.EmergencyResource(site_id=sid, area_id=a_hall, kind="first_aid", quantity=1,
                                                  location="HALL office"),
        }
        s.add_all(res.values())
        mats = [m.HazardousMaterial(site_id=sid, area_id=a_gas, name="Sodium hypochlorite 10 %", cas_no="7681-52-9",
                                    hazard_class="corrosive", quantity=800.0, unit="L", max_quantity=1000.0),
                m.HazardousMaterial(site_id=sid, area_id=a_gas, name="Sulphuric acid 30 %", cas_no="7664-93-9",
                                    hazard_class="corrosive", quantity=300.0, unit="L", max_quantity=500.0),
                m.HazardousMaterial(site_id=sid, area_id=a_chem, name="Acetone", cas_no="67-64-1",
                                    hazard_class="flammable liquid", quantity=50.0, unit="L", max_quantity=200.0)]
        s.add_all(mats)
        s.flush()
        w = World(url=url, engine=eng, site=sid, gas=a_gas, hall=a_hall, chem=a_chem, e1=p1, e2=p2, e3=p3, w1=w1.id,
                  w2=w2.id, company=c.id, alarm=alarm.id, sensor=sensor.id,
                  courses={k: v.id for k, v in courses.items()}, resources={k: v.id for k, v in res.items()},
                  materials=[x.name for x in mats if x.area_id == a_gas])
    return w
