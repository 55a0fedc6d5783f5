"""Dispatch: which team(s) own a hazard, from the editable rules in ``dispatch_rule``.

A rule matches a hazard when each of its filled-in fields matches (site, area, category,
and ``min_severity`` at or below the hazard's severity).  The most specific matching
rule wins: an area rule beats a site rule beats a group-wide one; then a rule naming a
category beats one that does not; then a rule with a severity floor; ties go to the
lowest ``priority`` number, then the oldest rule.  A rule may name several departments:
the hazard is then cross-department, and every department gets its own corrective
action (and its own notification), so each team's part is tracked separately.  With no
matching rule, the department that owns the area is the owner team.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m

SEVERITY_RANK = {"low": 0, "normal": 1, "high": 2, "severe": 3}


class DispatchError(ValueError):
    """No owner team can be found, or a rule is broken; one line."""


@dataclass(frozen=True)
class Dispatch:
    department_ids: tuple[int, ...]
    rule_id: int | None  # None: the area's own department

    @property
    def cross_department(self) -> bool:
        return len(self.department_ids) > 1


def _specificity(r: m.DispatchRule) -> tuple:
    return (r.area_id is not None, r.site_id is not None, r.category is not None,
            SEVERITY_RANK.get(r.min_severity, -1) if r.min_severity else -1, -r.priority, -r.id)


def matching_rules(session: Session, *, site_id: int, area_id: int, category: str, severity: str) -> list[m.DispatchRule]:
    """Active rules that match, most specific first."""
    if severity not in SEVERITY_RANK:
        raise DispatchError(f"unknown severity {severity!r}")
    R = m.DispatchRule
    rows = session.scalars(sa.select(R).where(
        R.active.is_(True),
        sa.or_(R.site_id.is_(None), R.site_id == site_id),
        sa.or_(R.area_id.is_(None), R.area_id == area_id),
        sa.or_(R.category.is_(None), R.category == category),
    )).all()
    ok = [r for r in rows if not r.min_severity or SEVERITY_RANK.get(r.min_severity, 99) <= SEVERITY_RANK[severity]]
    return sorted(ok, key=_specificity, reverse=True)


def dispatch(session: Session, hazard: m.HazardReport) -> Dispatch:
    """The owner team(s) of ``hazard``."""
    area = session.get(m.Area, hazard.area_id)
    for rule in matching_rules(session, site_id=hazard.site_id, area_id=hazard.area_id, category=hazard.category,
                               severity=hazard.severity):
        ids = [int(x) for x in (rule.department_ids or []) if isinstance(x, int | str) and str(x).isdigit()]
        if not ids:
            continue
        found = set(session.scalars(sa.select(m.Department.id).where(m.Department.id.in_(ids),
                                                                     m.Department.site_id == hazard.site_id)))
        missing = [i for i in ids if i not in found]
        if missing:
            raise DispatchError(f"dispatch_rule #{rule.id} names department(s) {missing} that are not at site "
                                f"#{hazard.site_id}; fix the rule")
        return Dispatch(tuple(dict.fromkeys(ids)), rule.id)
    if area is None or area.department_id is None:
        raise DispatchError(f"no dispatch rule matches hazard #{hazard.id} and its area has no owning department")
    return Dispatch((area.department_id,), None)


def department_lead(session: Session, department_id: int, area: m.Area | None = None) -> int | None:
    """Who owns a department's action: the area owner for the area's own department,
    otherwise the department's supervisor (or its longest-serving active member)."""
    if area is not None and area.department_id == department_id and area.owner_person_id:
        return area.owner_person_id
    P, Post = m.Person, m.Post
    return session.scalar(
        sa.select(P.id).outerjoin(Post, Post.id == P.post_id)
        .where(P.department_id == department_id, P.active.is_(True))
        .order_by(sa.case((Post.code == "SUP", 0), else_=1), P.hired_on.asc().nulls_last(), P.id)
        .limit(1))
