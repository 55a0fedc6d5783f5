"""Scoped reads for the hazards-and-actions page: the reporter's own reports and photos (the SLA board,
lists and detail are in db.queries.hazards)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from db.models import Area, HazardReport, HazardTransition, Site
from qhse.domain.access import Scope

from .scope import site_filter


def my_reports(engine: sa.Engine, scope: Scope, *, limit: int = 100) -> pd.DataFrame:
    """Reports filed by the signed-in user, with their latest step (the reporter's view)."""
    h, s, a, t = HazardReport.__table__, Site.__table__, Area.__table__, HazardTransition.__table__
    last = (sa.select(t.c.to_status, t.c.at, t.c.actor).where(t.c.hazard_id == h.c.id)
            .order_by(t.c.at.desc(), t.c.id.desc()).limit(1).lateral("last"))
    q = (sa.select(h.c.id, h.c.title, h.c.category, h.c.severity, h.c.status, s.c.code.label("site"),
                   a.c.name.label("area"), h.c.reported_at, h.c.response_due_at, h.c.responded_at, h.c.closed_at,
                   h.c.reject_reason, h.c.points_awarded, h.c.photo_path, last.c.to_status.label("last_step"),
                   last.c.at.label("last_step_at"), last.c.actor.label("last_step_by"))
         .join(s, s.c.id == h.c.site_id).join(a, a.c.id == h.c.area_id).outerjoin(last, sa.true())
         .where(h.c.reporter_user_id == scope.user_id, site_filter(scope, h.c.site_id))
         .order_by(h.c.reported_at.desc(), h.c.id.desc()).limit(limit))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "title", "category", "severity", "status", "site", "area", "reported_at",
                                     "response_due_at", "responded_at", "closed_at", "reject_reason", "points_awarded",
                                     "photo_path", "last_step", "last_step_at", "last_step_by"])


def hazard_photo_path(engine: sa.Engine, scope: Scope, hazard_id: int) -> str | None:
    h = HazardReport.__table__
    q = sa.select(h.c.photo_path).where(h.c.id == hazard_id, site_filter(scope, h.c.site_id))
    with engine.connect() as conn:
        return conn.execute(q).scalar()
