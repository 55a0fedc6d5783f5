"""The hazard / corrective-action workflow applied: the one place that changes their status.

The rules (which status may follow which, what each step needs) are
:mod:`qhse.domain.workflow`.  Each step here locks the rows it changes, checks the
actor's site, applies the rule, and in the same transaction stores the transition in
``hazard_transition`` (who, when, why), writes ``audit_log`` with the actor's user id and
queues the notifications.  On assignment the owner team(s) come from the dispatch rules
(or are named explicitly), each department gets one corrective action with a due time
from the SLA policy, and the reporter earns their incentive points.  The actor is a
:class:`~qhse.domain.access.Scope` (a platform user, or a ``system:`` actor, see
:mod:`qhse.services.actors`); free text is refused.  Functions take a SQLAlchemy session;
the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from db.queries import audit
from qhse.domain.access import Scope
from qhse.domain.dispatch import DispatchError
from qhse.domain.incentives import points_for
from qhse.domain.sla import SlaError
from qhse.domain.workflow import (
    ACTIVE_ACTION,
    NotFound,
    WorkflowError,
    check_action_transition,
    check_reason,
    check_rectifiable,
    check_report,
    check_time,
    check_transition,
    join_notes,
)
from qhse.services import actors, notify, recurrence
from qhse.services import dispatch as dispatch_mod
from qhse.services.sla import resolve_policy

UTC = dt.UTC


def _now(at: dt.datetime | None) -> dt.datetime:
    return check_time(at) or dt.datetime.now(UTC)


def _actor(actor: Scope | str | None) -> Scope:
    try:
        return actors.require(actor)
    except actors.ActorError as exc:
        raise WorkflowError(str(exc)) from None


def _check_site(actor: Scope, h: m.HazardReport) -> None:
    if not actor.allows_site(h.site_id):
        raise NotFound(f"no hazard report #{h.id}")  # the same answer as for a missing one


def _audit(session: Session, actor: Scope, action: str, entity: str, entity_id: int, **detail: Any) -> None:
    audit.record(session.connection(), actor, action, entity=entity, entity_id=entity_id,
                 detail={k: v for k, v in detail.items() if v is not None})


def _record(session: Session, h: m.HazardReport, to: str, actor: Scope, at: dt.datetime, note: str | None) -> None:
    session.add(m.HazardTransition(hazard_id=h.id, from_status=h.status, to_status=to, actor=actor.username[:120],
                                   at=at, note=note))
    _audit(session, actor, f"hazard_{to}", "hazard_report", h.id, from_status=h.status, note=note)
    h.status = to


def _hazard_for_update(session: Session, hazard_id: int) -> m.HazardReport:
    h = session.get(m.HazardReport, hazard_id, with_for_update=True, populate_existing=True)
    if h is None:
        raise NotFound(f"no hazard report #{hazard_id}")
    return h


def _actions(session: Session, hazard_id: int, statuses: Iterable[str] | None = None) -> list[m.CorrectiveAction]:
    A = m.CorrectiveAction
    q = sa.select(A).where(A.hazard_id == hazard_id).order_by(A.id).with_for_update()
    if statuses is not None:
        q = q.where(A.status.in_(list(statuses)))
    return list(session.scalars(q))


def _dept_names(session: Session, ids: Iterable[int]) -> dict[int | None, str]:
    ids = list(ids)
    if not ids:
        return {}
    return dict(session.execute(sa.select(m.Department.id, m.Department.name).where(m.Department.id.in_(ids))).all())


# ------------------------------------------------------------------------------- report
def report_hazard(session: Session, *, site_id: int, area_id: int, category: str, title: str,
                  severity: str = "normal", description: str | None = None, location: str | None = None,
                  asset_id: int | None = None, likelihood: int = 3, consequence: int = 3, source: str = "worker",
                  reporter_person_id: int | None = None, reporter_user_id: int | None = None,
                  photo_path: str | None = None, inspection_id: int | None = None,
                  reported_at: dt.datetime | None = None, actor: Scope | str | None = None) -> m.HazardReport:
    """Record a new hazard report: response due time, recurrence link, area manager told."""
    at = _now(reported_at)
    actor = _actor(actor)
    if not actor.allows_site(site_id):
        raise NotFound(f"no site #{site_id}")
    title, category = check_report(title=title, category=category, severity=severity, source=source,
                                   likelihood=likelihood, consequence=consequence)
    site = session.get(m.Site, site_id)
    if site is None:
        raise NotFound(f"no site #{site_id}")
    area = session.get(m.Area, area_id)
    if area is None or area.site_id != site_id:
        raise WorkflowError(f"area #{area_id} is not an area of site {site.code}")
    if asset_id is not None:
        asset = session.get(m.Asset, asset_id)
        if asset is None or asset.site_id != site_id:
            raise WorkflowError(f"asset #{asset_id} is not an asset of site {site.code}")
    if reporter_person_id is not None and session.get(m.Person, reporter_person_id) is None:
        raise NotFound(f"no person #{reporter_person_id}")
    try:
        policy = resolve_policy(session, site, category, severity)
    except SlaError as exc:
        raise WorkflowError(str(exc)) from None
    h = m.HazardReport(
        site_id=site_id, area_id=area_id, asset_id=asset_id, category=category, title=title[:300],
        description=description, location=location or area.name, severity=severity, likelihood=likelihood,
        consequence=consequence, status="reported", source=source, reporter_person_id=reporter_person_id,
        reporter_user_id=reporter_user_id, photo_path=photo_path, reported_at=at,
        response_due_at=policy.response_due(at), inspection_id=inspection_id, is_repeat=False, points_awarded=0)
    prev = recurrence.link(session, h, site)
    session.add(h)
    session.flush()
    note = f"repeat of #{prev.id}" if prev is not None else None
    session.add(m.HazardTransition(hazard_id=h.id, from_status=None, to_status="reported",
                                   actor=actor.username[:120], at=at, note=note))
    _audit(session, actor, "report_hazard", "hazard_report", h.id, site_id=site_id, area_id=area_id,
           severity=severity, category=category, source=source, note=note,
           photo=photo_path.rsplit("/", 1)[-1] if photo_path else None)
    notify.notify_role(
        session, site_id=site_id, role="area_manager", hazard=h, now=at,
        subject=f"New {severity} hazard #{h.id} in {area.name}: {h.title}",
        body=(f"Hazard #{h.id} ({category}) reported at {at:%Y-%m-%d %H:%M} UTC in {area.name}.\n"
              f"Response due {h.response_due_at:%Y-%m-%d %H:%M} UTC ({policy.response_hours:g} h, "
              f"{'working' if policy.calendar else 'clock'} hours)."
              + (f"\nRepeat: the same {category} hazard was reported here on {prev.reported_at:%Y-%m-%d} (#{prev.id})."
                 if prev is not None else "")),
        ref=f"hazard:{h.id}:reported")
    session.flush()
    return h


# ---------------------------------------------------------------------------- transitions
def transition(session: Session, hazard_id: int, to_status: str, *, actor: Scope | str,
               at: dt.datetime | None = None,
               reason: str | None = None, note: str | None = None, department_ids: Iterable[int] | None = None,
               due_at: dt.datetime | None = None) -> m.HazardReport:
    """Move a hazard report to ``to_status`` if the rules allow it (see the module doc)."""
    at = _now(at)
    actor = _actor(actor)
    h = _hazard_for_update(session, hazard_id)
    _check_site(actor, h)
    check_transition(h.status, to_status, what=f"hazard #{h.id}")
    reason = (reason or "").strip() or None
    check_reason(h.id, to_status, reason)
    {
        "assigned": _to_assigned,
        "in_progress": _to_in_progress,
        "rectified": _to_rectified,
        "verified": _to_verified,
        "closed": _to_closed,
        "rejected": _to_rejected,
        "reopened": _to_reopened,
    }[to_status](session, h, actor=actor, at=at, reason=reason, note=note, department_ids=department_ids, due_at=due_at)
    session.flush()
    return h


def _to_assigned(session: Session, h: m.HazardReport, *, actor: Scope, at: dt.datetime, reason: str | None,
                 note: str | None, department_ids: Iterable[int] | None, due_at: dt.datetime | None) -> None:
    # A hazard's site_id and area_id are foreign keys: both exist.
    site = cast(m.Site, session.get(m.Site, h.site_id))
    area = cast(m.Area, session.get(m.Area, h.area_id))
    if department_ids is not None:
        ids = tuple(dict.fromkeys(int(d) for d in department_ids))
        if not ids:
            raise WorkflowError(f"hazard #{h.id}: name at least one department")
        found = set(session.scalars(sa.select(m.Department.id).where(m.Department.id.in_(ids),
                                                                     m.Department.site_id == h.site_id)))
        bad = [d for d in ids if d not in found]
        if bad:
            raise WorkflowError(f"hazard #{h.id}: department(s) {bad} are not at site {site.code}")
        rule_note = "departments named by " + actor.username
    else:
        try:
            d = dispatch_mod.dispatch(session, h)
        except DispatchError as exc:
            raise WorkflowError(str(exc)) from None
        ids = d.department_ids
        rule_note = f"dispatch rule #{d.rule_id}" if d.rule_id else "area's own department"
    try:
        policy = resolve_policy(session, site, h.category, h.severity)
    except SlaError as exc:
        raise WorkflowError(str(exc)) from None
    if due_at is not None and due_at <= at:
        raise WorkflowError(f"hazard #{h.id}: the action due time must be after {at:%Y-%m-%d %H:%M}")
    due = due_at or policy.rectify_due(at)
    names = _dept_names(session, ids)
    actions = []
    for dep in ids:
        others = [names.get(o, f"#{o}") for o in ids if o != dep]
        desc = f"Rectify: {h.title}" + (f" (joint action with {', '.join(others)})" if others else "")
        a = m.CorrectiveAction(hazard_id=h.id, department_id=dep,
                               owner_person_id=dispatch_mod.department_lead(session, dep, area),
                               description=desc, status="open", created_at=at, due_at=due, escalation_level=0,
                               currency="CNY")
        session.add(a)
        actions.append(a)
    session.flush()
    if h.responded_at is None:
        h.responded_at = at
    if h.reporter_person_id and h.points_awarded == 0:
        h.points_awarded = points_for(site.settings, h.severity, site.code)
    summary = ", ".join(f"{names.get(a.department_id, a.department_id)} (action #{a.id})" for a in actions)
    _record(session, h, "assigned", actor, at,
            join_notes(note, f"{rule_note}: {summary}; due {due:%Y-%m-%d %H:%M} UTC"))
    for a in actions:
        notify.notify_role(
            session, site_id=h.site_id, role="owner", action=a, hazard=h, now=at,
            subject=f"Corrective action #{a.id} for {names.get(a.department_id, '')}: {h.title}",
            body=(f"Hazard #{h.id} ({h.severity}, {h.category}) in {area.name} is assigned to "
                  f"{names.get(a.department_id, a.department_id)}.\n{a.description}\n"
                  f"Due {due:%Y-%m-%d %H:%M} UTC."
                  + (f"\nThis is a cross-department hazard: {summary}." if len(actions) > 1 else "")),
            ref=f"action:{a.id}:assigned")


def _to_in_progress(session: Session, h: m.HazardReport, *, actor: Scope, at: dt.datetime, reason: str | None,
                    note: str | None, **_: Any) -> None:
    started = 0
    for a in _actions(session, h.id, ("open",)):
        a.status = "in_progress"
        started += 1
    _record(session, h, "in_progress", actor, at, join_notes(note, f"{started} action(s) started" if started else None))


def _to_rectified(session: Session, h: m.HazardReport, *, actor: Scope, at: dt.datetime, reason: str | None,
                  note: str | None, **_: Any) -> None:
    acts = _actions(session, h.id)
    names = _dept_names(session, [a.department_id for a in acts if a.department_id and a.status in ACTIVE_ACTION])
    check_rectifiable(h.id, [(a.id, a.status, names.get(a.department_id, "no department")) for a in acts])
    h.rectified_at = at
    _record(session, h, "rectified", actor, at, note)


def _to_verified(session: Session, h: m.HazardReport, *, actor: Scope, at: dt.datetime, reason: str | None,
                 note: str | None, **_: Any) -> None:
    for a in _actions(session, h.id, ("done",)):
        a.status, a.verified_at, a.verified_by = "verified", at, actor.username[:120]
    h.verified_at = at
    _record(session, h, "verified", actor, at, note)


def _to_closed(session: Session, h: m.HazardReport, *, actor: Scope, at: dt.datetime, reason: str | None,
               note: str | None, **_: Any) -> None:
    h.closed_at = at
    _record(session, h, "closed", actor, at, note)


def _to_rejected(session: Session, h: m.HazardReport, *, actor: Scope, at: dt.datetime, reason: str | None,
                 note: str | None, **_: Any) -> None:
    for a in _actions(session, h.id, ACTIVE_ACTION):
        a.status = "cancelled"
    h.reject_reason = reason
    h.points_awarded = 0
    _record(session, h, "rejected", actor, at, join_notes(reason, note))


def _to_reopened(session: Session, h: m.HazardReport, *, actor: Scope, at: dt.datetime, reason: str | None,
                 note: str | None, **_: Any) -> None:
    site = cast(m.Site, session.get(m.Site, h.site_id))  # a foreign key: the site exists
    try:
        policy = resolve_policy(session, site, h.category, h.severity)
    except SlaError as exc:
        raise WorkflowError(str(exc)) from None
    h.reject_reason = None
    h.rectified_at = h.verified_at = h.closed_at = None
    h.response_due_at = policy.response_due(at)
    _record(session, h, "reopened", actor, at, join_notes(reason, note))


# -------------------------------------------------------------------------------- actions
def _action_for_update(session: Session, action_id: int) -> m.CorrectiveAction:
    a = session.get(m.CorrectiveAction, action_id, with_for_update=True, populate_existing=True)
    if a is None:
        raise NotFound(f"no corrective action #{action_id}")
    return a


def _check_action(a: m.CorrectiveAction, to: str) -> None:
    check_action_transition(a.id, a.status, to)


def start_action(session: Session, action_id: int, *, actor: Scope | str,
                 at: dt.datetime | None = None) -> m.CorrectiveAction:
    """A team starts its part; the hazard goes to in_progress with the first team."""
    at, actor = _now(at), _actor(actor)
    a = _action_for_update(session, action_id)
    h = _hazard_for_update(session, a.hazard_id)
    _check_site(actor, h)
    _check_action(a, "in_progress")
    a.status = "in_progress"
    _audit(session, actor, "action_started", "corrective_action", a.id, hazard_id=h.id)
    if h.status == "assigned":
        _record(session, h, "in_progress", actor, at, f"action #{a.id} started")
    session.flush()
    return a


def complete_action(session: Session, action_id: int, *, actor: Scope | str, at: dt.datetime | None = None,
                    note: str | None = None, cost: float | None = None, rectify: bool = True) -> m.CorrectiveAction:
    """A team finishes its part; when the last team is done the hazard is rectified
    (unless ``rectify`` is false: then someone declares it with ``transition``)."""
    at, actor = _now(at), _actor(actor)
    a = _action_for_update(session, action_id)
    h = _hazard_for_update(session, a.hazard_id)
    _check_site(actor, h)
    _check_action(a, "done")
    if cost is not None:
        if cost < 0:
            raise WorkflowError("cost cannot be negative")
        a.cost = cast(Any, cost)  # a numeric(14, 2) column: the driver stores the float as given
    a.status, a.completed_at = "done", at
    _audit(session, actor, "action_done", "corrective_action", a.id, hazard_id=h.id, note=note, cost=cost)
    session.flush()
    if h.status == "assigned":
        _record(session, h, "in_progress", actor, at, f"action #{a.id} done")
    if h.status == "in_progress" and rectify:
        remaining = _actions(session, h.id, ACTIVE_ACTION)
        if not remaining:
            h.rectified_at = at
            _record(session, h, "rectified", actor, at, join_notes(note, f"last action #{a.id} done"))
    session.flush()
    return a


def open_actions(session: Session, hazard_id: int) -> list[m.CorrectiveAction]:
    return _actions(session, hazard_id, ACTIVE_ACTION)
