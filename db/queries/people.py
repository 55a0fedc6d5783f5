"""People with their training status; health fields returned only to scopes that may read them.

Columns marked ``info={'sensitive': True}`` on ``person`` are selected from the database
only when ``scope.sensitive`` is set; otherwise the query returns the mask in their place,
so the values never leave the database for other roles.  Every read that does return
them is written to the audit log (who, which people) in the same transaction.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.models import Department, Person, Post, Site, TrainingRecord
from qhse.domain.access import MASK, Scope

from . import audit
from .scope import site_filter

SENSITIVE = tuple(c.name for c in Person.__table__.columns if c.info.get("sensitive"))


def people(engine: sa.Engine, scope: Scope, *, site_ids=None, kind: str | None = None, search: str | None = None,
           today: dt.date | None = None, limit: int = 500) -> pd.DataFrame:
    p, s, d, po, tr = (Person.__table__, Site.__table__, Department.__table__, Post.__table__,
                       TrainingRecord.__table__)
    today = today or dt.date.today()
    valid = (sa.select(sa.func.count()).where(tr.c.person_id == p.c.id, tr.c.passed,
                                              sa.or_(tr.c.expires_on.is_(None), tr.c.expires_on >= today))
             .scalar_subquery())
    expired = (sa.select(sa.func.count()).where(tr.c.person_id == p.c.id, tr.c.expires_on < today)
               .scalar_subquery())
    health = [p.c[c] if scope.sensitive else sa.literal(MASK).label(c) for c in SENSITIVE]
    q = (sa.select(p.c.id, p.c.employee_no, p.c.name, p.c.kind, s.c.code.label("site"), d.c.name.label("department"),
                   po.c.name.label("post"), valid.label("training_valid"), expired.label("training_expired"), *health)
         .join(s, s.c.id == p.c.site_id).outerjoin(d, d.c.id == p.c.department_id).outerjoin(po, po.c.id == p.c.post_id)
         .where(p.c.active, site_filter(scope, p.c.site_id, site_ids)).order_by(s.c.code, p.c.name).limit(limit))
    if kind:
        q = q.where(p.c.kind == kind)
    if search:
        like = f"%{search.strip()}%"
        q = q.where(sa.or_(p.c.name.ilike(like), p.c.employee_no.ilike(like)))
    with engine.begin() as conn:
        rows = conn.execute(q).mappings().all()
        if scope.sensitive and rows:
            audit.record(conn, scope, "read_sensitive", entity="person", sensitive=True,
                         detail={"fields": list(SENSITIVE), "count": len(rows),
                                 "person_ids": [r["id"] for r in rows][:1000]})
    return pd.DataFrame(rows, columns=["id", "employee_no", "name", "kind", "site", "department", "post",
                                       "training_valid", "training_expired", *SENSITIVE])
