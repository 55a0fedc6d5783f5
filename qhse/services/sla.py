"""Service levels applied: the SLA policy of a hazard from ``sla_policy`` and the site's
settings, and the escalation job.

The rules (defaults, calendars, policy specificity, the escalation ladder, board states)
are :mod:`qhse.domain.sla`.  Escalation is idempotent: one ``action_escalation`` row per
(action, level), and notifications are queued only by the transaction that inserted
that row.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.sla import (
    DEFAULT_RESPONSE_HOURS,
    MAX_LEVEL,
    Policy,
    SlaError,
    WorkingCalendar,
    calendar_from_settings,
    check_severity,
    escalation_message,
    escalation_steps,
    most_specific,
    rectify_hours,
    response_hours,
)

log = logging.getLogger("qhse.services.sla")

UTC = dt.UTC


def site_calendar(site: m.Site) -> WorkingCalendar | None:
    return calendar_from_settings(site.settings, site.timezone)


def resolve_policy(session: Session, site: m.Site, category: str, severity: str) -> Policy:
    """The most specific ``sla_policy`` row for (site, category, severity), else the default."""
    check_severity(severity)
    P = m.SlaPolicy
    rows = session.scalars(
        sa.select(P).where(
            P.severity == severity,
            sa.or_(P.site_id.is_(None), P.site_id == site.id),
            sa.or_(P.category.is_(None), P.category == category),
        )
    ).all()
    best = most_specific(rows)
    if best is not None:
        hours = response_hours(best.response_hours, best.id)
        cal = site_calendar(site) if best.use_calendar else None
        source = f"sla_policy #{best.id}"
    else:
        hours, cal, source = DEFAULT_RESPONSE_HOURS[severity], None, "default"
    return Policy(severity=severity, response_hours=hours,
                  rectify_hours=rectify_hours(site.settings, severity, site.code), calendar=cal, source=source)


class PolicyCache:
    """Policies looked up once per (site, category, severity) within one job run."""

    def __init__(self, session: Session):
        self.session = session
        self._sites: dict[int, m.Site] = {}
        self._policies: dict[tuple[int, str, str], Policy] = {}

    def site(self, site_id: int) -> m.Site:
        if site_id not in self._sites:
            # A hazard's site_id is a foreign key: the site exists.
            self._sites[site_id] = cast(m.Site, self.session.get(m.Site, site_id))
        return self._sites[site_id]

    def policy(self, site_id: int, category: str, severity: str) -> Policy:
        key = (site_id, category, severity)
        if key not in self._policies:
            self._policies[key] = resolve_policy(self.session, self.site(site_id), category, severity)
        return self._policies[key]


# ---------------------------------------------------------------------------- escalation
@dataclass
class EscalationResult:
    checked: int = 0
    escalations: int = 0  # new action_escalation rows
    notifications: int = 0
    by_level: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lv = ", ".join(f"L{k}: {v}" for k, v in sorted(self.by_level.items())) or "none"
        out = f"{self.checked} overdue actions checked, {self.escalations} escalations ({lv}), " \
              f"{self.notifications} notifications queued"
        if self.errors:
            out += f"; {len(self.errors)} skipped: " + "; ".join(self.errors[:3])
        return out


def escalate_overdue(session: Session, now: dt.datetime | None = None) -> EscalationResult:
    """Raise every overdue open action to the level its lateness calls for.

    Safe to run from several processes at once: rows being escalated elsewhere are
    skipped (``SKIP LOCKED``), each (action, level) is inserted once, and notifications
    are queued only for rows this call inserted.  The caller commits.
    """
    from qhse.services import notify

    now = now or dt.datetime.now(UTC)
    A, H = m.CorrectiveAction, m.HazardReport
    rows = session.execute(
        sa.select(A, H)
        .join(H, H.id == A.hazard_id)
        .where(A.status.in_(("open", "in_progress")), A.due_at < now, A.escalation_level < MAX_LEVEL)
        .order_by(A.due_at, A.id)
        .with_for_update(of=A, skip_locked=True)
    ).all()
    res = EscalationResult(checked=len(rows))
    cache = PolicyCache(session)
    routing: dict[tuple[object, ...], Any] = {}
    todo = []  # (action, hazard, policy, target level)
    for action, hazard in rows:
        try:
            policy = cache.policy(hazard.site_id, hazard.category, hazard.severity)
        except SlaError as exc:
            res.errors.append(f"action #{action.id}: {exc}")
            log.warning("escalation of action #%s skipped: %s", action.id, exc)
            continue
        target = policy.escalation_level(action.due_at, now)
        if target > action.escalation_level:
            todo.append((action, hazard, policy, target))
    # The escalation rows in bulk; only the rows this call inserted are notified.
    steps = [dict(action_id=a.id, level=lv, escalated_at=now, notified=role)
             for a, _, _, target in todo for lv, role in escalation_steps(a.escalation_level, target)]
    inserted: set[tuple[int, int]] = set()
    E = m.ActionEscalation.__table__
    for i in range(0, len(steps), 1000):
        inserted.update(tuple(r) for r in session.execute(
            pg_insert(E).values(steps[i:i + 1000]).on_conflict_do_nothing(index_elements=["action_id", "level"])
            .returning(E.c.action_id, E.c.level)).all())
    for action, hazard, policy, target in todo:
        for level, role in escalation_steps(action.escalation_level, target):
            if (action.id, level) not in inserted:
                continue
            res.escalations += 1
            res.by_level[level] = res.by_level.get(level, 0) + 1
            subject, body = escalation_message(
                role=role, level=level, action_id=action.id, action_description=action.description,
                hazard_id=hazard.id, hazard_title=hazard.title, severity=hazard.severity, category=hazard.category,
                due_at=action.due_at, late_hours=policy.elapsed_hours(action.due_at, now),
                working_hours=policy.calendar is not None, period_hours=policy.response_hours)
            res.notifications += notify.notify_role(
                session, site_id=hazard.site_id, role=role, subject=subject, body=body,
                ref=f"action:{action.id}:level:{level}", action=action, hazard=hazard, now=now, cache=routing)
        action.escalation_level = max(action.escalation_level, target)
        action.last_escalated_at = now
    session.flush()
    return res
