"""Operational counts for the overview page: overdue actions, open alarms, PPE violations.

Each count is taken "as of" a time so the same figure can be compared with the end of
the previous period.  Scope and the requested sites/areas are applied here.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.models import Alarm, Area, CorrectiveAction, HazardReport, VisionEvent
from qhse.domain.access import Scope

from .scope import site_filter


def _area_filter(column, area_ids):
    return sa.true() if not area_ids else column.in_(tuple(area_ids))


def overdue_actions(engine: sa.Engine, scope: Scope, *, at: dt.datetime, site_ids=None, area_ids=None) -> int:
    """Corrective actions that existed at ``at``, were past due then, and not completed by then."""
    ca, h = CorrectiveAction.__table__, HazardReport.__table__
    q = (sa.select(sa.func.count()).select_from(ca.join(h, h.c.id == ca.c.hazard_id))
         .where(ca.c.status != "cancelled", ca.c.created_at <= at, ca.c.due_at < at,
                sa.or_(ca.c.completed_at.is_(None), ca.c.completed_at > at),
                site_filter(scope, h.c.site_id, site_ids), _area_filter(h.c.area_id, area_ids)))
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def open_alarms(engine: sa.Engine, scope: Scope, *, at: dt.datetime, site_ids=None, area_ids=None) -> dict[str, int]:
    """Alarms raised by ``at`` and not cleared by then, by severity (plus 'total')."""
    a = Alarm.__table__
    q = (sa.select(a.c.severity, sa.func.count())
         .where(a.c.raised_at <= at, sa.or_(a.c.cleared_at.is_(None), a.c.cleared_at > at),
                site_filter(scope, a.c.site_id, site_ids), _area_filter(a.c.area_id, area_ids))
         .group_by(a.c.severity))
    with engine.connect() as conn:
        out = {sev: int(n) for sev, n in conn.execute(q)}
    out["total"] = sum(out.values())
    return out


def alarms_raised(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, site_ids=None,
                  area_ids=None) -> int:
    a = Alarm.__table__
    q = sa.select(sa.func.count()).where(a.c.raised_at >= start, a.c.raised_at < end,
                                         site_filter(scope, a.c.site_id, site_ids), _area_filter(a.c.area_id, area_ids))
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def ppe_violations(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, site_ids=None,
                   area_ids=None) -> dict[str, int]:
    """Vision events started in [start, end): confirmed violations, and those still awaiting review."""
    v = VisionEvent.__table__
    q = (sa.select(v.c.review_status, sa.func.count())
         .where(v.c.started_at >= start, v.c.started_at < end, site_filter(scope, v.c.site_id, site_ids),
                _area_filter(v.c.area_id, area_ids))
         .group_by(v.c.review_status))
    with engine.connect() as conn:
        by = {s: int(n) for s, n in conn.execute(q)}
    return {"confirmed": by.get("confirmed", 0), "new": by.get("new", 0)}


def areas_of(engine: sa.Engine, scope: Scope, area_ids) -> list[int]:
    """The requested areas that lie in the scope."""
    ar = Area.__table__
    q = sa.select(ar.c.id).where(ar.c.id.in_(tuple(area_ids or ())), site_filter(scope, ar.c.site_id))
    with engine.connect() as conn:
        return sorted(conn.execute(q).scalars())
