"""Inspections applied: scheduling the rounds of every route, flagging misses (the area
manager is told), recording a performed inspection (each finding becomes a hazard report,
audited with the inspector's user) and creating routes.

The rules (frequency by risk class, the slot grid, due time, grace, checklists and their
answers) are :mod:`qhse.domain.inspections`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.access import Scope
from qhse.domain.inspections import (
    DEFAULT_GRACE_HOURS,
    InspectionError,
    check_findings,
    check_frequency,
    check_results,
    due_time,
    frequency_days,
    grace_hours,
    is_missed,
    item_category,
    missed_notice,
    schedule_start,
    slot_times,
    validate_checklist,
)
from qhse.services import notify

UTC = dt.UTC


# ------------------------------------------------------------------------------ scheduling
@dataclass
class ScheduleResult:
    created: int = 0
    missed: int = 0
    routes: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        cls = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_class.items())) or "none"
        out = f"{self.routes} routes, {self.created} inspections scheduled ({cls}), {self.missed} flagged missed"
        if self.errors:
            out += f"; {len(self.errors)} route(s) skipped: " + "; ".join(self.errors[:3])
        return out


def schedule(session: Session, now: dt.datetime | None = None, horizon: dt.timedelta = dt.timedelta(days=2),
             site_ids: list[int] | None = None) -> ScheduleResult:
    """Create the inspections of every active route due before ``now + horizon``."""
    now = now or dt.datetime.now(UTC)
    R, Insp = m.InspectionRoute, m.Inspection
    q = (sa.select(R, m.Area, m.Site).join(m.Area, m.Area.id == R.area_id).join(m.Site, m.Site.id == R.site_id)
         .where(R.active.is_(True)).order_by(R.id))
    if site_ids is not None:
        q = q.where(R.site_id.in_(site_ids))
    last = dict(session.execute(sa.select(Insp.route_id, sa.func.max(Insp.due_at)).group_by(Insp.route_id)).all())
    res = ScheduleResult()
    for route, area, site in session.execute(q).all():
        res.routes += 1
        try:
            f = frequency_days(route.frequency_days, area.risk_class, site.settings, site_code=site.code,
                               area_code=area.code, route_name=route.name)
            tz = ZoneInfo(site.timezone or "UTC")
            start = schedule_start(now, tz, last.get(route.id))
            times = slot_times(f, start, now + horizon, tz, due_time(site.settings, site.code))
        except InspectionError as exc:
            res.errors.append(str(exc))
            continue
        if not times:
            continue
        rows = [dict(route_id=route.id, area_id=area.id, due_at=t, status="scheduled", results={}, findings=0)
                for t in times]
        ins = session.execute(pg_insert(Insp).values(rows)
                              .on_conflict_do_nothing(index_elements=["route_id", "due_at"]).returning(Insp.id))
        n = len(ins.all())
        res.created += n
        res.by_class[area.risk_class] = res.by_class.get(area.risk_class, 0) + n
    res.missed = flag_missed(session, now)
    session.flush()
    return res


def flag_missed(session: Session, now: dt.datetime | None = None) -> int:
    """Mark overdue scheduled inspections as missed and tell each area's manager."""
    now = now or dt.datetime.now(UTC)
    Insp = m.Inspection
    rows = session.execute(
        sa.select(Insp, m.InspectionRoute, m.Site)
        .join(m.InspectionRoute, m.InspectionRoute.id == Insp.route_id)
        .join(m.Site, m.Site.id == m.InspectionRoute.site_id)
        .where(Insp.status == "scheduled", Insp.due_at < now)
        .order_by(Insp.due_at).with_for_update(of=Insp, skip_locked=True)).all()
    n = 0
    grace: dict[int, float] = {}
    routing: dict[tuple[object, ...], Any] = {}
    for insp, route, site in rows:
        if site.id not in grace:
            try:
                grace[site.id] = grace_hours(site.settings, site.code)
            except InspectionError:
                grace[site.id] = DEFAULT_GRACE_HOURS
        if not is_missed(insp.due_at, grace[site.id], now):
            continue
        insp.status = "missed"
        n += 1
        subject, body = missed_notice(route_name=route.name, inspection_id=insp.id, due_at=insp.due_at,
                                      grace_h=grace[site.id])
        notify.notify_role(session, site_id=site.id, role="area_manager", area_id=insp.area_id, now=now,
                           subject=subject, body=body, ref=f"inspection:{insp.id}:missed", cache=routing)
    session.flush()
    return n


@dataclass
class InspectionOutcome:
    inspection: m.Inspection
    hazards: list[m.HazardReport]
    late: bool


def perform(session: Session, inspection_id: int, *, inspector_person_id: int, results: dict[str, Any],
            findings: list[dict[str, Any]] | None = None, at: dt.datetime | None = None,
            actor: Scope | str | None = None) -> InspectionOutcome:
    """Record a performed inspection; every finding becomes a hazard report.

    ``actor`` is the platform user recording it (or a ``system:`` actor, see qhse.services.actors);
    the inspection and each finding are audited with their user id."""
    from db.queries import audit
    from qhse.services import actors, workflow

    try:
        who = actors.require(actor)
    except actors.ActorError as exc:
        raise InspectionError(str(exc)) from None
    at = at or dt.datetime.now(UTC)
    Insp = m.Inspection
    insp = session.get(Insp, inspection_id, with_for_update=True, populate_existing=True)
    if insp is None:
        raise InspectionError(f"no inspection #{inspection_id}")
    if insp.status == "done":
        raise InspectionError(f"inspection #{insp.id} was already done at {insp.performed_at:%Y-%m-%d %H:%M} UTC")
    if session.get(m.Person, inspector_person_id) is None:
        raise InspectionError(f"no person #{inspector_person_id}")
    route = cast(m.InspectionRoute, session.get(m.InspectionRoute, insp.route_id))  # a foreign key: it exists
    if not who.allows_site(route.site_id):
        raise InspectionError(f"no inspection #{inspection_id}")  # the same answer as for a missing one
    checklist = validate_checklist(route.checklist)
    failed = check_results(checklist, results)
    extra = check_findings(findings)
    late = insp.status == "missed"
    insp.status, insp.performed_at, insp.inspector_person_id = "done", at, inspector_person_id
    insp.results = {**results, **({"_late": True} if late else {})}
    hazards: list[m.HazardReport] = []
    for it in failed:
        label = it.get("label", it["key"])
        hazards.append(workflow.report_hazard(
            session, site_id=route.site_id, area_id=insp.area_id,
            category=item_category(it),
            title=f"Inspection finding: {label}"[:300], severity=it.get("severity") or "normal",
            description=f"Checklist item {label!r} answered {it['value']!r} during inspection #{insp.id} "
                        f"({route.name}).",
            source="inspection", reporter_person_id=inspector_person_id, inspection_id=insp.id, reported_at=at,
            actor=who))
    for f in extra:
        hazards.append(workflow.report_hazard(
            session, site_id=route.site_id, area_id=insp.area_id, category=f.get("category") or "general",
            title=str(f["title"]).strip(), severity=f.get("severity", "normal"), description=f.get("description"),
            asset_id=f.get("asset_id"), source="inspection", reporter_person_id=inspector_person_id,
            inspection_id=insp.id, reported_at=at, actor=who))
    insp.findings = len(hazards)
    audit.record(session.connection(), who, "perform_inspection", entity="inspection", entity_id=insp.id,
                 detail={"inspector_person_id": inspector_person_id, "late": late, "failed": len(failed),
                         "hazards": [h.id for h in hazards]})
    session.flush()
    return InspectionOutcome(insp, hazards, late)


def perform_answers(session: Session, inspection_id: int, *, inspector_person_id: int, answers: list[str],
                    findings: Sequence[str] = (), at: dt.datetime | None = None,
                    actor: Scope | str | None = None) -> InspectionOutcome:
    """:func:`perform` with the answers and findings as written (``KEY=VALUE``, ``TITLE|CATEGORY|SEVERITY``),
    read against the inspection's checklist by qhse.domain.inspection_answers."""
    from qhse.domain.inspection_answers import AnswerError, parse_answers, parse_finding
    from qhse.services import actors

    try:
        who = actors.require(actor)
    except actors.ActorError as exc:
        raise InspectionError(str(exc)) from None
    insp = session.get(m.Inspection, inspection_id)
    route = session.get(m.InspectionRoute, insp.route_id) if insp is not None else None
    if route is None or not who.allows_site(route.site_id):
        raise InspectionError(f"no inspection #{inspection_id}")  # the same answer for "not yours"
    try:
        results = parse_answers(answers, route.checklist)
    except AnswerError as exc:
        raise InspectionError(str(exc)) from None
    return perform(session, inspection_id, inspector_person_id=inspector_person_id, results=results,
                   findings=[parse_finding(f) for f in findings], at=at, actor=who)


def create_route(session: Session, *, area_id: int, name: str, checklist: list[dict[str, Any]],
                 frequency_days: float | None = None) -> m.InspectionRoute:
    area = session.get(m.Area, area_id)
    if area is None:
        raise InspectionError(f"no area #{area_id}")
    validate_checklist(checklist)
    check_frequency(frequency_days)
    r = m.InspectionRoute(site_id=area.site_id, area_id=area.id, name=name.strip() or f"{area.name} round",
                          frequency_days=frequency_days, checklist=checklist, active=True)
    session.add(r)
    session.flush()
    return r
