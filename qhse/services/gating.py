"""Training gating: who may not enter an area because their training is not valid.

The rules (which rule covers which area, when it bites, the violation and its message) are
:mod:`qhse.domain.gating`; here the rules, the training records and the open alarms are read.

A bite is a :class:`qhse.domain.gating.Violation`.  :func:`raise_warnings` turns violations into no-entry
warnings (one open warning per rule, person and area) and notifies the area owner;
:func:`scan` checks everyone associated with each area (people inside now, workers of
the area's current contractor jobs, the owning department's staff, anyone with an open
warning) and resolves the warnings that no longer hold.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.gating import Violation, find_violations, live_rules, needs_alarm_check, resolution, rule_applies

UTC = dt.UTC


@dataclass
class ScanResult:
    areas: int = 0
    people_checked: int = 0
    raised: list[int] = field(default_factory=list)  # new entry_warning ids
    resolved: int = 0
    open: int = 0

    def describe(self) -> str:
        return (f"{self.areas} areas, {self.people_checked} person-area checks: {len(self.raised)} new no-entry "
                f"warnings, {self.resolved} resolved, {self.open} open")


def rules_for(s: Session, area: m.Area) -> list[m.GatingRule]:
    rules = s.scalars(sa.select(m.GatingRule).where(m.GatingRule.active.is_(True)).order_by(m.GatingRule.id))
    return [r for r in rules if rule_applies(r, area)]


def open_alarm_id(s: Session, area_id: int, at: dt.datetime) -> int | None:
    """The most recent alarm open in the area at ``at``."""
    A = m.Alarm
    return s.scalar(sa.select(A.id).where(A.area_id == area_id, A.raised_at <= at,
                                          sa.or_(A.cleared_at.is_(None), A.cleared_at > at))
                    .order_by(A.raised_at.desc(), A.id.desc()).limit(1))


def training_state(s: Session, person_ids: Iterable[int], codes: Iterable[str],
                   day: dt.date) -> dict[tuple[int, str], dt.date | None | bool]:
    """(person, course) -> True (valid on ``day``) or the last expiry date (None: never trained)."""
    pids, codes = sorted(set(person_ids)), sorted(set(codes))
    if not pids or not codes:
        return {}
    rows = s.execute(sa.text("""
        SELECT tr.person_id, c.code,
               bool_or(tr.expires_on IS NULL OR tr.expires_on >= :day) AS valid,
               max(tr.expires_on) AS last_expiry
        FROM training_record tr JOIN training_course c ON c.id = tr.course_id
        WHERE tr.person_id = ANY(:pids) AND c.code = ANY(:codes) AND tr.passed AND tr.completed_on <= :day
        GROUP BY 1, 2"""), {"day": day, "pids": pids, "codes": codes}).all()
    out: dict[tuple[int, str], dt.date | None | bool] = {(p, c): None for p in pids for c in codes}
    for pid, code, valid, last in rows:
        out[(pid, code)] = True if valid else last
    return out


def evaluate(s: Session, person_ids: Sequence[int], area: m.Area, at: dt.datetime,
             rules: list[m.GatingRule] | None = None) -> list[Violation]:
    """The gating rules that bar these people from ``area`` at ``at``."""
    rules = rules_for(s, area) if rules is None else rules
    if not rules or not person_ids:
        return []
    alarm = open_alarm_id(s, area.id, at) if needs_alarm_check(rules) else None
    live = live_rules(rules, alarm)
    if not live:
        return []
    state = training_state(s, person_ids, {c for r in live for c in r.required_courses}, at.date())
    names = dict(s.execute(sa.select(m.Person.id, m.Person.name).where(m.Person.id.in_(list(person_ids)))).all())
    return find_violations(live, person_ids, area, state, names, alarm)


def raise_warnings(s: Session, violations: Sequence[Violation], at: dt.datetime) -> list[m.EntryWarning]:
    """Open a no-entry warning per new violation and notify each area's owner once."""
    from qhse.services import notify

    new: list[m.EntryWarning] = []
    for v in violations:
        exists = s.scalar(sa.select(m.EntryWarning.id).where(
            m.EntryWarning.rule_id == v.rule_id, m.EntryWarning.person_id == v.person_id,
            m.EntryWarning.area_id == v.area_id, m.EntryWarning.resolved_at.is_(None)))
        if exists is not None:
            continue
        w = m.EntryWarning(rule_id=v.rule_id, person_id=v.person_id, site_id=v.site_id, area_id=v.area_id,
                           alarm_id=v.alarm_id, missing=v.missing, message=v.message, raised_at=at)
        s.add(w)
        new.append(w)
    s.flush()
    by_area: dict[int, list[m.EntryWarning]] = defaultdict(list)
    for w in new:
        by_area[w.area_id].append(w)
    for area_id, ws in by_area.items():
        area = cast(m.Area, s.get(m.Area, area_id))  # a warning's area_id is a foreign key: it exists
        lines = "\n".join(f"- warning #{w.id}: {w.message}" for w in ws)
        notify.notify_role(
            s, site_id=area.site_id, role="area_manager", area_id=area.id, now=at,
            subject=f"No-entry warning: {len(ws)} person(s) for {area.name}",
            body=f"Training gating at {at:%Y-%m-%d %H:%M} UTC barred entry to {area.name}:\n{lines}\n"
                 "Keep them out until their training is renewed or the condition has passed.",
            ref=f"entry_warning:{ws[0].id}" if len(ws) == 1 else f"entry_warning:area:{area.id}:{at:%Y%m%dT%H%M}")
        for w in ws:
            w.notified_person_id = area.owner_person_id
    return new


def candidates(s: Session, area: m.Area, at: dt.datetime) -> set[int]:
    """Everyone associated with the area at ``at``."""
    A, J, W, P, E = m.AccessRecord, m.ContractorJob, m.ContractorJobWorker, m.Person, m.EntryWarning
    inside = s.scalars(sa.select(A.person_id).where(A.area_id == area.id, A.entered_at <= at,
                                                    sa.or_(A.exited_at.is_(None), A.exited_at > at)))
    crew = s.scalars(sa.select(W.person_id).join(J, J.id == W.job_id).where(
        J.area_id == area.id, J.status.in_(("approved", "active")), J.starts_at <= at, J.ends_at > at))
    staff: Iterable[int] = s.scalars(sa.select(P.id).where(P.department_id == area.department_id, P.active.is_(True))) \
        if area.department_id else []
    warned = s.scalars(sa.select(E.person_id).where(E.area_id == area.id, E.resolved_at.is_(None)))
    return set(inside) | set(crew) | set(staff) | set(warned)


def scan(engine: sa.Engine, *, at: dt.datetime | None = None, site_ids: Sequence[int] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ScanResult:
    """Check every area (of ``site_ids``, None: all), raise new warnings, resolve stale ones."""
    at = at or dt.datetime.now(UTC)
    res = ScanResult()
    with Session(engine) as s, s.begin():
        q = sa.select(m.Area).order_by(m.Area.site_id, m.Area.id)
        if site_ids is not None:
            q = q.where(m.Area.site_id.in_(list(site_ids)))
        areas = list(s.scalars(q))
        all_rules = list(s.scalars(sa.select(m.GatingRule).where(m.GatingRule.active.is_(True))))
        for i, area in enumerate(areas):
            rules = [r for r in all_rules if rule_applies(r, area)]
            people = sorted(candidates(s, area, at))
            res.areas += 1
            res.people_checked += len(people)
            violations = evaluate(s, people, area, at, rules) if rules else []
            res.raised += [w.id for w in raise_warnings(s, violations, at)]
            holding = {(v.rule_id, v.person_id) for v in violations}
            stale = s.scalars(sa.select(m.EntryWarning).where(m.EntryWarning.area_id == area.id,
                                                              m.EntryWarning.resolved_at.is_(None)))
            alarm_open = open_alarm_id(s, area.id, at) is not None
            rule_by_id = {r.id: r for r in rules}
            for w in stale:
                if (w.rule_id, w.person_id) in holding or w.raised_at > at:
                    continue
                w.resolved_at = at
                w.resolution = resolution(rule_by_id.get(w.rule_id), alarm_open)
                res.resolved += 1
            if progress:
                progress(i + 1, len(areas))
        open_q = sa.select(sa.func.count()).select_from(m.EntryWarning).where(m.EntryWarning.resolved_at.is_(None))
        if site_ids is not None:
            open_q = open_q.where(m.EntryWarning.site_id.in_(list(site_ids)))
        res.open = cast(int, s.scalar(open_q))  # count(*) always gives a row
    return res
