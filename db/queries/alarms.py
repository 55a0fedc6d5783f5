"""Alarms for the live page: open alarms, recent history, and the acknowledge write."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.models import Alarm, AlarmRule, Area, Asset, Sensor, Site
from qhse.domain.access import Scope
from qhse.vocab import AlarmSeverity

from .scope import site_filter

# Most severe first: critical 0, warning 1, info 2.
SEVERITY_ORDER = {s.value: i for i, s in enumerate(reversed(AlarmSeverity))}


def open_alarms(engine: sa.Engine, scope: Scope, *, site_ids=None, area_ids=None, limit: int = 500) -> pd.DataFrame:
    """Alarms not cleared, most severe and newest first."""
    a, r, s, ar, se, asst = (Alarm.__table__, AlarmRule.__table__, Site.__table__, Area.__table__, Sensor.__table__,
                             Asset.__table__)
    sev_rank = sa.case(SEVERITY_ORDER, value=a.c.severity, else_=len(SEVERITY_ORDER))
    q = (sa.select(a.c.id, a.c.severity, a.c.status, a.c.raised_at, a.c.updated_at, s.c.code.label("site"),
                   ar.c.name.label("area"), se.c.code.label("sensor"), se.c.kind.label("sensor_kind"), se.c.unit,
                   asst.c.code.label("asset"), r.c.name.label("rule"), a.c.first_value, a.c.last_value, a.c.peak_value,
                   a.c.update_count, a.c.acknowledged_at, a.c.acknowledged_by, a.c.message, a.c.site_id, a.c.area_id)
         .join(r, r.c.id == a.c.rule_id).join(s, s.c.id == a.c.site_id).join(ar, ar.c.id == a.c.area_id)
         .join(se, se.c.id == a.c.sensor_id).outerjoin(asst, asst.c.id == se.c.asset_id)
         .where(a.c.cleared_at.is_(None), site_filter(scope, a.c.site_id, site_ids))
         .order_by(sev_rank, a.c.raised_at.desc(), a.c.id.desc()).limit(limit))
    if area_ids:
        q = q.where(a.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    cols = ["id", "severity", "status", "raised_at", "updated_at", "site", "area", "sensor", "sensor_kind", "unit",
            "asset", "rule", "first_value", "last_value", "peak_value", "update_count", "acknowledged_at",
            "acknowledged_by", "message", "site_id", "area_id"]
    return pd.DataFrame(rows, columns=cols)


def alarm_counts_by_day(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, tz: str,
                        site_ids=None, area_ids=None) -> pd.DataFrame:
    """Alarms raised per local day and severity in [start, end)."""
    a = Alarm.__table__
    day = sa.cast(sa.func.date_trunc("day", sa.func.timezone(tz, a.c.raised_at)), sa.Date).label("day")
    q = (sa.select(day, a.c.severity, sa.func.count().label("n"))
         .where(a.c.raised_at >= start, a.c.raised_at < end, site_filter(scope, a.c.site_id, site_ids))
         .group_by(day, a.c.severity).order_by(day))
    if area_ids:
        q = q.where(a.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=["day", "severity", "n"])


def recent_alarms(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, site_ids=None,
                  area_ids=None, limit: int = 200) -> pd.DataFrame:
    """Alarms raised in [start, end), newest first, with how long they took to acknowledge and clear."""
    a, r, s, ar = Alarm.__table__, AlarmRule.__table__, Site.__table__, Area.__table__
    ack_min = (sa.extract("epoch", a.c.acknowledged_at - a.c.raised_at) / 60.0).label("minutes_to_ack")
    clr_min = (sa.extract("epoch", a.c.cleared_at - a.c.raised_at) / 60.0).label("minutes_to_clear")
    q = (sa.select(a.c.id, a.c.raised_at, a.c.severity, a.c.status, s.c.code.label("site"), ar.c.name.label("area"),
                   r.c.name.label("rule"), a.c.peak_value, a.c.acknowledged_by, ack_min, clr_min)
         .join(r, r.c.id == a.c.rule_id).join(s, s.c.id == a.c.site_id).join(ar, ar.c.id == a.c.area_id)
         .where(a.c.raised_at >= start, a.c.raised_at < end, site_filter(scope, a.c.site_id, site_ids))
         .order_by(a.c.raised_at.desc()).limit(limit))
    if area_ids:
        q = q.where(a.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "raised_at", "severity", "status", "site", "area", "rule", "peak_value",
                                     "acknowledged_by", "minutes_to_ack", "minutes_to_clear"])


def alarm_state(conn: sa.Connection, alarm_id: int, *, lock: bool = False) -> dict | None:
    a = Alarm.__table__
    q = sa.select(a.c.id, a.c.site_id, a.c.status, a.c.acknowledged_at, a.c.cleared_at).where(a.c.id == alarm_id)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def set_acknowledged(conn: sa.Connection, alarm_id: int, *, by: str, at: dt.datetime) -> None:
    a = Alarm.__table__
    conn.execute(sa.update(a).where(a.c.id == alarm_id)
                 .values(status="acknowledged", acknowledged_at=at, acknowledged_by=by[:80], updated_at=at))
