"""Read queries of the HTTP API: paginated, filterable lists and single rows, each under the caller's scope.

Every function takes ``(bind, scope, ...)``; lists take ``limit`` and ``offset`` and return up to
``limit + 1`` rows (the caller tells from the extra row whether a next page exists).  A row of a
site outside the scope is never returned: a single-row function answers None for it, exactly as
for an id that does not exist.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.models import (
    Alarm,
    AlarmRule,
    Area,
    Asset,
    Emergency,
    FailurePrediction,
    HazardReport,
    Sensor,
    SensorReadingDaily,
    SensorReadingHourly,
    Site,
    VisionEvent,
)
from qhse.domain.access import Scope

from .scope import site_filter


def _connect(bind: sa.Engine | sa.Connection):
    return bind.connect() if isinstance(bind, sa.Engine) else _Borrowed(bind)


class _Borrowed:
    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def __enter__(self) -> sa.Connection:
        return self.conn

    def __exit__(self, *exc) -> None:
        return None


def _rows(bind, q, limit: int | None = None, offset: int = 0) -> list[dict]:
    if limit is not None:
        q = q.limit(int(limit) + 1).offset(int(offset))
    with _connect(bind) as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def _site(q, s, site: str | None):
    return q.where(s.c.code == site) if site else q


def sites(bind, scope: Scope, *, limit: int = 100, offset: int = 0) -> list[dict]:
    s = Site.__table__
    q = (sa.select(s.c.id, s.c.code, s.c.name, s.c.industry, s.c.city, s.c.timezone)
         .where(site_filter(scope, s.c.id)).order_by(s.c.id))
    return _rows(bind, q, limit, offset)


def areas(bind, scope: Scope, *, site: str | None = None, risk_class: str | None = None, area_id: int | None = None,
          limit: int | None = 100, offset: int = 0) -> list[dict]:
    a, s = Area.__table__, Site.__table__
    q = (sa.select(a.c.id, a.c.site_id, s.c.code.label("site"), a.c.code, a.c.name, a.c.kind, a.c.risk_class,
                   a.c.is_gas_area)
         .join(s, s.c.id == a.c.site_id).where(site_filter(scope, a.c.site_id)).order_by(a.c.id))
    if risk_class:
        q = q.where(a.c.risk_class == risk_class)
    if area_id is not None:
        q = q.where(a.c.id == int(area_id))
    return _rows(bind, _site(q, s, site), limit, offset)


def assets(bind, scope: Scope, *, site: str | None = None, area_id: int | None = None, kind: str | None = None,
           limit: int = 100, offset: int = 0) -> list[dict]:
    a, s = Asset.__table__, Site.__table__
    q = (sa.select(a.c.id, a.c.site_id, s.c.code.label("site"), a.c.area_id, a.c.code, a.c.name, a.c.kind,
                   a.c.product_type, a.c.manufacturer, a.c.installed_at, a.c.active)
         .join(s, s.c.id == a.c.site_id).where(site_filter(scope, a.c.site_id)).order_by(a.c.id))
    if area_id is not None:
        q = q.where(a.c.area_id == int(area_id))
    if kind:
        q = q.where(a.c.kind == kind)
    return _rows(bind, _site(q, s, site), limit, offset)


def sensors(bind, scope: Scope, *, site: str | None = None, area_id: int | None = None, asset_id: int | None = None,
            kind: str | None = None, sensor_id: int | None = None, limit: int | None = 100,
            offset: int = 0) -> list[dict]:
    se, s, a, ar = Sensor.__table__, Site.__table__, Asset.__table__, Area.__table__
    q = (sa.select(se.c.id, se.c.site_id, s.c.code.label("site"), se.c.area_id, ar.c.code.label("area"),
                   se.c.asset_id, a.c.code.label("asset"), se.c.code, se.c.kind, se.c.unit, se.c.min_valid,
                   se.c.max_valid, se.c.warn_low, se.c.warn_high, se.c.alarm_low, se.c.alarm_high,
                   se.c.sample_period_s, se.c.active)
         .join(s, s.c.id == se.c.site_id).join(ar, ar.c.id == se.c.area_id)
         .outerjoin(a, a.c.id == se.c.asset_id).where(site_filter(scope, se.c.site_id)).order_by(se.c.id))
    if sensor_id is not None:
        q = q.where(se.c.id == int(sensor_id))
    if area_id is not None:
        q = q.where(se.c.area_id == int(area_id))
    if asset_id is not None:
        q = q.where(se.c.asset_id == int(asset_id))
    if kind:
        q = q.where(se.c.kind == kind)
    return _rows(bind, _site(q, s, site), limit, offset)


def reading_history(bind, scope: Scope, sensor_id: int, *, start: dt.datetime, end: dt.datetime,
                    grain: str = "hour", limit: int = 1000, offset: int = 0) -> list[dict] | None:
    """Hourly or daily rollups of one sensor in [start, end) (None: no such sensor in the scope)."""
    if not sensors(bind, scope, sensor_id=sensor_id, limit=None):
        return None
    if grain == "day":
        r = SensorReadingDaily.__table__
        t = r.c.day
        lo, hi = start.date(), end.date()
    else:
        r = SensorReadingHourly.__table__
        t = r.c.bucket
        lo, hi = start, end
    q = (sa.select(t.label("t"), r.c.n, r.c.avg, r.c.min, r.c.max)
         .where(r.c.sensor_id == int(sensor_id), t >= lo, t < hi).order_by(t))
    return _rows(bind, q, limit, offset)


def alarms(bind, scope: Scope, *, site: str | None = None, status: str | None = None, severity: str | None = None,
           sensor_id: int | None = None, alarm_id: int | None = None, since: dt.datetime | None = None,
           limit: int | None = 100, offset: int = 0) -> list[dict]:
    al, s, se, ru = Alarm.__table__, Site.__table__, Sensor.__table__, AlarmRule.__table__
    q = (sa.select(al.c.id, al.c.site_id, s.c.code.label("site"), al.c.area_id, al.c.sensor_id,
                   se.c.code.label("sensor"), al.c.rule_id, ru.c.name.label("rule"), al.c.severity, al.c.status,
                   al.c.raised_at, al.c.updated_at, al.c.first_value, al.c.last_value, al.c.peak_value,
                   al.c.acknowledged_at, al.c.acknowledged_by, al.c.cleared_at, al.c.message)
         .join(s, s.c.id == al.c.site_id).join(se, se.c.id == al.c.sensor_id).join(ru, ru.c.id == al.c.rule_id)
         .where(site_filter(scope, al.c.site_id)).order_by(al.c.raised_at.desc(), al.c.id.desc()))
    if alarm_id is not None:
        q = q.where(al.c.id == int(alarm_id))
    if status == "open":
        q = q.where(al.c.cleared_at.is_(None))
    elif status:
        q = q.where(al.c.status == status)
    if severity:
        q = q.where(al.c.severity == severity)
    if sensor_id is not None:
        q = q.where(al.c.sensor_id == int(sensor_id))
    if since is not None:
        q = q.where(al.c.raised_at >= since)
    return _rows(bind, _site(q, s, site), limit, offset)


def hazards(bind, scope: Scope, *, site: str | None = None, status: str | None = None, area_id: int | None = None,
            severity: str | None = None, since: dt.datetime | None = None, limit: int = 100,
            offset: int = 0) -> list[dict]:
    h, s = HazardReport.__table__, Site.__table__
    q = (sa.select(h.c.id, h.c.site_id, s.c.code.label("site"), h.c.area_id, h.c.asset_id, h.c.category, h.c.title,
                   h.c.severity, h.c.status, h.c.source, h.c.reported_at, h.c.response_due_at, h.c.closed_at,
                   h.c.is_repeat)
         .join(s, s.c.id == h.c.site_id).where(site_filter(scope, h.c.site_id))
         .order_by(h.c.reported_at.desc(), h.c.id.desc()))
    if status:
        q = q.where(h.c.status == status)
    if area_id is not None:
        q = q.where(h.c.area_id == int(area_id))
    if severity:
        q = q.where(h.c.severity == severity)
    if since is not None:
        q = q.where(h.c.reported_at >= since)
    return _rows(bind, _site(q, s, site), limit, offset)


def vision_events(bind, scope: Scope, *, site: str | None = None, review_status: str | None = None,
                  label: str | None = None, event_id: int | None = None, since: dt.datetime | None = None,
                  limit: int | None = 100, offset: int = 0) -> list[dict]:
    v, s = VisionEvent.__table__, Site.__table__
    q = (sa.select(v.c.id, v.c.site_id, s.c.code.label("site"), v.c.area_id, v.c.camera_id, v.c.zone_id, v.c.label,
                   v.c.score, v.c.max_score, v.c.track_id, v.c.started_at, v.c.ended_at, v.c.review_status,
                   v.c.reviewed_at, v.c.review_note)
         .join(s, s.c.id == v.c.site_id).where(site_filter(scope, v.c.site_id))
         .order_by(v.c.started_at.desc(), v.c.id.desc()))
    if event_id is not None:
        q = q.where(v.c.id == int(event_id))
    if review_status:
        q = q.where(v.c.review_status == review_status)
    if label:
        q = q.where(v.c.label == label)
    if since is not None:
        q = q.where(v.c.started_at >= since)
    return _rows(bind, _site(q, s, site), limit, offset)


def emergencies(bind, scope: Scope, *, site: str | None = None, status: str | None = None,
                emergency_id: int | None = None, limit: int | None = 100, offset: int = 0) -> list[dict]:
    e, s = Emergency.__table__, Site.__table__
    cols = [e.c.id, e.c.site_id, s.c.code.label("site"), e.c.area_id, e.c.kind, e.c.status, e.c.description,
            e.c.declared_at, e.c.declared_by, e.c.closed_at, e.c.closed_by, e.c.plan_ms]
    if emergency_id is not None:
        cols.append(e.c.plan)
    q = (sa.select(*cols).join(s, s.c.id == e.c.site_id).where(site_filter(scope, e.c.site_id))
         .order_by(e.c.declared_at.desc(), e.c.id.desc()))
    if emergency_id is not None:
        q = q.where(e.c.id == int(emergency_id))
    if status:
        q = q.where(e.c.status == status)
    return _rows(bind, _site(q, s, site), limit, offset)


def predictions(bind, scope: Scope, *, site: str | None = None, asset_id: int | None = None,
                risk_band: str | None = None, latest_only: bool = True, limit: int = 100,
                offset: int = 0) -> list[dict]:
    """Failure predictions, most likely first; ``latest_only``: the newest one per asset."""
    fp, a, s = FailurePrediction.__table__, Asset.__table__, Site.__table__
    q = (sa.select(fp.c.id, fp.c.asset_id, a.c.code.label("asset"), a.c.site_id, s.c.code.label("site"),
                   fp.c.scored_at, fp.c.horizon_days, fp.c.probability, fp.c.risk_band, fp.c.model_name,
                   fp.c.model_version, fp.c.threshold)
         .join(a, a.c.id == fp.c.asset_id).join(s, s.c.id == a.c.site_id)
         .where(site_filter(scope, a.c.site_id)))
    if latest_only:
        newest = (sa.select(sa.func.max(fp.c.scored_at)).where(fp.c.asset_id == a.c.id)
                  .correlate(a).scalar_subquery())
        q = q.where(fp.c.scored_at == newest)
    if asset_id is not None:
        q = q.where(fp.c.asset_id == int(asset_id))
    if risk_band:
        q = q.where(fp.c.risk_band == risk_band)
    q = q.order_by(fp.c.probability.desc(), fp.c.id.desc())
    return _rows(bind, _site(q, s, site), limit, offset)
