"""Dispatch applied: the matching ``dispatch_rule`` rows and departments of a hazard, and who
leads each department's action.  The rule (matching, specificity, fallback) is
:mod:`qhse.domain.dispatch`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.dispatch import (
    Dispatch,
    check_severity,
    dispatch_of,
    fallback,
    lead_is_area_owner,
    missing_departments,
    rank,
    rule_departments,
)


def matching_rules(session: Session, *, site_id: int, area_id: int, category: str,
                   severity: str) -> list[m.DispatchRule]:
    """Active rules that match, most specific first."""
    check_severity(severity)
    R = m.DispatchRule
    rows = session.scalars(sa.select(R).where(
        R.active.is_(True),
        sa.or_(R.site_id.is_(None), R.site_id == site_id),
        sa.or_(R.area_id.is_(None), R.area_id == area_id),
        sa.or_(R.category.is_(None), R.category == category),
    )).all()
    return rank(rows, severity)


def dispatch(session: Session, hazard: m.HazardReport) -> Dispatch:
    """The owner team(s) of ``hazard``."""
    area = session.get(m.Area, hazard.area_id)
    for rule in matching_rules(session, site_id=hazard.site_id, area_id=hazard.area_id, category=hazard.category,
                               severity=hazard.severity):
        ids = rule_departments(rule)
        if not ids:
            continue
        found = set(session.scalars(sa.select(m.Department.id).where(m.Department.id.in_(ids),
                                                                     m.Department.site_id == hazard.site_id)))
        missing_departments(rule, ids, found, hazard.site_id)
        return dispatch_of(rule, ids)
    return fallback(hazard.id, area.department_id if area is not None else None)


def department_lead(session: Session, department_id: int, area: m.Area | None = None) -> int | None:
    """Who owns a department's action: the area owner for the area's own department,
    otherwise the department's supervisor (or its longest-serving active member)."""
    if area is not None and lead_is_area_owner(area.department_id, area.owner_person_id, department_id):
        return area.owner_person_id
    P, Post = m.Person, m.Post
    return session.scalar(
        sa.select(P.id).outerjoin(Post, Post.id == P.post_id)
        .where(P.department_id == department_id, P.active.is_(True))
        .order_by(sa.case((Post.code == "SUP", 0), else_=1), P.hired_on.asc().nulls_last(), P.id)
        .limit(1))
