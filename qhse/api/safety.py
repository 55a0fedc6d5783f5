"""Routes of the safety loop: alarms, hazards, vision events, emergencies, KPIs.

Reads go through ``db.queries`` under the token's scope; every change goes through the service
that owns it (``qhse.services.alarms``, ``hazard_intake``, ``workflow``, ``vision_review``,
``emergency``), which checks the permission and site, applies the rule and audits with the
token's name.  An id of another site answers 404, as a missing one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, UploadFile

from db.engine import session_scope
from db.queries import api as q
from db.queries import hazards as hq
from qhse.api.deps import MAX_ID, Caller, Code, Engine, Page, Page_, need, not_found, page
from qhse.api.problems import ApiProblem
from qhse.api.schemas import (
    AlarmOut,
    CreatedOut,
    DeclaredOut,
    EmergencyDetailOut,
    EmergencyIn,
    EmergencyOut,
    HazardDetailOut,
    HazardOut,
    KpiOut,
    NoteIn,
    ReviewIn,
    TransitionIn,
    VisionEventOut,
)
from qhse.domain import access
from qhse.domain.workflow import CATEGORIES
from qhse.vocab import AlarmSeverity, EmergencyStatus, HazardSeverity, HazardStatus, ReviewStatus

router = APIRouter()
SiteQ = Annotated[Code | None, Query(description="Site code")]
SinceQ = Annotated[dt.datetime | None, Query(description="Only rows from this time on")]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_PHOTO = 10 << 20


# ------------------------------------------------------------------------------ alarms
@router.get("/alarms", response_model=Page[AlarmOut], tags=["alarms"], summary="Alarms, newest first")
def list_alarms(scope: Caller, engine: Engine, p: Page_, site: SiteQ = None,
                status: Annotated[Literal["open", "acknowledged", "cleared"] | None,
                                  Query(description="open: not cleared")] = None,
                severity: Annotated[AlarmSeverity | None, Query()] = None,
                sensor_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None, since: SinceQ = None):
    need(scope, access.VIEW_ALARMS)
    return page(q.alarms(engine, scope, site=site, status=status, severity=severity, sensor_id=sensor_id,
                         since=since, limit=p.limit, offset=p.offset), p)


@router.get("/alarms/{alarm_id}", response_model=AlarmOut, tags=["alarms"], summary="One alarm")
def show_alarm(scope: Caller, engine: Engine, alarm_id: PathId):
    need(scope, access.VIEW_ALARMS)
    rows = q.alarms(engine, scope, alarm_id=alarm_id, limit=None)
    if not rows:
        raise not_found("alarm", alarm_id, "path.alarm_id")
    return rows[0]


def _alarm_act(scope, engine, alarm_id: int, action: str, body: NoteIn | None):
    from qhse.services import alarms

    need(scope, access.ACK_ALARMS)
    try:
        alarms.act(engine, scope, alarm_id, action, note=body.note if body else None)
    except alarms.AlarmError as exc:
        msg = str(exc)
        if msg.startswith("no alarm"):
            raise not_found("alarm", alarm_id, "path.alarm_id") from None
        raise ApiProblem(409, msg, kind="conflict") from None
    return q.alarms(engine, scope, alarm_id=alarm_id, limit=None)[0]


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmOut, tags=["alarms"], summary="Acknowledge")
def acknowledge_alarm(scope: Caller, engine: Engine, alarm_id: PathId, body: NoteIn | None = None):
    return _alarm_act(scope, engine, alarm_id, "acknowledge", body)


@router.post("/alarms/{alarm_id}/clear", response_model=AlarmOut, tags=["alarms"], summary="Clear by hand")
def clear_alarm(scope: Caller, engine: Engine, alarm_id: PathId, body: NoteIn | None = None):
    return _alarm_act(scope, engine, alarm_id, "clear", body)


# ------------------------------------------------------------------------------ hazards
@router.get("/hazards", response_model=Page[HazardOut], tags=["hazards"], summary="Hazard reports, newest first")
def list_hazards(scope: Caller, engine: Engine, p: Page_, site: SiteQ = None,
                 status: Annotated[HazardStatus | None, Query()] = None,
                 severity: Annotated[HazardSeverity | None, Query()] = None,
                 area_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None, since: SinceQ = None):
    need(scope, access.REPORT_HAZARD)
    return page(q.hazards(engine, scope, site=site, status=status, severity=severity, area_id=area_id, since=since,
                          limit=p.limit, offset=p.offset), p)


@router.get("/hazards/{hazard_id}", response_model=HazardDetailOut, tags=["hazards"],
            summary="One hazard report with its transitions and corrective actions")
def show_hazard(scope: Caller, engine: Engine, hazard_id: PathId):
    need(scope, access.REPORT_HAZARD)
    d = hq.hazard_detail(engine, scope, hazard_id)
    if d is None:
        raise not_found("hazard report", hazard_id, "path.hazard_id")
    d["has_photo"] = bool(d.get("photo_path"))
    return d


@router.post("/hazards", response_model=CreatedOut, status_code=201, tags=["hazards"],
             summary="Report a hazard (multipart form, optional photo)")
def report_hazard(scope: Caller, engine: Engine,
                  site_id: Annotated[int, Form(ge=1, le=MAX_ID)], area_id: Annotated[int, Form(ge=1, le=MAX_ID)],
                  category: Annotated[Literal[CATEGORIES], Form()],  # type: ignore[valid-type]
                  title: Annotated[str, Form(min_length=1, max_length=200, pattern=r"^[^\x00]*$")],
                  severity: Annotated[HazardSeverity, Form()] = HazardSeverity.NORMAL,
                  description: Annotated[str | None, Form(max_length=4000, pattern=r"^[^\x00]*$")] = None,
                  likelihood: Annotated[int, Form(ge=1, le=5)] = 3, consequence: Annotated[int, Form(ge=1, le=5)] = 3,
                  asset_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
                  photo: Annotated[UploadFile | None, File(description="JPEG, PNG or WebP")] = None):
    from qhse.domain.uploads import UploadError
    from qhse.domain.workflow import NotFound, WorkflowError
    from qhse.services import hazard_intake

    need(scope, access.REPORT_HAZARD)
    if not scope.allows_site(site_id):
        raise not_found("site", site_id, "body.site_id")
    data = None
    if photo is not None:
        data = photo.file.read(MAX_PHOTO + 1)
        if len(data) > MAX_PHOTO:
            raise ApiProblem(413, f"photo larger than {MAX_PHOTO:,} bytes", field="body.photo", kind="too-large")
    try:
        hid = hazard_intake.report(engine, scope, site_id=site_id, area_id=area_id, category=category, title=title,
                                   severity=severity, description=description, likelihood=likelihood,
                                   consequence=consequence, asset_id=asset_id, photo=data,
                                   photo_name=(photo.filename or "") if photo is not None else "")
    except UploadError as exc:
        raise ApiProblem(422, str(exc), field="body.photo", kind="validation") from None
    except NotFound as exc:
        raise ApiProblem(404, str(exc), kind="not-found", field="body.site_id") from None
    except WorkflowError as exc:
        raise ApiProblem(422, str(exc), kind="validation", field=_workflow_field(str(exc))) from None
    return {"id": hid}


def _workflow_field(msg: str) -> str | None:
    for f in ("area", "asset", "title", "category", "severity", "likelihood", "consequence"):
        if f in msg.lower():
            return f"body.{f}_id" if f in ("area", "asset") else f"body.{f}"
    return None


@router.post("/hazards/{hazard_id}/transition", response_model=HazardDetailOut, tags=["hazards"],
             summary="Move a hazard report along the workflow")
def transition_hazard(scope: Caller, engine: Engine, hazard_id: PathId, body: TransitionIn):
    from qhse.domain.dispatch import DispatchError
    from qhse.domain.sla import SlaError
    from qhse.domain.workflow import NotFound, TransitionError, WorkflowError
    from qhse.services import workflow

    need(scope, access.VIEW_ACTIONS)
    try:
        with session_scope(engine) as s:
            workflow.transition(s, hazard_id, body.to_status, actor=scope, reason=body.reason, note=body.note,
                                department_ids=body.department_ids)
    except NotFound:
        raise not_found("hazard report", hazard_id, "path.hazard_id") from None
    except TransitionError as exc:
        raise ApiProblem(409, str(exc), kind="conflict", field="body.to_status") from None
    except (WorkflowError, DispatchError, SlaError) as exc:
        msg = str(exc)
        field = "body.reason" if "reason" in msg else "body.department_ids" if "department" in msg else None
        raise ApiProblem(422, msg, kind="validation", field=field) from None
    return show_hazard(scope, engine, hazard_id)


# ------------------------------------------------------------------------------ vision events
@router.get("/vision-events", response_model=Page[VisionEventOut], tags=["vision"], summary="PPE events")
def list_events(scope: Caller, engine: Engine, p: Page_, site: SiteQ = None,
                review_status: Annotated[ReviewStatus | None, Query()] = None,
                label: Annotated[Code | None, Query()] = None, since: SinceQ = None):
    need(scope, access.VIEW_VISION)
    return page(q.vision_events(engine, scope, site=site, review_status=review_status, label=label, since=since,
                                limit=p.limit, offset=p.offset), p)


@router.get("/vision-events/{event_id}", response_model=VisionEventOut, tags=["vision"], summary="One PPE event")
def show_event(scope: Caller, engine: Engine, event_id: PathId):
    need(scope, access.VIEW_VISION)
    rows = q.vision_events(engine, scope, event_id=event_id, limit=None)
    if not rows:
        raise not_found("camera event", event_id, "path.event_id")
    return rows[0]


@router.post("/vision-events/{event_id}/review", response_model=VisionEventOut, tags=["vision"],
             summary="Confirm, dismiss or mark a PPE event as a false positive")
def review_event(scope: Caller, engine: Engine, event_id: PathId, body: ReviewIn):
    from qhse.domain.vision_review import ReviewError
    from qhse.services import vision_review

    need(scope, access.REVIEW_VISION)
    if not q.vision_events(engine, scope, event_id=event_id, limit=None):
        raise not_found("camera event", event_id, "path.event_id")
    try:
        vision_review.review(engine, scope, event_id, body.decision, note=body.note)
    except ReviewError as exc:
        msg = str(exc)
        if msg.startswith("no camera event"):
            raise not_found("camera event", event_id, "path.event_id") from None
        if "already reviewed" in msg:
            raise ApiProblem(409, msg, kind="conflict") from None
        raise ApiProblem(422, msg, kind="validation", field="body.decision") from None
    return show_event(scope, engine, event_id)


# ------------------------------------------------------------------------------ emergencies
@router.get("/emergencies", response_model=Page[EmergencyOut], tags=["emergency"], summary="Emergencies")
def list_emergencies(scope: Caller, engine: Engine, p: Page_, site: SiteQ = None,
                     status: Annotated[EmergencyStatus | None, Query()] = None):
    need(scope, access.MANAGE_EMERGENCY)
    return page(q.emergencies(engine, scope, site=site, status=status, limit=p.limit, offset=p.offset), p)


@router.get("/emergencies/{emergency_id}", response_model=EmergencyDetailOut, tags=["emergency"],
            summary="One emergency with its response plan")
def show_emergency(scope: Caller, engine: Engine, emergency_id: PathId):
    need(scope, access.MANAGE_EMERGENCY)
    rows = q.emergencies(engine, scope, emergency_id=emergency_id, limit=None)
    if not rows:
        raise not_found("emergency", emergency_id, "path.emergency_id")
    return rows[0]


@router.post("/emergencies", response_model=DeclaredOut, status_code=201, tags=["emergency"],
             summary="Declare an emergency (plan generated, people notified)")
def declare_emergency(scope: Caller, engine: Engine, body: EmergencyIn):
    from qhse.domain.emergency import EmergencyError
    from qhse.services import emergency

    need(scope, access.MANAGE_EMERGENCY)
    if not q.areas(engine, scope, area_id=body.area_id, limit=None):
        raise not_found("area", body.area_id, "body.area_id")
    try:
        d = emergency.declare(engine, area_id=body.area_id, kind=body.kind, actor=scope, description=body.description)
    except EmergencyError as exc:
        msg = str(exc)
        raise ApiProblem(409 if "already active" in msg else 422, msg,
                         kind="conflict" if "already active" in msg else "validation") from None
    return {"id": d.emergency_id, "plan_ms": d.plan_ms, "notifications": d.notifications}


# ------------------------------------------------------------------------------ KPIs
@router.get("/kpis", response_model=KpiOut, tags=["kpis"], summary="Safety KPIs per site, region, area, ... for months")
def kpis(scope: Caller, engine: Engine,
         month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                            description="YYYY-MM; default: the last complete month with data")] = None,
         months: Annotated[int, Query(ge=1, le=24)] = 1,
         by: Annotated[Literal["site", "region", "department", "area", "month"], Query()] = "site"):
    from qhse.domain.kpi_report import report_records
    from qhse.services.kpi_report import default_month, kpi_report

    need(scope, access.VIEW_KPIS)
    if month:
        m = dt.date(int(month[:4]), int(month[5:7]), 1)
        if m.year < 1990 or m.year > 2200:
            raise ApiProblem(422, "month out of range", field="query.month", kind="validation")
    else:
        m = default_month(engine, scope)
    rep = kpi_report(engine, month=m, months=months, by=by, scope=scope)
    return {"period": rep.period_label, "by": by, "rows": _jsonable(report_records(rep))}


def _jsonable(rows: list[dict]) -> list[dict]:
    import math

    out = []
    for r in rows:
        d = {}
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            elif isinstance(v, (dt.date, dt.datetime)):
                v = v.isoformat()
            elif hasattr(v, "item"):
                v = v.item()
            d[str(k)] = v
        out.append(d)
    return out
