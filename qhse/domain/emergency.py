"""Emergency plan assembly: what the commander sees when an emergency is declared.

From the area, its site's plan template for the emergency type (the site's own version, or
the group's), the hazardous materials stored there, the nearest stocked resources of the
kinds the type needs, everyone recorded inside and the contacts, :func:`assemble_plan` builds
the plan (a JSON-ready dict) and :func:`plan_text` its plain-text form.  Closing with a
review turns its lessons and new steps into the next version of the site's template
(:func:`revised_template`).  The service reads the inputs and stores the results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from qhse.vocab import EmergencyKind, values

EMERGENCY_KINDS = values(EmergencyKind)
RESOURCES_PER_KIND = 3
KIND_LABELS = {"fire": "Fire", "gas_leak": "Gas leak", "chemical_spill": "Chemical spill", "injury": "Injury"}
DEFAULT_NOTIFY_ROLES = ("area_owner", "plant_manager")
# Template notify roles -> routing roles of the notification service.
NOTIFY_ROUTES = {"area_owner": "area_manager", "plant_manager": "plant_manager", "group": "group"}


class EmergencyError(ValueError):
    """A request the rules refuse, or bad input; the message says why in one line."""


def aware(at: dt.datetime | None) -> dt.datetime:
    """``at`` (now when None); a time without a time zone is refused."""
    if at is None:
        return dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise EmergencyError("times must carry a time zone")
    return at


def check_kind(kind: str) -> None:
    if kind not in EMERGENCY_KINDS:
        raise EmergencyError(f"emergency type must be one of {', '.join(EMERGENCY_KINDS)}, got {kind!r}")


def resource_kinds(template: Mapping[str, Any] | None) -> list[str]:
    """The resource kinds the plan looks for (the template's)."""
    return list(template["resource_kinds"]) if template else []


def notify_roles(template: Mapping[str, Any] | None) -> set[str]:
    """Who the plan notifies: the template's roles, or the area owner and the plant manager."""
    return set(template["notify_roles"]) if template else set(DEFAULT_NOTIFY_ROLES)


def contractor_supervisors(people: Sequence[Mapping[str, Any]]) -> list[int]:
    """The supervisors of the contractors inside (they are told too, when the template says so)."""
    return [p["supervisor_person_id"] for p in people if p["kind"] == "contractor" and p["supervisor_person_id"]]


def jsonable(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if hasattr(v, "__float__") and not isinstance(v, (int, float, bool)):
        return float(v)
    return v


def assemble_plan(kind: str, at: dt.datetime, area: Mapping[str, Any], template: Mapping[str, Any] | None,
                  materials: Sequence[Mapping[str, Any]], resources: Sequence[Mapping[str, Any]],
                  people: Sequence[Mapping[str, Any]], contacts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The response plan for an emergency of ``kind`` in ``area`` at ``at`` (JSON-ready).

    ``contacts``: everyone who could be told; the plan keeps those of the template's roles."""
    check_kind(kind)
    tpl = template
    kinds = resource_kinds(tpl)
    roles = notify_roles(tpl)
    contacts = [c for c in contacts if c["role"] in roles]
    found = {r["kind"] for r in resources}
    plan = {
        "emergency_type": kind,
        "title": f"{KIND_LABELS[kind]} in {area['name']} ({area['site_code']})",
        "generated_at": at,
        "site": {"id": area["site_id"], "code": area["site_code"], "name": area["site_name"]},
        "area": {k: area[k] for k in ("id", "code", "name", "kind", "risk_class", "is_gas_area", "x_m", "y_m")},
        "evacuation_route": area["evacuation_route"] or "not recorded for this area",
        "assembly_point": area["assembly_point"] or "not recorded for this area",
        "materials": list(materials),
        "resources": list(resources),
        "missing_resources": [k for k in kinds if k not in found],
        "people": [{k: p[k] for k in ("person_id", "employee_no", "name", "kind", "phone", "company", "job_id",
                                      "entered_at", "access_record_id")} for p in people],
        "people_count": {"employees": sum(p["kind"] == "employee" for p in people),
                         "contractors": sum(p["kind"] == "contractor" for p in people)},
        "steps": list(tpl["steps"]) if tpl else [],
        "lessons": [x["lesson"] if isinstance(x, dict) else str(x) for x in (tpl["lessons"] if tpl else [])],
        "notify": [{k: c[k] for k in ("role", "person_id", "name", "phone", "email", "username")} for c in contacts],
        "external_contacts": list(tpl["external_contacts"]) if tpl else [],
        "template": ({"id": tpl["id"], "version": tpl["version"], "site_specific": tpl["site_id"] is not None,
                      "title": tpl["title"]} if tpl else None),
    }
    out: dict[str, Any] = jsonable(plan)
    return out


def plan_text(plan: dict[str, Any]) -> str:
    """The plan as plain text (notification bodies, the CLI)."""
    out = [plan["title"], f"Generated {plan['generated_at']}", "",
           f"EVACUATION: {plan['evacuation_route']}", f"ASSEMBLY POINT: {plan['assembly_point']}", ""]
    pc = plan["people_count"]
    out.append(f"PEOPLE INSIDE NOW: {pc['employees'] + pc['contractors']} "
               f"({pc['employees']} employees, {pc['contractors']} contractors)")
    for p in plan["people"]:
        who = f"{p['company']} contractor" if p["kind"] == "contractor" else "employee"
        out.append(f"  - {p['name']} ({p['employee_no']}, {who}), phone {p['phone'] or '-'}, "
                   f"in since {p['entered_at']}")
    out.append("")
    out.append(f"HAZARDOUS MATERIALS STORED HERE: {len(plan['materials'])}")
    for x in plan["materials"]:
        out.append(f"  - {x['name']} ({x['hazard_class']}{', CAS ' + x['cas_no'] if x['cas_no'] else ''}): "
                   f"{x['quantity']:g} {x['unit']}")
    out.append("")
    out.append("NEAREST RESOURCES:")
    for r in plan["resources"]:
        dist = f"{r['distance_m']:g} m" if r["distance_m"] is not None else "distance unknown"
        out.append(f"  - {r['kind']} x{r['quantity']} at {r['location'] or r['area_name']} ({dist})")
    if plan["missing_resources"]:
        out.append(f"  ! none stocked on site: {', '.join(plan['missing_resources'])}")
    out.append("")
    out.append("RESPONSE STEPS:")
    out += [f"  {i}. {s}" for i, s in enumerate(plan["steps"], 1)]
    if plan["lessons"]:
        out.append("LESSONS FROM PAST EMERGENCIES:")
        out += [f"  * {x}" for x in plan["lessons"]]
    out.append("")
    out.append("NOTIFY:")
    out += [f"  - {c['role']}: {c['name']} {c['phone'] or ''} {c['email'] or ''}".rstrip() for c in plan["notify"]]
    out += [f"  - call {c['name']}: {c['contact']}" for c in plan["external_contacts"]]
    return "\n".join(out)


def plan_summary(plan: Mapping[str, Any], plan_ms: float) -> str:
    """The timeline line of the generated plan."""
    pc = plan["people_count"]
    return (f"Plan generated in {plan_ms:.0f} ms: {pc['employees'] + pc['contractors']} people inside, "
            f"{len(plan['materials'])} hazardous materials, {len(plan['resources'])} nearest resources")


def clean_lines(lines: Sequence[str]) -> list[str]:
    """Lessons or steps as entered, stripped, blanks dropped."""
    return [x.strip() for x in lines if x and x.strip()]


def revised_template(kind: str, base: Mapping[str, Any] | None, version: int, lessons: Sequence[str],
                     new_steps: Sequence[str], emergency_id: int, at: dt.datetime) -> dict[str, Any]:
    """The next version of the site's plan template: the base's steps plus the review's new steps,
    the base's lessons plus the review's (each naming the emergency it came from)."""
    base = base or {}
    return dict(
        kind=kind, version=version,
        title=base.get("title") or f"{KIND_LABELS[kind]} response",
        steps=list(base.get("steps") or []) + list(new_steps),
        resource_kinds=list(base.get("resource_kinds") or []),
        notify_roles=list(base.get("notify_roles") or DEFAULT_NOTIFY_ROLES),
        external_contacts=list(base.get("external_contacts") or []),
        lessons=list(base.get("lessons") or [])
        + [{"lesson": x, "emergency_id": emergency_id, "at": at.isoformat()} for x in lessons])
