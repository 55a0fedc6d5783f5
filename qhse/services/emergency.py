"""Emergency response: declare, generate the plan, notify, keep the timeline, close with a review.

Declaring an emergency (area + type) builds the response plan from live data in a few
indexed queries: the hazardous materials stored in the area, the nearest stocked
resources of the kinds the type needs (distance on the site plan), everyone recorded
inside the area now (employees and contractors, from open access records), the
evacuation route and assembly point, the type's response steps and the lessons of past
reviews, and who to notify.  The plan is stored with the emergency (what the commander
saw), the notifications are queued in the same transaction, and the timeline records
each step.  Closing requires a review; its lessons and new steps become a new version
of the site's plan template, so the next plan carries them.

Every write names its actor as a :class:`~qhse.domain.access.Scope`: a platform user holding
``manage_emergency`` on the emergency's site, or a ``system:`` actor (see
:mod:`qhse.services.actors`); free text is refused.  Each write appends an ``audit_log`` row with
the user id in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from db.queries import audit
from db.queries import emergency as q
from qhse.domain.access import Scope
from qhse.domain.emergency import (
    KIND_LABELS,
    NOTIFY_ROUTES,
    RESOURCES_PER_KIND,
    EmergencyError,
    assemble_plan,
    aware,
    check_kind,
    clean_lines,
    contractor_supervisors,
    notify_roles,
    plan_summary,
    plan_text,
    resource_kinds,
    revised_template,
)

UTC = dt.UTC


def _who(actor: object) -> Scope:
    """The actor as a Scope (platform user or ``system:`` actor); free text is refused."""
    from qhse.services import actors

    try:
        return actors.require(actor)
    except actors.ActorError as exc:
        raise EmergencyError(str(exc)) from None


def _require(actor: Scope, site_id: int) -> None:
    """A platform user must manage emergencies at this site; system actors act everywhere."""
    from qhse.domain import access
    from qhse.services import actors

    if actors.is_system(actor):
        return
    try:
        access.require(actor, access.MANAGE_EMERGENCY, site_id)
    except access.AccessDenied as exc:
        raise EmergencyError(str(exc)) from None


def _audit(s: Session, actor: Scope, action: str, e: m.Emergency, **detail: Any) -> None:
    audit.record(s.connection(), actor, action, entity="emergency", entity_id=e.id,
                 detail={"site_id": e.site_id, **{k: v for k, v in detail.items() if v is not None}})


@dataclass
class Declared:
    emergency_id: int
    plan: dict[str, Any]
    plan_ms: float
    notifications: int


def _now(at: dt.datetime | None) -> dt.datetime:
    return aware(at)


def build_plan(conn: sa.Connection, area_id: int, kind: str, at: dt.datetime) -> dict[str, Any]:
    """The response plan for an emergency of ``kind`` in ``area_id`` at ``at`` (read only)."""
    check_kind(kind)
    area = q.area_context(conn, area_id)
    if area is None:
        raise EmergencyError(f"no area #{area_id}")
    tpl = q.effective_template(conn, kind, area["site_id"])
    materials = q.materials_in_area(conn, area_id)
    resources = q.nearest_resources(conn, area["site_id"], area["x_m"], area["y_m"], resource_kinds(tpl),
                                    RESOURCES_PER_KIND)
    people = q.people_in_area(conn, area_id, at)
    contacts = q.notify_contacts(conn, area["site_id"], area["owner_person_id"], contractor_supervisors(people))
    return assemble_plan(kind, at, area, tpl, materials, resources, people, contacts)


def _notify(s: Session, emergency: m.Emergency, plan: dict[str, Any], at: dt.datetime) -> list[str]:
    """Queue the notifications; returns a line per target for the timeline."""
    from qhse.services import notify

    site = cast(m.Site, s.get(m.Site, emergency.site_id))  # a foreign key: it exists
    tpl = s.get(m.PlanTemplate, plan["template"]["id"]) if plan.get("template") else None
    roles = notify_roles({"notify_roles": tpl.notify_roles} if tpl is not None else None)
    subject = f"EMERGENCY #{emergency.id}: {plan['title']}"
    body = plan_text(plan)
    ref = f"emergency:{emergency.id}"
    sent: list[str] = []
    for role in sorted(roles):
        route = NOTIFY_ROUTES.get(role)
        if route:
            n = notify.notify_role(s, site_id=site.id, role=route, area_id=emergency.area_id, subject=subject,
                                   body=body, ref=ref, now=at)
            sent.append(f"{role}: {n} message(s)")
    direct = [c for c in plan["notify"] if c["role"] in ("security", "contractor_supervisor") and c["role"] in roles]
    for c in direct:
        if c["email"]:
            notify.enqueue(s, "email", c["email"], subject, body, ref=ref, now=at)
            sent.append(f"{c['role']}: {c['name']} <{c['email']}>")
    if "security" in roles and not any(c["role"] == "security" and c["email"] for c in direct):
        notify.enqueue(s, "mqtt", f"qhse/{site.code}/notifications/security", subject, body, ref=ref, now=at)
        sent.append(f"security: MQTT qhse/{site.code}/notifications/security")
    # Site-wide broadcast (displays, sirens, the security desk).
    notify.enqueue(s, "mqtt", f"qhse/{site.code}/emergency", subject, body, ref=ref, now=at)
    sent.append(f"broadcast: MQTT qhse/{site.code}/emergency")
    s.flush()
    return sent


def declare(engine: sa.Engine, *, area_id: int, kind: str, actor: Scope | str, description: str | None = None,
            at: dt.datetime | None = None) -> Declared:
    """Declare an emergency: generate and store the plan, notify, start the timeline."""
    at = _now(at)
    who = _who(actor)
    with Session(engine) as s, s.begin():
        conn = s.connection()
        t0 = time.perf_counter()
        plan = build_plan(conn, area_id, kind, at)
        plan_ms = (time.perf_counter() - t0) * 1000.0
        _require(who, plan["site"]["id"])
        dup = q.active_emergency(conn, area_id, kind)
        if dup is not None:
            raise EmergencyError(f"emergency #{dup['id']} ({kind}) is already active in this area since "
                                 f"{dup['declared_at']:%Y-%m-%d %H:%M}; log to it instead")
        e = m.Emergency(site_id=plan["site"]["id"], area_id=area_id, kind=kind, status="active",
                        description=description, declared_at=at, declared_by=who.username[:120],
                        template_id=(plan["template"] or {}).get("id"), plan=plan, plan_ms=round(plan_ms, 2))
        s.add(e)
        s.flush()
        s.add(m.EmergencyEvent(emergency_id=e.id, at=at, kind="declared", actor=e.declared_by,
                               detail=f"{KIND_LABELS[kind]} declared in {plan['area']['name']}"
                                      + (f": {description}" if description else "")))
        s.add(m.EmergencyEvent(
            emergency_id=e.id, at=at, kind="plan", actor="system", detail=plan_summary(plan, plan_ms),
            data={"template": plan["template"], "plan_ms": round(plan_ms, 2)}))
        sent = _notify(s, e, plan, at)
        s.add(m.EmergencyEvent(emergency_id=e.id, at=at, kind="notified", actor="system",
                               detail="Notified " + "; ".join(sent), data={"targets": sent}))
        n = cast(int, s.scalar(sa.select(sa.func.count()).select_from(m.Notification)  # count(*): always a row
                               .where(m.Notification.ref == f"emergency:{e.id}")))
        _audit(s, who, "declare_emergency", e, area_id=area_id, kind=kind, description=description,
               notifications=n)
        return Declared(e.id, plan, plan_ms, n)


def _active(s: Session, emergency_id: int, actor: Scope) -> m.Emergency:
    e = s.get(m.Emergency, emergency_id, with_for_update=True)
    if e is None or not actor.allows_site(e.site_id):
        raise EmergencyError(f"no emergency #{emergency_id}")  # the same answer for another site's
    _require(actor, e.site_id)
    if e.status != "active":
        raise EmergencyError(f"emergency #{e.id} is {e.status}")
    return e


def log_action(engine: sa.Engine, emergency_id: int, *, actor: Scope | str, text: str,
               at: dt.datetime | None = None, kind: str = "action") -> int:
    """Add an action (or a note) to the timeline."""
    at = _now(at)
    who = _who(actor)
    if kind not in ("action", "note"):
        raise EmergencyError("a timeline entry is an action or a note")
    if not text or not text.strip():
        raise EmergencyError("the timeline entry needs a text")
    with Session(engine) as s, s.begin():
        e = _active(s, emergency_id, who)
        if at < e.declared_at:
            raise EmergencyError("the entry is dated before the emergency was declared")
        ev = m.EmergencyEvent(emergency_id=e.id, at=at, kind=kind, actor=who.username[:120], detail=text.strip())
        s.add(ev)
        s.flush()
        _audit(s, who, f"emergency_{kind}", e, event_id=ev.id, text=text.strip()[:500])
        return ev.id


def use_resource(engine: sa.Engine, emergency_id: int, *, resource_id: int, quantity: int, actor: Scope | str,
                 at: dt.datetime | None = None, note: str | None = None) -> int:
    """Record resources used (the register's stock goes down by ``quantity``)."""
    at = _now(at)
    who = _who(actor)
    if quantity < 1:
        raise EmergencyError("quantity used must be at least 1")
    with Session(engine) as s, s.begin():
        e = _active(s, emergency_id, who)
        r = s.get(m.EmergencyResource, resource_id, with_for_update=True)
        if r is None:
            raise EmergencyError(f"no emergency resource #{resource_id}")
        if r.site_id != e.site_id:
            raise EmergencyError(f"resource #{r.id} belongs to another site")
        if quantity > r.quantity:
            raise EmergencyError(f"only {r.quantity} {r.kind} in stock at resource #{r.id}, cannot use {quantity}")
        r.quantity -= quantity
        ev = m.EmergencyEvent(emergency_id=e.id, at=at, kind="resource_used", actor=who.username[:120],
                              resource_id=r.id,
                              quantity=quantity,
                              detail=f"Used {quantity} x {r.kind} from {r.location or 'resource #' + str(r.id)}"
                                     + (f": {note}" if note else ""),
                              data={"remaining": r.quantity})
        s.add(ev)
        s.flush()
        _audit(s, who, "emergency_resource_used", e, event_id=ev.id, resource_id=r.id, quantity=quantity,
               remaining=r.quantity, note=note)
        return ev.id


def close(engine: sa.Engine, emergency_id: int, *, actor: Scope | str, summary: str, lessons: Sequence[str] = (),
          new_steps: Sequence[str] = (), at: dt.datetime | None = None) -> int | None:
    """Close with a review; lessons and new steps become a new version of the site's template.

    Returns the id of the new template version (None when the review brought nothing new).
    """
    at = _now(at)
    who = _who(actor)
    closed_by = who.username[:120]
    if not summary or not summary.strip():
        raise EmergencyError("closing an emergency needs a review summary")
    lessons = clean_lines(lessons)
    new_steps = clean_lines(new_steps)
    with Session(engine) as s, s.begin():
        e = _active(s, emergency_id, who)
        if at < e.declared_at:
            raise EmergencyError("the emergency cannot close before it was declared")
        new_tpl_id = None
        if lessons or new_steps:
            base = q.effective_template(s.connection(), e.kind, e.site_id)
            site_versions = s.scalar(sa.select(sa.func.max(m.PlanTemplate.version)).where(
                m.PlanTemplate.kind == e.kind, m.PlanTemplate.site_id == e.site_id)) or 0
            s.execute(sa.update(m.PlanTemplate)
                      .where(m.PlanTemplate.kind == e.kind, m.PlanTemplate.site_id == e.site_id)
                      .values(active=False))
            tpl = m.PlanTemplate(
                site_id=e.site_id, active=True, created_by=closed_by,
                **revised_template(e.kind, base, site_versions + 1, lessons, new_steps, e.id, at))
            s.add(tpl)
            s.flush()
            new_tpl_id = tpl.id
        s.add(m.EmergencyReview(emergency_id=e.id, reviewed_at=at, reviewed_by=closed_by, summary=summary.strip(),
                                lessons=lessons, new_steps=new_steps, template_id=new_tpl_id))
        s.add(m.EmergencyEvent(emergency_id=e.id, at=at, kind="reviewed", actor=closed_by,
                               detail=f"Review: {summary.strip()}"
                                      + (f" ({len(lessons)} lessons, {len(new_steps)} new steps -> template "
                                         f"#{new_tpl_id})" if new_tpl_id else ""),
                               data={"lessons": lessons, "new_steps": new_steps, "template_id": new_tpl_id}))
        s.add(m.EmergencyEvent(emergency_id=e.id, at=at, kind="closed", actor=closed_by, detail="Emergency closed"))
        e.status, e.closed_at, e.closed_by = "closed", at, closed_by
        _audit(s, who, "close_emergency", e, summary=summary.strip()[:500], lessons=len(lessons),
               new_steps=len(new_steps), template_id=new_tpl_id)
        return new_tpl_id
