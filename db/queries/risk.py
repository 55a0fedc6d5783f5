"""Reads behind the risk page: the hazard register and the items of one area."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.models import Alarm, AlarmRule, Area, Asset, FailurePrediction, HazardReport, Sensor, Site, VisionEvent
from qhse.domain.access import Scope
from qhse.vocab import HazardStatus, ReviewStatus

from .scope import site_filter

OPEN_HAZARD = tuple(s.value for s in HazardStatus if s not in (HazardStatus.CLOSED, HazardStatus.REJECTED))


def hazard_register(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, site_ids=None,
                    area_ids=None, open_only: bool = False) -> pd.DataFrame:
    """Hazards reported in [start, end) (rejected ones excluded), with likelihood and consequence."""
    h, s, a = HazardReport.__table__, Site.__table__, Area.__table__
    q = (sa.select(h.c.id, s.c.code.label("site"), a.c.name.label("area"), h.c.area_id, h.c.category, h.c.title,
                   h.c.severity, h.c.likelihood, h.c.consequence, h.c.status, h.c.reported_at)
         .join(s, s.c.id == h.c.site_id).join(a, a.c.id == h.c.area_id)
         .where(h.c.reported_at >= start, h.c.reported_at < end, h.c.status != HazardStatus.REJECTED.value,
                site_filter(scope, h.c.site_id, site_ids))
         .order_by(h.c.reported_at.desc()))
    if area_ids:
        q = q.where(h.c.area_id.in_(tuple(area_ids)))
    if open_only:
        q = q.where(h.c.status.in_(OPEN_HAZARD))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "site", "area", "area_id", "category", "title", "severity", "likelihood",
                                     "consequence", "status", "reported_at"])


def area_items(engine: sa.Engine, scope: Scope, area_id: int, *, start: dt.datetime, end: dt.datetime) -> dict:
    """What lies behind one area's risk: hazards, alarms, predictions, PPE violations of the period."""
    ar = Area.__table__
    with engine.connect() as conn:
        area = conn.execute(sa.select(ar.c.id, ar.c.name, ar.c.site_id, ar.c.risk_class)
                            .where(ar.c.id == area_id, site_filter(scope, ar.c.site_id))).mappings().first()
        if area is None:
            return {}
        h = HazardReport.__table__
        hz = pd.DataFrame(conn.execute(
            sa.select(h.c.id, h.c.reported_at, h.c.category, h.c.title, h.c.severity, h.c.likelihood, h.c.consequence,
                      h.c.status)
            .where(h.c.area_id == area_id, h.c.reported_at >= start, h.c.reported_at < end,
                   h.c.status != HazardStatus.REJECTED.value)
            .order_by(h.c.reported_at.desc())).mappings().all(),
            columns=["id", "reported_at", "category", "title", "severity", "likelihood", "consequence", "status"])
        al, r, se = Alarm.__table__, AlarmRule.__table__, Sensor.__table__
        alarms = pd.DataFrame(conn.execute(
            sa.select(al.c.id, al.c.raised_at, al.c.severity, al.c.status, r.c.name.label("rule"),
                      se.c.code.label("sensor"), al.c.peak_value, se.c.unit)
            .join(r, r.c.id == al.c.rule_id).join(se, se.c.id == al.c.sensor_id)
            .where(al.c.area_id == area_id, al.c.raised_at >= start, al.c.raised_at < end)
            .order_by(al.c.raised_at.desc()).limit(200)).mappings().all(),
            columns=["id", "raised_at", "severity", "status", "rule", "sensor", "peak_value", "unit"])
        fp, asst = FailurePrediction.__table__, Asset.__table__
        latest = (sa.select(fp.c.probability, fp.c.risk_band, fp.c.scored_at)
                  .where(fp.c.asset_id == asst.c.id, fp.c.scored_at < end)
                  .order_by(fp.c.scored_at.desc()).limit(1).lateral("latest"))
        preds = pd.DataFrame(conn.execute(
            sa.select(asst.c.code.label("asset"), asst.c.name, latest.c.probability, latest.c.risk_band,
                      latest.c.scored_at)
            .join(latest, sa.true())
            .where(asst.c.area_id == area_id, asst.c.active).order_by(latest.c.probability.desc())).mappings().all(),
            columns=["asset", "name", "probability", "risk_band", "scored_at"])
        v = VisionEvent.__table__
        ppe = pd.DataFrame(conn.execute(
            sa.select(v.c.id, v.c.started_at, v.c.label, v.c.score, v.c.review_status)
            .where(v.c.area_id == area_id, v.c.started_at >= start, v.c.started_at < end,
                   v.c.review_status.in_((ReviewStatus.NEW.value, ReviewStatus.CONFIRMED.value)))
            .order_by(v.c.started_at.desc()).limit(200)).mappings().all(),
            columns=["id", "started_at", "label", "score", "review_status"])
    return {"area": dict(area), "hazards": hz, "alarms": alarms, "predictions": preds, "ppe": ppe}
