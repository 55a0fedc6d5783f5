"""Contractor control: approvals, qualifications, induction, jobs, site access, checks and sign-off.

The rules (two different approvers, induction pass mark, certificates per work type, the
access window, site checks with photos, sign-off by every party) are
:mod:`qhse.domain.contractors`; here the rows are read and written.

Every write names its actor as a :class:`~qhse.domain.access.Scope`: a platform user (whose
role must hold ``manage_contractors``, ``record_access`` for the gate, or the approval
permissions ``approve_contractor_safety`` / ``approve_contractor_legal`` /
``approve_contractor_jobs`` of :mod:`qhse.domain.access`, on the site concerned) or a
``system:`` actor such as ``system:gate`` (see :mod:`qhse.services.actors`); free text is
refused.  Each write appends an ``audit_log`` row with the user id in the same transaction
as the change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from db.queries import audit
from db.queries.scope import site_filter
from qhse.domain import access
from qhse.domain import contractors as rules
from qhse.domain.access import Scope
from qhse.domain.contractors import (
    COMPANY_LICENCE_KIND,
    MAX_PHOTO_BYTES,
    AccessDecision,
    AccessRefused,
    ContractorError,
    InductionResult,
    approve,
    aware,
    check_approver,
    check_job_approver,
    check_job_request,
    check_party,
    check_site_check,
    induction_score,
    job_window_problems,
    parties_missing,
    photo_extension,
    stopped_reason,
)

UTC = dt.UTC
T = TypeVar("T")


def _now(at: dt.datetime | None) -> dt.datetime:
    return aware(at)


def _who(actor: object) -> Scope:
    """The actor as a Scope (platform user or ``system:`` actor); free text is refused."""
    from qhse.services import actors

    try:
        return actors.require(actor)
    except actors.ActorError as exc:
        raise ContractorError(str(exc)) from None


def _allow(actor: Scope, permission: str | None, site_id: int | None = None) -> None:
    """A platform user needs ``permission`` (and ``site_id`` in scope); system actors act everywhere."""
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


def _audit(s: Session, actor: Scope, action: str, entity: str, entity_id: object, **detail: Any) -> None:
    audit.record(s.connection(), actor, action, entity=entity, entity_id=entity_id,
                 detail={k: v for k, v in detail.items() if v is not None})


def _get(s: Session, model: type[T], id_: object, what: str) -> T:
    obj = s.get(model, id_)
    if obj is None:
        raise ContractorError(f"no {what} #{id_}")
    return obj


# ------------------------------------------------------------------------------ companies
def pass_mark(site: m.Site | None) -> float:
    """The induction pass mark (percent) at a site."""
    return rules.pass_mark(site)


def company_problems(s: Session, company: m.ContractorCompany, day: dt.date, *,
                     need_approval: bool = True) -> list[str]:
    """Why the company may not work on ``day`` (empty: it may)."""
    lic = s.scalars(sa.select(m.Qualification).where(m.Qualification.company_id == company.id,
                                                     m.Qualification.kind == COMPANY_LICENCE_KIND)).all()
    return rules.company_problems(company, lic, day, need_approval=need_approval)


def approve_company(engine: sa.Engine, company_id: int, capacity: str, *, actor: Scope | str,
                    at: dt.datetime | None = None) -> str:
    """Record the safety or legal approval by ``actor`` (its role must be an approver role of
    that capacity); returns the company's status afterwards."""
    at = _now(at)
    who = _who(actor)
    check_approver(who, capacity)
    approver, approver_role = who.username[:120], who.role
    with Session(engine) as s, s.begin():
        c = _get(s, m.ContractorCompany, company_id, "contractor company")
        problems = [] if c.status == "suspended" else company_problems(s, c, at.date(), need_approval=False)
        status = approve(c, capacity, approver, at, problems)
        _audit(s, who, f"approve_contractor_{capacity}", "contractor_company", c.id, role=approver_role,
               status=status)
        return status


def suspend_company(engine: sa.Engine, company_id: int, *, actor: Scope | str, reason: str) -> None:
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
    at = _now(at)
    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    score = induction_score(score)
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
    mark = pass_mark(s.get(m.Site, person.site_id))
    quals = s.scalars(sa.select(m.Qualification).where(m.Qualification.person_id == person.id)).all()
    return rules.worker_problems(person, company_id, work_types, day, mark, quals, until)


# ------------------------------------------------------------------------------------ jobs
def create_job(engine: sa.Engine, *, actor: Scope | str, company_id: int, area_id: int, scope: str,
               work_types: Sequence[str], starts_at: dt.datetime, ends_at: dt.datetime, worker_ids: Sequence[int],
               supervisor_person_id: int | None = None) -> int:
    """Declare a job (status 'requested'); every worker is checked against the job."""
    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    starts_at, ends_at = _now(starts_at), _now(ends_at)
    check_job_request(scope, work_types, starts_at, ends_at, worker_ids)
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
    check_job_approver(who)
    with Session(engine) as s, s.begin():
        job = _get(s, m.ContractorJob, job_id, "contractor job")
        if not who.allows_site(job.site_id):
            raise ContractorError(f"job #{job.id} is at a site outside {who.username}'s sites")
        if job.status != "requested":
            raise ContractorError(f"job #{job.id} is {job.status}; only requested jobs are approved")
        if job.ends_at <= at:
            raise ContractorError(f"job #{job.id}'s window ended at {job.ends_at:%Y-%m-%d %H:%M}")
        c = cast(m.ContractorCompany, s.get(m.ContractorCompany, job.company_id))  # a foreign key: it exists
        problems = company_problems(s, c, max(at, job.starts_at).date())
        for p in _job_workers(s, job.id):
            problems += worker_problems(s, p, c.id, job.work_types or [], max(at, job.starts_at).date(),
                                        job.ends_at.date())
        if problems:
            raise ContractorError("approval refused: " + "; ".join(problems))
        job.status, job.approved_by, job.approved_at = "approved", approver, at
        _audit(s, who, "approve_contractor_job", "contractor_job", job.id, site_id=job.site_id, role=approver_role)


def cancel_job(engine: sa.Engine, job_id: int, *, actor: Scope | str, reason: str) -> None:
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
    return list(s.scalars(sa.select(m.Person)
                          .join(m.ContractorJobWorker, m.ContractorJobWorker.person_id == m.Person.id)
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
        job, why = job_window_problems(p, area, jobs, at)
        reasons += why
        if job is not None:
            job_id = job.id
            c = cast(m.ContractorCompany, s.get(m.ContractorCompany, job.company_id))  # a foreign key
            reasons += company_problems(s, c, at.date())
            reasons += worker_problems(s, p, c.id, job.work_types or [], at.date())
            stop = _stopped(s, job.id, at)
            if stop is not None:
                reasons.append(stopped_reason(stop))
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
            _audit(s, who, "access_refused", "person", person_id,
                   site_id=cast(m.Area, s.get(m.Area, area_id)).site_id, area_id=area_id, at=at.isoformat(),
                   reasons=decision.reasons)
    if not decision.allowed:
        raise AccessRefused(decision.reasons)
    with Session(engine) as s, s.begin():
        open_rec = s.scalar(sa.select(m.AccessRecord.id).where(m.AccessRecord.person_id == person_id,
                                                               m.AccessRecord.area_id == area_id,
                                                               m.AccessRecord.exited_at.is_(None)))
        if open_rec is not None:
            raise ContractorError(f"person #{person_id} is already recorded inside (access record #{open_rec})")
        area = cast(m.Area, s.get(m.Area, area_id))  # checked above
        rec = m.AccessRecord(person_id=person_id, site_id=area.site_id, area_id=area_id, job_id=decision.job_id,
                             entered_at=at)
        s.add(rec)
        if decision.job_id is not None:
            job = cast(m.ContractorJob, s.get(m.ContractorJob, decision.job_id))  # found by check_access
            if job.status == "approved":
                job.status = "active"
        s.flush()
        _audit(s, who, "access_entry", "access_record", rec.id, site_id=area.site_id, person_id=person_id,
               area_id=area_id, job_id=decision.job_id, at=at.isoformat())
        return rec.id


def record_exit(engine: sa.Engine, person_id: int, *, actor: Scope | str, area_id: int | None = None,
                at: dt.datetime | None = None) -> int:
    """Close the person's open access records (in one area or all, of the actor's sites); returns how many."""
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
    ext = photo_extension(src.read_bytes()[:16])
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
    at = _now(at)
    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    check_site_check(result, photos, note)
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

            area = cast(m.Area, s.get(m.Area, job.area_id))  # a foreign key: it exists
            notify.notify_role(s, site_id=job.site_id, role="area_manager", area_id=job.area_id, now=at,
                               subject=f"Contractor work stopped in {area.name} (job #{job.id})",
                               body=f"Supervisor check #{chk.id} stopped job #{job.id} ({job.scope}) at "
                                    f"{at:%Y-%m-%d %H:%M} UTC: {note}", ref=f"contractor_job:{job.id}:check:{chk.id}")
        return chk.id


def sign_off(engine: sa.Engine, job_id: int, *, party: str, actor: Scope | str, note: str | None = None,
             at: dt.datetime | None = None) -> tuple[list[str], bool]:
    """One party's completion sign-off, recorded by ``actor`` (stored as the signer);
    returns (parties still to sign, completed)."""
    at = _now(at)
    who = _who(actor)
    _allow(who, access.MANAGE_CONTRACTORS)
    check_party(party)
    with Session(engine) as s, s.begin():
        job = _get(s, m.ContractorJob, job_id, "contractor job")
        _allow(who, None, job.site_id)
        if job.status not in ("approved", "active"):
            raise ContractorError(f"job #{job.id} is {job.status}; only approved or active jobs are signed off")
        inside = s.scalar(sa.select(sa.func.count()).select_from(m.AccessRecord)
                          .where(m.AccessRecord.job_id == job.id, m.AccessRecord.exited_at.is_(None)))
        if inside:
            raise ContractorError(f"{inside} worker(s) of job #{job.id} are still recorded inside; "
                                  "record their exit first")
        done = set(s.scalars(sa.select(m.JobSignoff.party).where(m.JobSignoff.job_id == job.id)))
        if party in done:
            raise ContractorError(f"the {party} has already signed off job #{job.id}")
        s.add(m.JobSignoff(job_id=job.id, party=party, signed_by=who.username[:120], signed_at=at, note=note))
        done.add(party)
        missing = parties_missing(done)
        if not missing:
            job.status = "completed"
        _audit(s, who, "contractor_sign_off", "contractor_job", job.id, site_id=job.site_id, party=party, note=note,
               completed=not missing)
        return missing, not missing
