"""Recurrence applied: finding and linking the predecessor of a hazard report.

The rule (window, what makes a repeat) is :mod:`qhse.domain.recurrence`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.recurrence import repeat_key, window_days


def find_predecessor(session: Session, hazard: m.HazardReport, site: m.Site) -> m.HazardReport | None:
    H = m.HazardReport
    key = repeat_key(category=hazard.category, asset_id=hazard.asset_id, area_id=hazard.area_id,
                     reported_at=hazard.reported_at, days=window_days(site.settings, site.code))
    place = H.asset_id == key.asset_id if key.asset_id else H.area_id == key.area_id
    q = (sa.select(H).where(place, H.category == key.category, H.status != key.excluded_status,
                            H.reported_at >= key.since, H.reported_at <= key.until)
         .order_by(H.reported_at.desc(), H.id.desc()).limit(1))
    if hazard.id is not None:
        q = q.where(H.id != hazard.id)
    return session.scalar(q)


def link(session: Session, hazard: m.HazardReport, site: m.Site) -> m.HazardReport | None:
    """Mark ``hazard`` as a repeat of its most recent predecessor (if any); returns it."""
    prev = find_predecessor(session, hazard, site)
    if prev is not None:
        hazard.predecessor_id = prev.id
        hazard.is_repeat = True
    return prev


def predecessors(session: Session, hazard_id: int, limit: int = 100) -> list[m.HazardReport]:
    """Every earlier report in the chain, newest first."""
    out: list[m.HazardReport] = []
    seen = {hazard_id}
    h = session.get(m.HazardReport, hazard_id)
    while h is not None and h.predecessor_id and len(out) < limit:
        if h.predecessor_id in seen:
            break
        seen.add(h.predecessor_id)
        h = session.get(m.HazardReport, h.predecessor_id)
        if h is not None:
            out.append(h)
    return out
