"""Contractor rules: company approval, induction, job requests, worker and company fitness, site access.

One place each:

* a company works on site only once approved twice, by a **safety** approver and a
  **legal** approver who are different people (each approval needs its permission of the
  access policy), with its licence and safety licence valid;
* a worker passes the site induction with a score at or above the pass mark (default
  80 %, per site in ``site.settings["induction_pass_mark"]``);
* a job declares its scope, area, work types, workers and time window; every worker must
  belong to the company, have passed the induction and hold a valid certificate for each
  special work type for the whole window;
* access is granted only to a worker of an approved job for that area, inside the job's
  window, while the company, the induction and the certificates are valid, no supervisor
  has stopped the work, and no training-gating rule bars entry (:mod:`qhse.domain.gating`);
* a supervisor's site check is recorded with at least one photo (JPEG or PNG), and a note
  unless all was well;
* a job is completed when every party (contractor, supervisor, area owner, safety) has
  signed off.

Companies, people, qualifications and jobs are anything with the attributes of the
``db.models`` rows; the service reads them and writes the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qhse.domain import access
from qhse.domain.access import Scope
from qhse.domain.gating import Violation
from qhse.vocab import CheckResult, ContractorStatus, PersonKind, SignoffParty, values

DEFAULT_PASS_MARK = 80.0
CAPACITIES = ("safety", "legal")
# Certificate a worker needs for each special work type.
WORK_TYPE_QUALIFICATIONS: dict[str, str] = {
    "hot_work": "welder",
    "electrical": "electrician",
    "work_at_height": "work_at_height",
    "confined_space": "confined_space",
}
WORK_TYPES = (*WORK_TYPE_QUALIFICATIONS, "general")
COMPANY_LICENCE_KIND = "safety_licence"
PHOTO_TYPES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}
MAX_PHOTO_BYTES = 20 * 1024 * 1024
CHECK_RESULTS = values(CheckResult)
SIGNOFF_PARTIES = values(SignoffParty)
# The permission of the access policy each company approval needs; approving a job needs
# access.APPROVE_CONTRACTOR_JOBS (the plant's safety function).
CAPACITY_PERMISSIONS: dict[str, str] = {
    "safety": access.APPROVE_CONTRACTOR_SAFETY,
    "legal": access.APPROVE_CONTRACTOR_LEGAL,
}


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
    gating: list[Violation] = field(default_factory=list)


def aware(at: dt.datetime | None) -> dt.datetime:
    """``at`` (now when None); a time without a time zone is refused."""
    if at is None:
        return dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise ContractorError("times must carry a time zone")
    return at


def pass_mark(site: Any | None) -> float:
    """The induction pass mark (percent) at a site (anything with ``code`` and ``settings``)."""
    if site is None:
        return DEFAULT_PASS_MARK
    val = (site.settings or {}).get("induction_pass_mark")
    if val is None:
        return DEFAULT_PASS_MARK
    try:
        v = float(val)
    except (TypeError, ValueError):
        raise ContractorError(f"site {site.code}: settings.induction_pass_mark must be a number, got {val!r}") from None
    if not 0 <= v <= 100:
        raise ContractorError(f"site {site.code}: settings.induction_pass_mark must be between 0 and 100, got {v:g}")
    return v


def valid_on(expires_on: dt.date | None, day: dt.date) -> bool:
    return expires_on is None or expires_on >= day


# ------------------------------------------------------------------------------ companies
def company_problems(company: Any, licences: Sequence[Any], day: dt.date, *, need_approval: bool = True) -> list[str]:
    """Why the company may not work on ``day`` (empty: it may); ``licences``: its safety licences on file."""
    out = []
    if need_approval and company.status != ContractorStatus.APPROVED:
        out.append(f"company {company.name!r} is {company.status}, not approved")
    if company.licence_expires_on is not None and company.licence_expires_on < day:
        out.append(f"company licence expired on {company.licence_expires_on}")
    what = COMPANY_LICENCE_KIND.replace("_", " ")
    if not licences:
        out.append(f"company has no {what} on file")
    elif not any(valid_on(q.expires_on, day) for q in licences):
        latest = max(q.expires_on for q in licences if q.expires_on)
        out.append(f"company {what} expired on {latest}")
    return out


def check_capacity(capacity: str) -> None:
    if capacity not in CAPACITIES:
        raise ContractorError(f"approval capacity must be one of {', '.join(CAPACITIES)}, got {capacity!r}")


def approval_capacities(scope: Scope) -> tuple[str, ...]:
    """The company approvals (of ``CAPACITIES``) the caller may give."""
    return tuple(c for c in CAPACITIES if access.can(scope, CAPACITY_PERMISSIONS[c]))


def may_approve_jobs(scope: Scope) -> bool:
    """May the caller approve a requested contractor job?"""
    return access.can(scope, access.APPROVE_CONTRACTOR_JOBS)


def check_approver(scope: Scope, capacity: str) -> None:
    """ContractorError unless the caller's role holds the permission of this approval."""
    check_capacity(capacity)
    perm = CAPACITY_PERMISSIONS[capacity]
    if not access.can(scope, perm):
        raise ContractorError(f"role {scope.role!r} may not give the {capacity} approval "
                              f"(allowed: {', '.join(access.roles_with(perm))})")


def check_job_approver(scope: Scope) -> None:
    """ContractorError unless the caller's role may approve contractor jobs."""
    if not may_approve_jobs(scope):
        raise ContractorError(f"role {scope.role!r} may not approve contractor jobs "
                              f"(allowed: {', '.join(access.roles_with(access.APPROVE_CONTRACTOR_JOBS))})")


def approve(company: Any, capacity: str, approver: str, at: dt.datetime, problems: Sequence[str]) -> str:
    """Record ``approver``'s approval of ``capacity`` on ``company`` (its attributes are set) and
    return its status: approved once both approvals are given, by different people."""
    check_capacity(capacity)
    if company.status == ContractorStatus.SUSPENDED:
        raise ContractorError(f"company {company.name!r} is suspended; lift the suspension first")
    if problems:
        raise ContractorError("cannot approve: " + "; ".join(problems))
    other = company.approved_legal_by if capacity == "safety" else company.approved_safety_by
    if other and other == approver:
        raise ContractorError(f"{approver} already gave the other approval; safety and legal approvals "
                              "must come from different people")
    if capacity == "safety":
        company.approved_safety_by, company.approved_safety_at = approver, at
    else:
        company.approved_legal_by, company.approved_legal_at = approver, at
    if company.approved_safety_by and company.approved_legal_by:
        company.status = ContractorStatus.APPROVED.value
    return str(company.status)


# ------------------------------------------------------------------------------ induction
def induction_score(score: object) -> float:
    """The score as a percentage 0..100; ContractorError otherwise."""
    try:
        v = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ContractorError(f"score must be a number, got {score!r}") from None
    if not 0 <= v <= 100:
        raise ContractorError(f"score must be between 0 and 100 (percent), got {v:g}")
    return v


def worker_problems(person: Any, company_id: int | None, work_types: Iterable[str], day: dt.date, mark: float,
                    qualifications: Sequence[Any], until: dt.date | None = None) -> list[str]:
    """Why this worker may not work (on ``day``, and up to ``until`` for certificates), given the
    site's pass ``mark`` and the person's ``qualifications``."""
    out = []
    who = f"{person.name} ({person.employee_no})"
    if person.kind != PersonKind.CONTRACTOR:
        out.append(f"{who} is not a contractor's worker")
    if company_id is not None and person.contractor_company_id != company_id:
        out.append(f"{who} does not work for this company")
    if not person.active:
        out.append(f"{who} is inactive")
    if person.induction_passed_at is None or person.induction_score is None or person.induction_score < mark:
        score = "not taken" if person.induction_score is None else f"{person.induction_score:g} %"
        out.append(f"{who} has not passed the induction (score {score}, pass mark {mark:g} %)")
    last = until or day
    for wt in sorted(set(work_types)):
        need = WORK_TYPE_QUALIFICATIONS.get(wt)
        if need is None:
            continue
        mine = [q for q in qualifications if q.kind == need]
        if not mine:
            out.append(f"{who} holds no {need.replace('_', ' ')} certificate (needed for {wt.replace('_', ' ')})")
        elif not any(valid_on(q.expires_on, last) for q in mine):
            exp = max((q.expires_on for q in mine if q.expires_on), default=None)
            when = "expired" if exp and exp < day else "expires"
            out.append(f"{who}'s {need.replace('_', ' ')} certificate {when} on {exp}"
                       + ("" if when == "expired" else f", before the job ends ({last})"))
    return out


# ------------------------------------------------------------------------------------ jobs
def check_job_request(scope: str, work_types: Sequence[str], starts_at: dt.datetime, ends_at: dt.datetime,
                      worker_ids: Sequence[int]) -> None:
    """The job request's own fields: a window that ends after it starts, a scope, known work types, workers."""
    if ends_at <= starts_at:
        raise ContractorError("the job's window must end after it starts")
    if not scope or not scope.strip():
        raise ContractorError("the job needs a scope of work")
    bad = [w for w in work_types if w not in WORK_TYPES]
    if bad:
        raise ContractorError(f"unknown work type(s) {', '.join(bad)} (use {', '.join(WORK_TYPES)})")
    if not worker_ids:
        raise ContractorError("the job needs at least one worker")


def job_window_problems(person: Any, area: Any, jobs: Sequence[Any], at: dt.datetime) -> tuple[Any | None, list[str]]:
    """(the job covering ``at``, or None with the reason) among the person's approved or active jobs in the area."""
    current = [j for j in jobs if j.starts_at <= at < j.ends_at]
    if not jobs:
        return None, [f"{person.name} has no approved job in {area.name}"]
    if not current:
        windows = ", ".join(f"#{j.id} {j.starts_at:%Y-%m-%d %H:%M}-{j.ends_at:%Y-%m-%d %H:%M} UTC" for j in jobs[:3])
        return None, [f"{at:%Y-%m-%d %H:%M} UTC is outside the approved window ({windows})"]
    return current[0], []


# ------------------------------------------------------------------------ checks, sign-off
def check_site_check(result: str, photos: Sequence[object], note: str | None) -> None:
    """A site check has a known result, at least one photo, and a note unless the result is ok."""
    if result not in CHECK_RESULTS:
        raise ContractorError(f"check result must be one of {', '.join(CHECK_RESULTS)}, got {result!r}")
    if not photos:
        raise ContractorError("a site check is recorded with at least one photo")
    if result != CheckResult.OK and not (note and note.strip()):
        raise ContractorError(f"a check with result {result!r} needs a note saying what was found")


def photo_extension(head: bytes) -> str | None:
    """``.jpg`` or ``.png`` from the file's first bytes (None: neither)."""
    return next((e for magic, e in PHOTO_TYPES.items() if head.startswith(magic)), None)


def check_party(party: str) -> None:
    if party not in SIGNOFF_PARTIES:
        raise ContractorError(f"party must be one of {', '.join(SIGNOFF_PARTIES)}, got {party!r}")


def parties_missing(signed: Iterable[str]) -> list[str]:
    """The parties still to sign off (empty: the job is complete)."""
    done = set(signed)
    return [p for p in SIGNOFF_PARTIES if p not in done]


def stopped_reason(check: Any) -> str:
    """Why access is refused while a supervisor's check (``id``, ``checked_at``) has stopped the work."""
    return f"work stopped by the supervisor's check #{check.id} at {check.checked_at:%Y-%m-%d %H:%M}"
