"""Recurrence: the same kind of hazard at the same place again within N days.

A new report is a repeat when an earlier, not rejected report of the same category was
made at the same asset (or, for reports without an asset, in the same area) within the
site's window (``settings["recurrence_days"]``, default 30).  It is linked to the most
recent such report (``predecessor_id``); following the links gives every predecessor.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m

DEFAULT_WINDOW_DAYS = 30


class RecurrenceError(ValueError):
    pass


def window_days(site: m.Site) -> int:
    v = (site.settings or {}).get("recurrence_days", DEFAULT_WINDOW_DAYS)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise RecurrenceError(f"site {site.code}: recurrence_days must be a whole number of days >= 1")
    return v


def find_predecessor(session: Session, hazard: m.HazardReport, site: m.Site) -> m.HazardReport | None:
    H = m.HazardReport
    since = hazard.reported_at - dt.timedelta(days=window_days(site))
    place = H.asset_id == hazard.asset_id if hazard.asset_id else H.area_id == hazard.area_id
    q = (sa.select(H).where(place, H.category == hazard.category, H.status != "rejected",
                            H.reported_at >= since, H.reported_at <= hazard.reported_at)
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
