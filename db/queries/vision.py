"""PPE review queue and repeat-violation statistics (vision events), with the review write."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.models import Area, Camera, CameraZone, Site, UserAccount, VisionEvent
from qhse.domain.access import Scope

from .scope import site_filter

QUEUE_COLUMNS = ["id", "started_at", "ended_at", "label", "score", "max_score", "boxes", "snapshot_path", "site",
                 "site_id", "area", "camera", "zone", "required_ppe", "track_id"]


def review_queue(engine: sa.Engine, scope: Scope, *, site_ids=None, area_ids=None, limit: int = 200) -> pd.DataFrame:
    """Events awaiting review (status new), oldest first so nothing waits forever."""
    v, c, z, s, a = (VisionEvent.__table__, Camera.__table__, CameraZone.__table__, Site.__table__, Area.__table__)
    q = (sa.select(v.c.id, v.c.started_at, v.c.ended_at, v.c.label, v.c.score, v.c.max_score, v.c.boxes,
                   v.c.snapshot_path, s.c.code.label("site"), v.c.site_id, a.c.name.label("area"),
                   c.c.name.label("camera"), z.c.name.label("zone"), z.c.required_ppe, v.c.track_id)
         .join(c, c.c.id == v.c.camera_id).join(s, s.c.id == v.c.site_id)
         .outerjoin(z, z.c.id == v.c.zone_id).outerjoin(a, a.c.id == v.c.area_id)
         .where(v.c.review_status == "new", site_filter(scope, v.c.site_id, site_ids))
         .order_by(v.c.started_at, v.c.id).limit(limit))
    if area_ids:
        q = q.where(v.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=QUEUE_COLUMNS)


def queue_size(engine: sa.Engine, scope: Scope, *, site_ids=None, area_ids=None) -> int:
    v = VisionEvent.__table__
    q = sa.select(sa.func.count()).where(v.c.review_status == "new", site_filter(scope, v.c.site_id, site_ids))
    if area_ids:
        q = q.where(v.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def violations_by_zone_hour(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, tz: str,
                            site_ids=None, area_ids=None) -> pd.DataFrame:
    """Confirmed violations per zone and local hour of day in [start, end)."""
    v, c, z, s = VisionEvent.__table__, Camera.__table__, CameraZone.__table__, Site.__table__
    hour = sa.cast(sa.extract("hour", sa.func.timezone(tz, v.c.started_at)), sa.Integer).label("hour")
    zone = sa.func.concat(s.c.code, " · ", sa.func.coalesce(z.c.name, c.c.name)).label("zone")
    q = (sa.select(zone, hour, v.c.label, sa.func.count().label("n"))
         .join(c, c.c.id == v.c.camera_id).join(s, s.c.id == v.c.site_id).outerjoin(z, z.c.id == v.c.zone_id)
         .where(v.c.review_status == "confirmed", v.c.started_at >= start, v.c.started_at < end,
                site_filter(scope, v.c.site_id, site_ids))
         .group_by(zone, hour, v.c.label))
    if area_ids:
        q = q.where(v.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=["zone", "hour", "label", "n"])


def review_outcomes(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, site_ids=None,
                    area_ids=None) -> pd.DataFrame:
    """Events of [start, end) by review status and reviewer."""
    v, u = VisionEvent.__table__, UserAccount.__table__
    q = (sa.select(v.c.review_status, sa.func.coalesce(u.c.username, "-").label("reviewer"),
                   sa.func.count().label("n"))
         .outerjoin(u, u.c.id == v.c.reviewed_by)
         .where(v.c.started_at >= start, v.c.started_at < end, site_filter(scope, v.c.site_id, site_ids))
         .group_by(v.c.review_status, "reviewer"))
    if area_ids:
        q = q.where(v.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=["review_status", "reviewer", "n"])


def event_state(conn: sa.Connection, event_id: int, *, lock: bool = False) -> dict | None:
    v = VisionEvent.__table__
    q = sa.select(v.c.id, v.c.site_id, v.c.review_status, v.c.reviewed_by).where(v.c.id == event_id)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def set_review(conn: sa.Connection, event_id: int, *, status: str, user_id: int | None, at: dt.datetime,
               note: str | None) -> None:
    v = VisionEvent.__table__
    conn.execute(sa.update(v).where(v.c.id == event_id)
                 .values(review_status=status, reviewed_by=user_id, reviewed_at=at, review_note=note))
