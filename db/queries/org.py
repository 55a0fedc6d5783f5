"""Sites and areas visible to a scope (for filters and labels), and the data horizon."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.models import Alarm, Area, Department, HazardReport, Incident, Region, Site, VisionEvent
from qhse.domain.access import Scope

from .scope import site_filter


def sites(engine: sa.Engine, scope: Scope) -> pd.DataFrame:
    s, r = Site.__table__, Region.__table__
    q = (sa.select(s.c.id, s.c.code, s.c.name, s.c.industry, s.c.city, r.c.code.label("region"),
                   r.c.name.label("region_name"))
         .join(r, r.c.id == s.c.region_id)
         .where(site_filter(scope, s.c.id)).order_by(s.c.code))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "code", "name", "industry", "city", "region", "region_name"])


def areas(engine: sa.Engine, scope: Scope, site_ids: tuple[int, ...] | None = None) -> pd.DataFrame:
    a, s, d = Area.__table__, Site.__table__, Department.__table__
    q = (sa.select(a.c.id, a.c.site_id, s.c.code.label("site_code"), a.c.code, a.c.name, a.c.kind, a.c.risk_class,
                   a.c.is_gas_area, d.c.name.label("department"))
         .join(s, s.c.id == a.c.site_id).outerjoin(d, d.c.id == a.c.department_id)
         .where(site_filter(scope, a.c.site_id, site_ids)).order_by(s.c.code, a.c.code))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "site_id", "site_code", "code", "name", "kind", "risk_class",
                                     "is_gas_area", "department"])


def data_horizon(engine: sa.Engine, scope: Scope) -> dt.datetime | None:
    """The latest event time in the scope's data (hazards, alarms, incidents, vision events)."""
    parts = [
        sa.select(sa.func.max(HazardReport.reported_at)).where(site_filter(scope, HazardReport.site_id)),
        sa.select(sa.func.max(Alarm.raised_at)).where(site_filter(scope, Alarm.site_id)),
        sa.select(sa.func.max(Incident.occurred_at)).where(site_filter(scope, Incident.site_id)),
        sa.select(sa.func.max(VisionEvent.started_at)).where(site_filter(scope, VisionEvent.site_id)),
    ]
    with engine.connect() as conn:
        vals = [conn.execute(p).scalar() for p in parts]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None
