"""Emergency plan assembly without a database: the plan from its inputs, its text, the revised template."""

from __future__ import annotations

import datetime as dt

import pytest

from qhse.domain.emergency import (
    EmergencyError,
    assemble_plan,
    clean_lines,
    contractor_supervisors,
    plan_text,
    revised_template,
)

T = dt.datetime(2026, 10, 15, 8, 0, tzinfo=dt.UTC)
AREA = {"id": 7, "code": "GAS", "name": "Gas room", "kind": "process", "risk_class": "A", "is_gas_area": True,
        "x_m": 10.0, "y_m": 5.0, "site_id": 1, "site_code": "S1", "site_name": "Plant One",
        "evacuation_route": "Door B to the yard", "assembly_point": None, "owner_person_id": 3}
TPL = {"id": 4, "version": 2, "site_id": 1, "title": "Gas leak response", "resource_kinds": ["breathing_apparatus",
       "gas_detector"], "notify_roles": ["area_owner", "security"], "steps": ["Evacuate", "Isolate the supply"],
       "lessons": [{"lesson": "Check the wind sock"}, "Old lesson"],
       "external_contacts": [{"name": "Fire", "contact": "119"}]}
PEOPLE = [
    {"person_id": 1, "employee_no": "E-1", "name": "Li", "kind": "employee", "phone": "1", "company": None,
     "job_id": None, "entered_at": T, "access_record_id": 10, "supervisor_person_id": None},
    {"person_id": 2, "employee_no": "C-1", "name": "Wu", "kind": "contractor", "phone": None, "company": "Weld Co",
     "job_id": 5, "entered_at": T, "access_record_id": 11, "supervisor_person_id": 9},
]
CONTACTS = [{"role": r, "person_id": i, "name": n, "phone": None, "email": f"{n}@x", "username": None}
            for i, (r, n) in enumerate([("area_owner", "owner"), ("plant_manager", "pm"), ("security", "desk")])]
RESOURCES = [{"kind": "breathing_apparatus", "quantity": 2, "location": "Store", "area_name": "Store",
              "distance_m": 12.5}]


def test_plan_from_its_inputs():
    plan = assemble_plan("gas_leak", T, AREA, TPL, [], RESOURCES, PEOPLE, CONTACTS)
    assert plan["title"] == "Gas leak in Gas room (S1)"
    assert plan["generated_at"] == T.isoformat() and plan["people"][0]["entered_at"] == T.isoformat()
    assert plan["people_count"] == {"employees": 1, "contractors": 1}
    assert plan["missing_resources"] == ["gas_detector"]
    assert [c["role"] for c in plan["notify"]] == ["area_owner", "security"]  # the template's roles only
    assert plan["lessons"] == ["Check the wind sock", "Old lesson"]
    assert plan["assembly_point"] == "not recorded for this area"
    assert plan["template"] == {"id": 4, "version": 2, "site_specific": True, "title": "Gas leak response"}
    assert contractor_supervisors(PEOPLE) == [9]
    text = plan_text(plan)
    assert "PEOPLE INSIDE NOW: 2 (1 employees, 1 contractors)" in text
    assert "  ! none stocked on site: gas_detector" in text and "  2. Isolate the supply" in text
    assert "  - call Fire: 119" in text


def test_without_a_template_and_unknown_kind():
    plan = assemble_plan("fire", T, AREA, None, [], [], [], CONTACTS)
    assert plan["steps"] == [] and plan["template"] is None
    assert [c["role"] for c in plan["notify"]] == ["area_owner", "plant_manager"]
    with pytest.raises(EmergencyError, match="emergency type must be one of"):
        assemble_plan("flood", T, AREA, None, [], [], [], [])


def test_review_makes_the_next_template_version():
    lessons, steps = clean_lines([" Wind sock ", "", "  "]), clean_lines(["Call the gas company"])
    t = revised_template("gas_leak", TPL, 3, lessons, steps, emergency_id=12, at=T)
    assert t["version"] == 3 and t["title"] == "Gas leak response"
    assert t["steps"] == ["Evacuate", "Isolate the supply", "Call the gas company"]
    assert t["lessons"][-1] == {"lesson": "Wind sock", "emergency_id": 12, "at": T.isoformat()}
    fresh = revised_template("fire", None, 1, [], ["Sound the alarm"], emergency_id=1, at=T)
    assert fresh["title"] == "Fire response" and fresh["notify_roles"] == ["area_owner", "plant_manager"]
