"""Inspections: routes per area, schedules by risk class, checklists, findings, misses.

* **Frequency.**  A route's ``frequency_days`` wins; otherwise the area's risk class
  decides: A daily, B every 2 days, C twice a week (every 3.5 days), overridable per site
  with ``settings["inspections"]["frequency_days"] = {"A": 1, "B": 2, "C": 3.5}``.
  Slots are laid on a fixed grid that starts on Monday 2024-01-01 (site time), so a
  3.5-day route falls on Mondays and Thursdays, a 2-day route on alternate days, and
  re-running the scheduler never shifts them.  Each slot is due at
  ``settings["inspections"]["due_time"]`` (default 09:00 site time).
* **Scheduling** creates the inspections due within the next ``horizon`` (default 2
  days), after the route's latest existing one; (route, due time) is unique, so the job
  is idempotent.
* **Misses.**  A scheduled inspection not done ``grace_hours`` after its due time
  (default 12, ``settings["inspections"]["grace_hours"]``) is flagged ``missed`` and the
  area manager is told.
* **Checklists** are lists of items ``{"key", "label", "required", "type": bool | number
  | text}`` with optional ``min`` / ``max`` (number), ``category`` and ``severity``.
  Results must answer every required item with the right type; unknown keys are refused.
  A ``false`` answer, a number outside ``[min, max]`` and every explicit finding becomes
  a hazard report automatically (source ``inspection``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.access import Scope
from qhse.domain.sla import SEVERITIES
from qhse.services import notify

UTC = dt.UTC
DEFAULT_FREQUENCY_DAYS = {"A": 1.0, "B": 2.0, "C": 3.5}
GRID_ANCHOR = dt.date(2024, 1, 1)  # a Monday
DEFAULT_DUE_TIME = "09:00"
DEFAULT_GRACE_HOURS = 12.0
ITEM_TYPES = ("bool", "number", "text")
# Category of the hazard a failed item raises, for checklist items that do not name one.
KEY_CATEGORIES = {"exits_clear": "fire", "extinguishers_ok": "fire", "ppe_worn": "ppe", "housekeeping": "housekeeping",
                  "guards_in_place": "machine_guarding", "cabinets_closed": "electrical", "labels_ok": "chemical",
                  "ventilation_ok": "ventilation", "spill_kit_ok": "chemical", "lockout_ok": "lockout"}


class InspectionError(ValueError):
    """Bad inspection input or configuration, in one line."""


# -------------------------------------------------------------------------- configuration
def _site_cfg(site: m.Site) -> dict:
    cfg = (site.settings or {}).get("inspections") or {}
    if not isinstance(cfg, dict):
        raise InspectionError(f"site {site.code}: settings.inspections must be an object")
    return cfg


def frequency_days(route: m.InspectionRoute, area: m.Area, site: m.Site) -> float:
    if route.frequency_days is not None:
        f = float(route.frequency_days)
    else:
        table = {**DEFAULT_FREQUENCY_DAYS, **(_site_cfg(site).get("frequency_days") or {})}
        if area.risk_class not in table:
            raise InspectionError(f"area {area.code}: no inspection frequency for risk class {area.risk_class!r}")
        f = float(table[area.risk_class])
    if not (0.04 <= f <= 366):
        raise InspectionError(f"route {route.name!r}: frequency {f:g} days is out of range (1 hour .. 1 year)")
    return f


def _due_time(site: m.Site) -> dt.time:
    raw = str(_site_cfg(site).get("due_time", DEFAULT_DUE_TIME))
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise InspectionError(f"site {site.code}: inspections.due_time {raw!r} is not HH:MM") from None


def grace_hours(site: m.Site) -> float:
    v = _site_cfg(site).get("grace_hours", DEFAULT_GRACE_HOURS)
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InspectionError(f"site {site.code}: inspections.grace_hours must be a number") from None
    if v < 0:
        raise InspectionError(f"site {site.code}: inspections.grace_hours cannot be negative")
    return v


def slot_times(every_days: float, start: dt.datetime, end: dt.datetime, tz: ZoneInfo, due_time: dt.time) -> list[dt.datetime]:
    """Due times of the grid slots in [start, end) for a route inspected every ``every_days``.

    Slot k starts ``k * every_days`` days after the grid anchor; it is due on the day that
    slot starts, at ``due_time``.  Returned in UTC, ascending, without duplicates.
    """
    if every_days >= 1:
        d0 = start.astimezone(tz).date() - dt.timedelta(days=1)
        d1 = end.astimezone(tz).date() + dt.timedelta(days=1)
        k0 = math.floor((d0 - GRID_ANCHOR).days / every_days)
        k1 = math.ceil((d1 - GRID_ANCHOR).days / every_days)
        out = []
        for k in range(k0, k1 + 1):
            day = GRID_ANCHOR + dt.timedelta(days=math.floor(k * every_days + 1e-9))
            t = dt.datetime.combine(day, due_time, tzinfo=tz).astimezone(UTC)
            if start <= t < end and (not out or out[-1] != t):
                out.append(t)
        return out
    # More than once a day: slots on the grid from local midnight of the anchor.
    origin = dt.datetime.combine(GRID_ANCHOR, dt.time(0), tzinfo=tz).astimezone(UTC)
    step = dt.timedelta(days=every_days)
    k = math.ceil((start - origin) / step)
    out = []
    t = origin + k * step
    while t < end:
        out.append(t)
        t += step
    return out


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
    R, I = m.InspectionRoute, m.Inspection
    q = (sa.select(R, m.Area, m.Site).join(m.Area, m.Area.id == R.area_id).join(m.Site, m.Site.id == R.site_id)
         .where(R.active.is_(True)).order_by(R.id))
    if site_ids is not None:
        q = q.where(R.site_id.in_(site_ids))
    last = dict(session.execute(sa.select(I.route_id, sa.func.max(I.due_at)).group_by(I.route_id)).all())
    res = ScheduleResult()
    for route, area, site in session.execute(q).all():
        res.routes += 1
        try:
            f = frequency_days(route, area, site)
            tz = ZoneInfo(site.timezone or "UTC")
            start_local = dt.datetime.combine(now.astimezone(tz).date(), dt.time(0), tzinfo=tz).astimezone(UTC)
            prev = last.get(route.id)
            start = max(start_local, prev + dt.timedelta(seconds=1)) if prev else start_local
            times = slot_times(f, start, now + horizon, tz, _due_time(site))
        except InspectionError as exc:
            res.errors.append(str(exc))
            continue
        if not times:
            continue
        rows = [dict(route_id=route.id, area_id=area.id, due_at=t, status="scheduled", results={}, findings=0)
                for t in times]
        ins = session.execute(pg_insert(I).values(rows).on_conflict_do_nothing(index_elements=["route_id", "due_at"])
                              .returning(I.id))
        n = len(ins.all())
        res.created += n
        res.by_class[area.risk_class] = res.by_class.get(area.risk_class, 0) + n
    res.missed = flag_missed(session, now)
    session.flush()
    return res


def flag_missed(session: Session, now: dt.datetime | None = None) -> int:
    """Mark overdue scheduled inspections as missed and tell each area's manager."""
    now = now or dt.datetime.now(UTC)
    I = m.Inspection
    rows = session.execute(
        sa.select(I, m.InspectionRoute, m.Site)
        .join(m.InspectionRoute, m.InspectionRoute.id == I.route_id).join(m.Site, m.Site.id == m.InspectionRoute.site_id)
        .where(I.status == "scheduled", I.due_at < now)
        .order_by(I.due_at).with_for_update(of=I, skip_locked=True)).all()
    n = 0
    grace: dict[int, float] = {}
    routing: dict = {}
    for insp, route, site in rows:
        if site.id not in grace:
            try:
                grace[site.id] = grace_hours(site)
            except InspectionError:
                grace[site.id] = DEFAULT_GRACE_HOURS
        if insp.due_at + dt.timedelta(hours=grace[site.id]) > now:
            continue
        insp.status = "missed"
        n += 1
        notify.notify_role(session, site_id=site.id, role="area_manager", area_id=insp.area_id, now=now,
                           subject=f"Missed inspection: {route.name} (due {insp.due_at:%Y-%m-%d %H:%M} UTC)",
                           body=(f"Inspection #{insp.id} of route {route.name!r} was due {insp.due_at:%Y-%m-%d %H:%M} UTC "
                                 f"and was not done within {grace[site.id]:g} h."),
                           ref=f"inspection:{insp.id}:missed", cache=routing)
    session.flush()
    return n


# ------------------------------------------------------------------------------ checklists
def validate_checklist(checklist: list) -> list[dict]:
    if not isinstance(checklist, list) or not checklist:
        raise InspectionError("a checklist is a non-empty list of items")
    keys = set()
    for i, it in enumerate(checklist):
        if not isinstance(it, dict) or not isinstance(it.get("key"), str) or not it.get("key"):
            raise InspectionError(f"checklist item {i + 1} needs a key")
        if it["key"] in keys:
            raise InspectionError(f"checklist key {it['key']!r} appears twice")
        keys.add(it["key"])
        if it.get("type", "bool") not in ITEM_TYPES:
            raise InspectionError(f"checklist item {it['key']!r}: type must be one of {', '.join(ITEM_TYPES)}")
        if it.get("severity") is not None and it["severity"] not in SEVERITIES:
            raise InspectionError(f"checklist item {it['key']!r}: unknown severity {it['severity']!r}")
        unknown = set(it) - {"key", "label", "required", "type", "min", "max", "category", "severity"}
        if unknown:
            raise InspectionError(f"checklist item {it['key']!r}: unknown field(s) {', '.join(sorted(unknown))}")
    return checklist


def check_results(checklist: list[dict], results: dict) -> list[dict]:
    """Validate answers against the checklist; return the failed items (findings)."""
    if not isinstance(results, dict):
        raise InspectionError("results must be an object keyed by checklist item")
    items = {it["key"]: it for it in checklist}
    unknown = sorted(set(results) - set(items))
    if unknown:
        raise InspectionError(f"unknown checklist item(s): {', '.join(unknown)} (known: {', '.join(items)})")
    missing = [f"{it.get('label', k)} ({k})" for k, it in items.items()
               if it.get("required", False) and (results.get(k) is None or results.get(k) == "")]
    if missing:
        raise InspectionError("missing required item(s): " + ", ".join(missing))
    failed = []
    for k, v in results.items():
        it = items[k]
        typ = it.get("type", "bool")
        if v is None:
            continue
        if typ == "bool":
            if not isinstance(v, bool):
                raise InspectionError(f"{k}: expected yes/no (true or false), got {v!r}")
            if v is False:
                failed.append({**it, "value": v})
        elif typ == "number":
            if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not math.isfinite(v)):
                raise InspectionError(f"{k}: expected a number, got {v!r}")
            lo, hi = it.get("min"), it.get("max")
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                failed.append({**it, "value": v})
        elif not isinstance(v, str):
            raise InspectionError(f"{k}: expected text, got {v!r}")
    return failed


@dataclass
class InspectionOutcome:
    inspection: m.Inspection
    hazards: list[m.HazardReport]
    late: bool


def perform(session: Session, inspection_id: int, *, inspector_person_id: int, results: dict,
            findings: list[dict] | None = None, at: dt.datetime | None = None,
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
    I = m.Inspection
    insp = session.get(I, inspection_id, with_for_update=True, populate_existing=True)
    if insp is None:
        raise InspectionError(f"no inspection #{inspection_id}")
    if insp.status == "done":
        raise InspectionError(f"inspection #{insp.id} was already done at {insp.performed_at:%Y-%m-%d %H:%M} UTC")
    if session.get(m.Person, inspector_person_id) is None:
        raise InspectionError(f"no person #{inspector_person_id}")
    route = session.get(m.InspectionRoute, insp.route_id)
    if not who.allows_site(route.site_id):
        raise InspectionError(f"no inspection #{inspection_id}")  # the same answer as for a missing one
    checklist = validate_checklist(route.checklist)
    failed = check_results(checklist, results)
    extra = []
    for f in findings or []:
        if not isinstance(f, dict) or not str(f.get("title", "")).strip():
            raise InspectionError("each finding needs a title")
        sev = f.get("severity", "normal")
        if sev not in SEVERITIES:
            raise InspectionError(f"finding {f['title']!r}: unknown severity {sev!r}")
        unknown = set(f) - {"title", "category", "severity", "description", "asset_id"}
        if unknown:
            raise InspectionError(f"finding {f['title']!r}: unknown field(s) {', '.join(sorted(unknown))}")
        extra.append(f)
    late = insp.status == "missed"
    insp.status, insp.performed_at, insp.inspector_person_id = "done", at, inspector_person_id
    insp.results = {**results, **({"_late": True} if late else {})}
    hazards = []
    for it in failed:
        label = it.get("label", it["key"])
        hazards.append(workflow.report_hazard(
            session, site_id=route.site_id, area_id=insp.area_id,
            category=it.get("category") or KEY_CATEGORIES.get(it["key"], "general"),
            title=f"Inspection finding: {label}"[:300], severity=it.get("severity") or "normal",
            description=f"Checklist item {label!r} answered {it['value']!r} during inspection #{insp.id} ({route.name}).",
            source="inspection", reporter_person_id=inspector_person_id, inspection_id=insp.id, reported_at=at, actor=who))
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


def create_route(session: Session, *, area_id: int, name: str, checklist: list[dict],
                 frequency_days: float | None = None) -> m.InspectionRoute:
    area = session.get(m.Area, area_id)
    if area is None:
        raise InspectionError(f"no area #{area_id}")
    validate_checklist(checklist)
    if frequency_days is not None and not (0.04 <= float(frequency_days) <= 366):
        raise InspectionError("frequency_days must be between 0.04 and 366")
    r = m.InspectionRoute(site_id=area.site_id, area_id=area.id, name=name.strip() or f"{area.name} round",
                          frequency_days=frequency_days, checklist=checklist, active=True)
    session.add(r)
    session.flush()
    return r
