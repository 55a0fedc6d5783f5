"""Contractor control: approvals, qualifications, induction, jobs, site access, checks and sign-off.

Rules (one place each):

* a company works on site only once approved twice, by a **safety** approver and a
  **legal** approver who are different people, with its licence and safety licence valid;
* a worker passes the site induction with a score at or above the pass mark (default
  80 %, per site in ``site.settings["induction_pass_mark"]``);
* a job declares its scope, area, work types, workers and time window; every worker must
  belong to the company, have passed the induction and hold a valid certificate for each
  special work type for the whole window;
* access is granted only to a worker of an approved job for that area, inside the job's
  window, while the company, the induction and the certificates are valid, no supervisor
  has stopped the work, and no training-gating rule bars entry (``qhse.services.gating``);
* a supervisor's site check is recorded with at least one photo;
* a job is completed when every party (contractor, supervisor, area owner, safety) has
  signed off, and nobody of the job is still inside.

Every write names its actor as a :class:`~qhse.domain.access.Scope`: a platform user (whose
role must hold ``manage_contractors``, ``record_access`` for the gate, or the approver
roles below, on the site concerned) or a ``system:`` actor such as ``system:gate`` (see
:mod:`qhse.services.actors`); free text is refused.  Each write appends an ``audit_log`` row with
the user id in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from db.models.response import CHECK_RESULTS, SIGNOFF_PARTIES
from db.queries import audit
from db.queries.scope import site_filter
from qhse.domain.access import Scope

UTC = dt.UTC
DEFAULT_PASS_MARK = 80.0
CAPACITIES = ("safety", "legal")
# Who may give each approval (roles of qhse.services.access).
APPROVER_ROLES: dict[str, frozenset[str]] = {
    "safety": frozenset({"admin", "plant_manager"}),
    "legal": frozenset({"admin", "group_manager", "plant_head"}),
}
# Roles that approve jobs (the safety function of the plant).
JOB_APPROVER_ROLES = frozenset({"admin", "plant_manager"})
# Certificate a worker needs for each special work type.
WORK_TYPE_QUALIFICATIONS: dict[str, str] = {
    "hot_work": "welder",
    "electrical": "electrician",
    "work_at_height": "work_at_height",
    "confined_space": "confined_space",
}
WORK_TYPES = tuple(WORK_TYPE_QUALIFICATIONS) + ("general",)
COMPANY_LICENCE_KIND = "safety_licence"
PHOTO_TYPES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}
MAX_PHOTO_BYTES = 20 * 1024 * 1024


class ContractorError(ValueError):
    """A request the rules refuse, or bad input; the message says why in one line."""


class AccessRefused(ContractorError):
    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("access refused: " + "; ".join(reasons))


@dataclass
class InductionResult:
    attempt_id: int
    person_id: int
    score: float
    pass_mark: float
    passed: bool

    def describe(self) -> str:
        verdict = "passed" if self.passed else "refused (below the pass mark)"
        return f"induction {verdict}: score {self.score:g} %, pass mark {self.pass_mark:g} %"


@dataclass
class AccessDecision:
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    job_id: int | None = None
    gating: list = field(default_factory=list)  # qhse.services.gating.Violation


def _now(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(UTC)
    if at.tzinfo is None:
        raise ContractorError("times must carry a time zone")
    return at


def _who(actor: object) -> Scope:
    """The actor as a Scope (platform user or ``system:`` actor); free text is refused."""
    from qhse.services import actors

    try:
        return actors.require(actor)
    except actors.ActorError as exc:
        raise ContractorError(str(exc)) from None


def _allow(actor: Scope, permission: str | None, site_id: int | None = None) -> None:
    """A platform user needs ``permission`` (and ``site_id`` in scope); system actors act everywhere."""
    from qhse.domain import access
    from qhse.services import actors

    if actors.is_system(actor):
        return
    try:
        if permission is not None:
            access.require(actor, permission)
        if site_id is not None and not actor.allows_site(site_id):
            raise access.AccessDenied(f"site {site_id} is outside {actor.username}'s sites")
    except access.AccessDenied as exc:
        raise ContractorError(str(exc)) from None


def _audit(s: Session, actor: Scope, action: str, entity: str, entity_id: object, **detail) -> None:
    audit.record(s.connection(), actor, action, entity=entity, entity_id=entity_id,
                 detail={k: v for k, v in detail.items() if v is not None})


def _get(s: Session, model, id_: int, what: str):
    obj = s.get(model, id_)
    if obj is None:
        raise ContractorError(f"no {what} #{id_}")
    return obj


def pass_mark(site: m.Site | None) -> float:
    """The induction pass mark (percent) at a site."""
    val = ((site.settings or {}).get("induction_pass_mark") if site is not None else None)
    if val is None:
        return DEFAULT_PASS_MARK
    try:
        v = float(val)
    except (TypeError, ValueError):
        raise ContractorError(f"site {site.code}: settings.induction_pass_mark must be a number, got {val!r}") from None
    if not 0 <= v <= 100:
        raise ContractorError(f"site {site.code}: settings.induction_pass_mark must be between 0 and 100, got {v:g}")
    return v


def _valid_on(expires_on: dt.date | None, day: dt.date) -> bool:
    return expires_on is None or expires_on >= day


# ------------------------------------------------------------------------------ companies
def company_problems(s: Session, company: m.ContractorCompany, day: dt.date, *, need_approval: bool = True) -> list[str]:
    """Why the company may not work on ``day`` (empty: it may)."""
    out = []
    if need_approval and company.status != "approved":
        out.append(f"company {company.name!r} is {company.status}, not approved")
    if company.licence_expires_on is not None and company.licence_expires_on < day:
        out.append(f"company licence expired on {company.licence_expires_on}")
    lic = s.scalars(sa.select(m.Qualification).where(m.Qualification.company_id == company.id,
                                                     m.Qualification.kind == COMPANY_LICENCE_KIND)).all()
    if not lic:
        out.append(f"company has no {COMPANY_LICENCE_KIND.replace('_', ' ')} on file")
    elif not any(_valid_on(q.expires_on, day) for q in lic):
        latest = max(q.expires_on for q in lic if q.expires_on)
        out.append(f"company {COMPANY_LICENCE_KIND.replace('_', ' ')} expired on {latest}")
    return out


def approve_company(engine: sa.Engine, company_id: int, capacity: str, *, actor: Scope | str,
                    at: dt.datetime | None = None) -> str:
    """Record the safety or legal approval by ``actor`` (its role must be an approver role of
    that capacity); returns the company's status afterwards."""
    at = _now(at)
    who = _who(actor)
    if capacity not in CAPACITIES:
        raise ContractorError(f"approval capacity must be one of {', '.join(CAPACITIES)}, got {capacity!r}")
    approver, approver_role = who.username[:120], who.role
    if approver_role not in APPROVER_ROLES[capacity]:
        raise ContractorError(f"role {approver_role!r} may not give the {capacity} approval "
                              f"(allowed: {', '.join(sorted(APPROVER_ROLES[capacity]))})")
    with Session(engine) as s, s.begin():
        c = _get(s, m.ContractorCompany, company_id, "contractor company")
        if c.status == "suspended":
            raise ContractorError(f"company {c.name!r} is suspended; lift the suspension first")
        problems = company_problems(s, c, at.date(), need_approval=False)
        if problems:
            raise ContractorError("cannot approve: " + "; ".join(problems))
        other = c.approved_legal_by if capacity == "safety" else c.approved_safety_by
        if other and other == approver:
            raise ContractorError(f"{approver} already gave the other approval; safety and legal approvals "
                                  "must come from different people")
        if capacity == "safety":
            c.approved_safety_by, c.approved_safety_at = approver, at
        else:
            c.approved_legal_by, c.approved_legal_at = approver, at
        if c.approved_safety_by and c.approved_legal_by:
            c.status = "approved"
        _audit(s, who, f"approve_contractor_{capacity}", "contractor_company", c.id, role=approver_role,
               status=c.status)
        return c.status


def suspend_company(engine: sa.Engine, company_id: int, *, actor: Scope | str, reason: str) -> None:
    from qhse.domain import access

    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    if not (reason or "").strip():
        raise ContractorError("a suspension needs a reason")
    with Session(engine) as s, s.begin():
        c = _get(s, m.ContractorCompany, company_id, "contractor company")
        c.status = "suspended"
        c.approved_safety_by = c.approved_safety_at = c.approved_legal_by = c.approved_legal_at = None
        _audit(s, who, "suspend_contractor", "contractor_company", c.id, reason=reason.strip())


def add_qualification(engine: sa.Engine, *, actor: Scope | str, kind: str, expires_on: dt.date | None,
                      number: str | None = None, company_id: int | None = None, person_id: int | None = None) -> int:
    """File a company licence or a worker's certificate."""
    from qhse.domain import access

    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    if (company_id is None) == (person_id is None):
        raise ContractorError("a qualification belongs to exactly one company or one person")
    kind = (kind or "").strip()
    if not kind:
        raise ContractorError("qualification kind is required (e.g. safety_licence, welder, electrician)")
    with Session(engine) as s, s.begin():
        if company_id is not None:
            _get(s, m.ContractorCompany, company_id, "contractor company")
        else:
            _allow(who, None, _get(s, m.Person, person_id, "person").site_id)
        q = m.Qualification(company_id=company_id, person_id=person_id, kind=kind, number=number, expires_on=expires_on)
        s.add(q)
        s.flush()
        _audit(s, who, "add_qualification", "qualification", q.id, kind=kind, company_id=company_id,
               person_id=person_id, expires_on=expires_on.isoformat() if expires_on else None)
        return q.id


# ------------------------------------------------------------------------------ induction
def record_induction(engine: sa.Engine, person_id: int, score: float, *, actor: Scope | str,
                     at: dt.datetime | None = None) -> InductionResult:
    """Record an induction test; below the site's pass mark the worker stays refused."""
    from qhse.domain import access

    at = _now(at)
    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    try:
        score = float(score)
    except (TypeError, ValueError):
        raise ContractorError(f"score must be a number, got {score!r}") from None
    if not 0 <= score <= 100:
        raise ContractorError(f"score must be between 0 and 100 (percent), got {score:g}")
    with Session(engine) as s, s.begin():
        p = _get(s, m.Person, person_id, "person")
        _allow(who, None, p.site_id)
        if p.kind != "contractor":
            raise ContractorError(f"{p.name} ({p.employee_no}) is an employee; the induction test is for contractors")
        mark = pass_mark(s.get(m.Site, p.site_id))
        passed = score >= mark
        att = m.InductionAttempt(person_id=p.id, taken_at=at, score=score, pass_mark=mark, passed=passed,
                                 recorded_by=who.username[:120])
        s.add(att)
        p.induction_score = score
        if passed:
            p.induction_passed_at = at
        else:
            p.induction_passed_at = None  # a failed re-test withdraws the earlier pass
        s.flush()
        _audit(s, who, "record_induction", "person", p.id, site_id=p.site_id, attempt_id=att.id, score=score,
               pass_mark=mark, passed=passed)
        return InductionResult(att.id, p.id, score, mark, passed)


def worker_problems(s: Session, person: m.Person, company_id: int | None, work_types: Iterable[str],
                    day: dt.date, until: dt.date | None = None) -> list[str]:
    """Why this worker may not work (on ``day``, and up to ``until`` for certificates)."""
    out = []
    who = f"{person.name} ({person.employee_no})"
    if person.kind != "contractor":
        out.append(f"{who} is not a contractor's worker")
    if company_id is not None and person.contractor_company_id != company_id:
        out.append(f"{who} does not work for this company")
    if not person.active:
        out.append(f"{who} is inactive")
    mark = pass_mark(s.get(m.Site, person.site_id))
    if person.induction_passed_at is None or person.induction_score is None or person.induction_score < mark:
        score = "not taken" if person.induction_score is None else f"{person.induction_score:g} %"
        out.append(f"{who} has not passed the induction (score {score}, pass mark {mark:g} %)")
    quals = s.scalars(sa.select(m.Qualification).where(m.Qualification.person_id == person.id)).all()
    last = until or day
    for wt in sorted(set(work_types)):
        need = WORK_TYPE_QUALIFICATIONS.get(wt)
        if need is None:
            continue
        mine = [q for q in quals if q.kind == need]
        if not mine:
            out.append(f"{who} holds no {need.replace('_', ' ')} certificate (needed for {wt.replace('_', ' ')})")
        elif not any(_valid_on(q.expires_on, last) for q in mine):
            exp = max((q.expires_on for q in mine if q.expires_on), default=None)
            when = "expired" if exp and exp < day else "expires"
            out.append(f"{who}'s {need.replace('_', ' ')} certificate {when} on {exp}"
                       + ("" if when == "expired" else f", before the job ends ({last})"))
    return out


# ------------------------------------------------------------------------------------ jobs
def create_job(engine: sa.Engine, *, actor: Scope | str, company_id: int, area_id: int, scope: str,
               work_types: Sequence[str], starts_at: dt.datetime, ends_at: dt.datetime, worker_ids: Sequence[int],
               supervisor_person_id: int | None = None) -> int:
    """Declare a job (status 'requested'); every worker is checked against the job."""
    from qhse.domain import access

    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    starts_at, ends_at = _now(starts_at), _now(ends_at)
    if ends_at <= starts_at:
        raise ContractorError("the job's window must end after it starts")
    if not scope or not scope.strip():
        raise ContractorError("the job needs a scope of work")
    bad = [w for w in work_types if w not in WORK_TYPES]
    if bad:
        raise ContractorError(f"unknown work type(s) {', '.join(bad)} (use {', '.join(WORK_TYPES)})")
    if not worker_ids:
        raise ContractorError("the job needs at least one worker")
    with Session(engine) as s, s.begin():
        c = _get(s, m.ContractorCompany, company_id, "contractor company")
        area = _get(s, m.Area, area_id, "area")
        _allow(who, None, area.site_id)
        problems = company_problems(s, c, starts_at.date())
        for wid in dict.fromkeys(worker_ids):
            p = _get(s, m.Person, wid, "person")
            problems += worker_problems(s, p, c.id, work_types, starts_at.date(), ends_at.date())
            if p.site_id != area.site_id:
                problems.append(f"{p.name} ({p.employee_no}) is registered at another site")
        if supervisor_person_id is not None:
            sup = _get(s, m.Person, supervisor_person_id, "person")
            if sup.kind != "employee":
                problems.append("the supervisor must be an employee of the plant")
        if problems:
            raise ContractorError("job refused: " + "; ".join(problems))
        job = m.ContractorJob(company_id=c.id, site_id=area.site_id, area_id=area.id, scope=scope.strip(),
                              work_types=list(dict.fromkeys(work_types)), starts_at=starts_at, ends_at=ends_at,
                              status="requested",
                              supervisor_person_id=supervisor_person_id or area.owner_person_id)
        s.add(job)
        s.flush()
        for wid in dict.fromkeys(worker_ids):
            s.add(m.ContractorJobWorker(job_id=job.id, person_id=wid))
        _audit(s, who, "create_contractor_job", "contractor_job", job.id, site_id=job.site_id, area_id=area.id,
               company_id=c.id, workers=list(dict.fromkeys(worker_ids)))
        return job.id


def approve_job(engine: sa.Engine, job_id: int, *, actor: Scope | str, at: dt.datetime | None = None) -> None:
    """Approve a requested job: ``actor``'s role must approve jobs and the job's site be in its scope."""
    at = _now(at)
    who = _who(actor)
    approver, approver_role = who.username[:120], who.role
    if approver_role not in JOB_APPROVER_ROLES:
        raise ContractorError(f"role {approver_role!r} may not approve contractor jobs "
                              f"(allowed: {', '.join(sorted(JOB_APPROVER_ROLES))})")
    with Session(engine) as s, s.begin():
        job = _get(s, m.ContractorJob, job_id, "contractor job")
        if not who.allows_site(job.site_id):
            raise ContractorError(f"job #{job.id} is at a site outside {who.username}'s sites")
        if job.status != "requested":
            raise ContractorError(f"job #{job.id} is {job.status}; only requested jobs are approved")
        if job.ends_at <= at:
            raise ContractorError(f"job #{job.id}'s window ended at {job.ends_at:%Y-%m-%d %H:%M}")
        c = s.get(m.ContractorCompany, job.company_id)
        problems = company_problems(s, c, max(at, job.starts_at).date())
        for p in _job_workers(s, job.id):
            problems += worker_problems(s, p, c.id, job.work_types or [], max(at, job.starts_at).date(),
                                        job.ends_at.date())
        if problems:
            raise ContractorError("approval refused: " + "; ".join(problems))
        job.status, job.approved_by, job.approved_at = "approved", approver, at
        _audit(s, who, "approve_contractor_job", "contractor_job", job.id, site_id=job.site_id, role=approver_role)


def cancel_job(engine: sa.Engine, job_id: int, *, actor: Scope | str, reason: str) -> None:
    from qhse.domain import access

    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    with Session(engine) as s, s.begin():
        job = _get(s, m.ContractorJob, job_id, "contractor job")
        _allow(who, None, job.site_id)
        if job.status in ("completed", "cancelled"):
            raise ContractorError(f"job #{job.id} is already {job.status}")
        job.status = "cancelled"
        _audit(s, who, "cancel_contractor_job", "contractor_job", job.id, site_id=job.site_id, reason=reason)


def _job_workers(s: Session, job_id: int) -> list[m.Person]:
    return list(s.scalars(sa.select(m.Person).join(m.ContractorJobWorker, m.ContractorJobWorker.person_id == m.Person.id)
                          .where(m.ContractorJobWorker.job_id == job_id).order_by(m.Person.id)))


def _stopped(s: Session, job_id: int, at: dt.datetime) -> m.SupervisorCheck | None:
    """The latest supervisor check up to ``at`` if it stopped the work."""
    last = s.scalar(sa.select(m.SupervisorCheck).where(m.SupervisorCheck.job_id == job_id,
                                                       m.SupervisorCheck.checked_at <= at)
                    .order_by(m.SupervisorCheck.checked_at.desc(), m.SupervisorCheck.id.desc()).limit(1))
    return last if last is not None and last.result == "stop_work" else None


# ---------------------------------------------------------------------------------- access
def check_access(s: Session, person_id: int, area_id: int, at: dt.datetime) -> AccessDecision:
    """May this person enter this area at ``at``?  Contractors need an approved job window."""
    from qhse.services import gating

    at = _now(at)
    p = _get(s, m.Person, person_id, "person")
    area = _get(s, m.Area, area_id, "area")
    reasons: list[str] = []
    job_id = None
    if p.kind == "contractor":
        jobs = list(s.scalars(
            sa.select(m.ContractorJob).join(m.ContractorJobWorker, m.ContractorJobWorker.job_id == m.ContractorJob.id)
            .where(m.ContractorJobWorker.person_id == p.id, m.ContractorJob.area_id == area.id,
                   m.ContractorJob.status.in_(("approved", "active")))
            .order_by(m.ContractorJob.starts_at)))
        current = [j for j in jobs if j.starts_at <= at < j.ends_at]
        if not jobs:
            reasons.append(f"{p.name} has no approved job in {area.name}")
        elif not current:
            windows = ", ".join(f"#{j.id} {j.starts_at:%Y-%m-%d %H:%M}-{j.ends_at:%Y-%m-%d %H:%M} UTC" for j in jobs[:3])
            reasons.append(f"{at:%Y-%m-%d %H:%M} UTC is outside the approved window ({windows})")
        else:
            job = current[0]
            job_id = job.id
            c = s.get(m.ContractorCompany, job.company_id)
            reasons += company_problems(s, c, at.date())
            reasons += worker_problems(s, p, c.id, job.work_types or [], at.date())
            stop = _stopped(s, job.id, at)
            if stop is not None:
                reasons.append(f"work stopped by the supervisor's check #{stop.id} at {stop.checked_at:%Y-%m-%d %H:%M}")
    elif not p.active:
        reasons.append(f"{p.name} is inactive")
    violations = gating.evaluate(s, [p.id], area, at)
    reasons += [v.message for v in violations]
    return AccessDecision(allowed=not reasons, reasons=reasons, job_id=job_id, gating=violations)


def record_entry(engine: sa.Engine, person_id: int, area_id: int, *, actor: Scope | str,
                 at: dt.datetime | None = None) -> int:
    """Record an entry if allowed (returns the access record id); otherwise raise AccessRefused.

    A refusal is written to the audit log; a refusal by a training-gating rule also raises
    the no-entry warning and notifies the area owner.
    """
    from qhse.domain import access
    from qhse.services import gating

    at = _now(at)
    who = _who(actor)
    _allow(who, access.RECORD_ACCESS)
    with Session(engine) as s, s.begin():
        _allow(who, None, _get(s, m.Area, area_id, "area").site_id)
        decision = check_access(s, person_id, area_id, at)
        if not decision.allowed:
            if decision.gating:
                gating.raise_warnings(s, decision.gating, at)
            _audit(s, who, "access_refused", "person", person_id, site_id=s.get(m.Area, area_id).site_id,
                   area_id=area_id, at=at.isoformat(), reasons=decision.reasons)
    if not decision.allowed:
        raise AccessRefused(decision.reasons)
    with Session(engine) as s, s.begin():
        open_rec = s.scalar(sa.select(m.AccessRecord.id).where(m.AccessRecord.person_id == person_id,
                                                               m.AccessRecord.area_id == area_id,
                                                               m.AccessRecord.exited_at.is_(None)))
        if open_rec is not None:
            raise ContractorError(f"person #{person_id} is already recorded inside (access record #{open_rec})")
        area = s.get(m.Area, area_id)
        rec = m.AccessRecord(person_id=person_id, site_id=area.site_id, area_id=area_id, job_id=decision.job_id,
                             entered_at=at)
        s.add(rec)
        if decision.job_id is not None:
            job = s.get(m.ContractorJob, decision.job_id)
            if job.status == "approved":
                job.status = "active"
        s.flush()
        _audit(s, who, "access_entry", "access_record", rec.id, site_id=area.site_id, person_id=person_id,
               area_id=area_id, job_id=decision.job_id, at=at.isoformat())
        return rec.id


def record_exit(engine: sa.Engine, person_id: int, *, actor: Scope | str, area_id: int | None = None,
                at: dt.datetime | None = None) -> int:
    """Close the person's open access records (in one area or all, of the actor's sites); returns how many."""
    from qhse.domain import access

    at = _now(at)
    who = _who(actor)
    _allow(who, access.RECORD_ACCESS)
    A = m.AccessRecord
    with Session(engine) as s, s.begin():
        q = (sa.update(A).where(A.person_id == person_id, A.exited_at.is_(None), A.entered_at <= at,
                                site_filter(who, A.site_id))
             .returning(A.id, A.site_id))
        if area_id is not None:
            q = q.where(A.area_id == area_id)
        closed = s.execute(q.values(exited_at=at)).all()
        n = len(closed)
        for rid, sid in closed:
            _audit(s, who, "access_exit", "access_record", rid, site_id=sid, person_id=person_id, at=at.isoformat())
    if not n:
        raise ContractorError(f"person #{person_id} is not recorded inside" + (f" area #{area_id}" if area_id else ""))
    return n


# ------------------------------------------------------------------------ checks, sign-off
def _store_photo(src: Path, job_id: int, data_dir: Path) -> str:
    src = Path(src)
    if not src.is_file():
        raise ContractorError(f"photo {src} does not exist")
    size = src.stat().st_size
    if size == 0 or size > MAX_PHOTO_BYTES:
        raise ContractorError(f"photo {src} is {size:,} bytes (must be 1 byte to {MAX_PHOTO_BYTES // 2**20} MiB)")
    head = src.read_bytes()[:16]
    ext = next((e for magic, e in PHOTO_TYPES.items() if head.startswith(magic)), None)
    if ext is None:
        raise ContractorError(f"photo {src} is not a JPEG or PNG image")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:20]
    rel = Path("photos") / "contractor" / str(job_id) / f"{digest}{ext}"
    dest = data_dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        tmp = dest.with_suffix(dest.suffix + ".part")
        shutil.copyfile(src, tmp)
        tmp.rename(dest)
    return rel.as_posix()


def record_check(engine: sa.Engine, job_id: int, *, actor: Scope | str, result: str, photos: Sequence[Path],
                 supervisor_person_id: int | None = None, note: str | None = None, at: dt.datetime | None = None,
                 data_dir: Path | None = None) -> int:
    """Record a supervisor's site check with its photos (copied under the data directory)."""
    from qhse.domain import access

    at = _now(at)
    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    if result not in CHECK_RESULTS:
        raise ContractorError(f"check result must be one of {', '.join(CHECK_RESULTS)}, got {result!r}")
    if not photos:
        raise ContractorError("a site check is recorded with at least one photo")
    if result != "ok" and not (note and note.strip()):
        raise ContractorError(f"a check with result {result!r} needs a note saying what was found")
    if data_dir is None:
        from qhse.settings import get_settings

        data_dir = get_settings().ensure_data_dir()
    with Session(engine) as s, s.begin():
        job = _get(s, m.ContractorJob, job_id, "contractor job")
        _allow(who, None, job.site_id)
        if job.status not in ("approved", "active"):
            raise ContractorError(f"job #{job.id} is {job.status}; site checks are for approved or active jobs")
        sup = supervisor_person_id or job.supervisor_person_id
        if sup is not None:
            _get(s, m.Person, sup, "person")
        stored = [_store_photo(Path(p), job.id, Path(data_dir)) for p in photos]
        chk = m.SupervisorCheck(job_id=job.id, supervisor_person_id=sup, checked_at=at, result=result,
                                note=note, photos=stored)
        s.add(chk)
        s.flush()
        _audit(s, who, "contractor_site_check", "contractor_job", job.id, site_id=job.site_id, check_id=chk.id,
               result=result, supervisor_person_id=sup, photos=len(stored), note=note)
        if result == "stop_work":
            from qhse.services import notify

            area = s.get(m.Area, job.area_id)
            notify.notify_role(s, site_id=job.site_id, role="area_manager", area_id=job.area_id, now=at,
                               subject=f"Contractor work stopped in {area.name} (job #{job.id})",
                               body=f"Supervisor check #{chk.id} stopped job #{job.id} ({job.scope}) at "
                                    f"{at:%Y-%m-%d %H:%M} UTC: {note}", ref=f"contractor_job:{job.id}:check:{chk.id}")
        return chk.id


def sign_off(engine: sa.Engine, job_id: int, *, party: str, actor: Scope | str, note: str | None = None,
             at: dt.datetime | None = None) -> tuple[list[str], bool]:
    """One party's completion sign-off, recorded by ``actor`` (stored as the signer);
    returns (parties still to sign, completed)."""
    from qhse.domain import access

    at = _now(at)
    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    if party not in SIGNOFF_PARTIES:
        raise ContractorError(f"party must be one of {', '.join(SIGNOFF_PARTIES)}, got {party!r}")
    with Session(engine) as s, s.begin():
        job = _get(s, m.ContractorJob, job_id, "contractor job")
        _allow(who, None, job.site_id)
        if job.status not in ("approved", "active"):
            raise ContractorError(f"job #{job.id} is {job.status}; only approved or active jobs are signed off")
        inside = s.scalar(sa.select(sa.func.count()).select_from(m.AccessRecord)
                          .where(m.AccessRecord.job_id == job.id, m.AccessRecord.exited_at.is_(None)))
        if inside:
            raise ContractorError(f"{inside} worker(s) of job #{job.id} are still recorded inside; record their exit first")
        done = set(s.scalars(sa.select(m.JobSignoff.party).where(m.JobSignoff.job_id == job.id)))
        if party in done:
            raise ContractorError(f"the {party} has already signed off job #{job.id}")
        s.add(m.JobSignoff(job_id=job.id, party=party, signed_by=who.username[:120], signed_at=at, note=note))
        done.add(party)
        missing = [p for p in SIGNOFF_PARTIES if p not in done]
        if not missing:
            job.status = "completed"
        _audit(s, who, "contractor_sign_off", "contractor_job", job.id, site_id=job.site_id, party=party, note=note,
               completed=not missing)
        return missing, not missing
