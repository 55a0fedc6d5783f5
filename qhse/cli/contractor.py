"""``qhse contractor``: approvals, qualifications, induction, jobs, site access, sign-off."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from qhse.cli.support import (
    UserError,
    acting_user,
    as_user_option,
    local_time,
    open_engine,
    parse_date,
    print_table,
    resolve_ref,
)
from qhse.vocab import CheckResult, ContractorJobStatus, SignoffParty, values


@click.group()
def contractor() -> None:
    """Contractors: approvals, qualifications, induction, jobs, site access, checks, sign-off."""


def _contractor_call(fn, *args, **kwargs):
    from qhse.domain.contractors import ContractorError

    try:
        return fn(*args, **kwargs)
    except ContractorError as exc:
        raise UserError(str(exc)) from None


@contractor.command("list")
@click.option("--on", "on_", default=None, help="Validity date (YYYY-MM-DD, default today).")
def contractor_list(on_: str | None) -> None:
    """Companies with approval state, licence validity and workers."""
    from db.queries.contractors import companies
    from qhse.domain.access import SYSTEM

    engine = open_engine()
    on = parse_date(on_, "--on") if on_ else dt.date.today()
    print_table(f"Contractor companies (validity on {on})", companies(engine, SYSTEM, on=on),
           ["id", "name", "status", "licence_expires_on", "licence_valid", "safety_licence_expires_on",
            "approved_safety_by", "approved_legal_by", "workers", "inducted", "open_jobs"])


def _manager(engine, as_user: str):
    """``--as USERNAME`` holding manage_contractors."""
    from qhse.domain.access import MANAGE_CONTRACTORS

    return acting_user(engine, as_user, MANAGE_CONTRACTORS)


@contractor.command("approve")
@click.argument("company")
@click.option("--capacity", type=click.Choice(["safety", "legal"]), required=True, help="Which approval.")
@as_user_option(help_extra=" (safety: admin or plant_manager; legal: admin, group_manager or plant_head)")
def contractor_approve(company: str, capacity: str, as_user: str) -> None:
    """Give the safety or legal approval of COMPANY (id or exact name)."""
    from db.queries import refs
    from qhse.domain.access import VIEW_CONTRACTORS
    from qhse.services.contractors import approve_company

    engine = open_engine()
    who = acting_user(engine, as_user, VIEW_CONTRACTORS)
    cid = resolve_ref(refs.company_id, engine, company)
    status = _contractor_call(approve_company, engine, cid, capacity, actor=who)
    click.echo(f"company #{cid}: {capacity} approval by {who.username} recorded; status {status}")


@contractor.command("suspend")
@click.argument("company")
@as_user_option(help_extra=" (manage_contractors)")
@click.option("--reason", required=True)
def contractor_suspend(company: str, as_user: str, reason: str) -> None:
    """Suspend COMPANY (both approvals are withdrawn)."""
    from db.queries import refs
    from qhse.services.contractors import suspend_company

    engine = open_engine()
    who = _manager(engine, as_user)
    cid = resolve_ref(refs.company_id, engine, company)
    _contractor_call(suspend_company, engine, cid, actor=who, reason=reason)
    click.echo(f"company #{cid} suspended")


@contractor.command("qualify")
@click.option("--company", default=None, help="Company id or name (a company licence).")
@click.option("--person", default=None, help="Worker's employee number (a certificate).")
@click.option("--kind", required=True, help="safety_licence, business_licence, welder, electrician, work_at_height, "
                                            "confined_space, ...")
@click.option("--number", default=None)
@click.option("--expires", default=None, help="Expiry date YYYY-MM-DD (left out: no expiry).")
@as_user_option(help_extra=" (manage_contractors)")
def contractor_qualify(company: str | None, person: str | None, kind: str, number: str | None,
                       expires: str | None, as_user: str) -> None:
    """File a company licence or a worker's special-work certificate."""
    from db.queries import refs
    from qhse.services.contractors import add_qualification

    engine = open_engine()
    who = _manager(engine, as_user)
    cid = resolve_ref(refs.company_id, engine, company) if company else None
    pid = resolve_ref(refs.person_id, engine, person) if person else None
    qid = _contractor_call(add_qualification, engine, actor=who, kind=kind, number=number, company_id=cid,
                           person_id=pid, expires_on=parse_date(expires, "--expires") if expires else None)
    click.echo(f"qualification #{qid} filed")


@contractor.command("induction")
@click.argument("employee_no")
@click.option("--score", type=float, required=True, help="Test score in percent.")
@as_user_option(help_extra=" (manage_contractors)")
def contractor_induction(employee_no: str, score: float, as_user: str) -> None:
    """Record a worker's induction test; below the pass mark the worker is refused (exit 2)."""
    from db.queries import refs
    from qhse.services.contractors import record_induction

    engine = open_engine()
    who = _manager(engine, as_user)
    pid = resolve_ref(refs.person_id, engine, employee_no)
    res = _contractor_call(record_induction, engine, pid, score, actor=who)
    if not res.passed:
        raise UserError(f"{employee_no}: {res.describe()} (attempt #{res.attempt_id} recorded)")
    click.echo(f"{employee_no}: {res.describe()} (attempt #{res.attempt_id})")


@contractor.command("job-create")
@click.option("--company", required=True, help="Company id or name.")
@click.option("--area", required=True, help="SITE/AREA, e.g. SU-MACH/WELD.")
@click.option("--scope", "scope_text", required=True, help="Scope of work.")
@click.option("--work-type", "work_types", multiple=True,
              help="hot_work, electrical, work_at_height, confined_space, general (repeat).")
@click.option("--worker", "workers", multiple=True, required=True, help="Worker's employee number (repeat).")
@click.option("--from", "from_", required=True, help="Window start (local time).")
@click.option("--to", "to_", required=True, help="Window end (local time).")
@click.option("--supervisor", default=None, help="Supervising employee's number (default: the area owner).")
@as_user_option(help_extra=" (manage_contractors on the area's site)")
def contractor_job_create(company, area, scope_text, work_types, workers, from_, to_, supervisor, as_user) -> None:
    """Declare a job: scope, area, work types, workers and time window."""
    from db.queries import refs
    from qhse.services.contractors import create_job

    engine = open_engine()
    who = _manager(engine, as_user)
    jid = _contractor_call(
        create_job, engine, actor=who, company_id=resolve_ref(refs.company_id, engine, company),
        area_id=resolve_ref(refs.area_id, engine, area),
        scope=scope_text, work_types=list(work_types) or ["general"], starts_at=local_time(from_, "--from"),
        ends_at=local_time(to_, "--to"), worker_ids=[resolve_ref(refs.person_id, engine, w) for w in workers],
        supervisor_person_id=resolve_ref(refs.person_id, engine, supervisor) if supervisor else None)
    click.echo(f"job #{jid} requested; it needs approval ('qhse contractor job-approve {jid} --as USERNAME')")


@contractor.command("job-approve")
@click.argument("job_id", type=int)
@as_user_option(help_extra=" (admin or plant_manager of the job's site)")
def contractor_job_approve(job_id: int, as_user: str) -> None:
    """Approve a requested job (workers and company are checked again)."""
    from qhse.services.contractors import approve_job

    engine = open_engine()
    who = _manager(engine, as_user)
    _contractor_call(approve_job, engine, job_id, actor=who)
    click.echo(f"job #{job_id} approved")


@contractor.command("jobs")
@click.option("--status", type=click.Choice(values(ContractorJobStatus)), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
def contractor_jobs(status: str | None, limit: int) -> None:
    """List jobs, newest window first."""
    from db.queries.contractors import jobs
    from qhse.domain.access import SYSTEM

    engine = open_engine()
    print_table("Contractor jobs", jobs(engine, SYSTEM, status=status, limit=limit),
           ["id", "site", "area", "company", "starts_at", "ends_at", "status", "workers", "inside_now", "checks",
            "signoffs"])


@contractor.command("show")
@click.argument("job_id", type=int)
def contractor_show(job_id: int) -> None:
    """A job with its workers, checks and sign-offs."""
    from db.queries.contractors import job_detail
    from qhse.domain.access import SYSTEM

    engine = open_engine()
    d = job_detail(engine, SYSTEM, job_id)
    if d is None:
        raise UserError(f"no contractor job #{job_id}")
    j = d["job"]
    click.echo(f"job #{j['id']} {j['status']}: {j['company']} in {j['site']}/{j['area_code']} ({j['area_name']})")
    click.echo(f"  scope: {j['scope']}; work types: {', '.join(j['work_types'] or [])}")
    click.echo(f"  window: {j['starts_at']:%Y-%m-%d %H:%M} - {j['ends_at']:%Y-%m-%d %H:%M} UTC; "
               f"approved by {j['approved_by'] or '-'}")
    for w in d["workers"]:
        click.echo(f"  worker {w['employee_no']} {w['name']}: induction {w['induction_score']}")
    for c in d["checks"]:
        click.echo(f"  check #{c['id']} {c['checked_at']:%Y-%m-%d %H:%M} {c['result']} by {c['supervisor']}: "
                   f"{c['note'] or ''} ({len(c['photos'])} photo(s))")
    for so in d["signoffs"]:
        click.echo(f"  signed off by {so['party']}: {so['signed_by']} at {so['signed_at']:%Y-%m-%d %H:%M}")


@contractor.command("enter")
@click.argument("employee_no")
@click.option("--area", required=True, help="SITE/AREA")
@click.option("--at", "at_", default=None, help="Entry time (default now).")
@as_user_option(help_extra=" (record_access on the area's site, e.g. the guard at the gate)")
def contractor_enter(employee_no: str, area: str, at_: str | None, as_user: str) -> None:
    """Record an entry; refused (exit 2) outside an approved window or when a rule bars it."""
    from db.queries import refs
    from qhse.domain.access import RECORD_ACCESS
    from qhse.services.contractors import record_entry

    engine = open_engine()
    who = acting_user(engine, as_user, RECORD_ACCESS)
    rid = _contractor_call(record_entry, engine, resolve_ref(refs.person_id, engine, employee_no),
                           resolve_ref(refs.area_id, engine, area), at=local_time(at_, "--at"), actor=who)
    click.echo(f"{employee_no} entered {area} (access record #{rid})")


@contractor.command("exit")
@click.argument("employee_no")
@click.option("--area", default=None, help="SITE/AREA (default: every area the person is in).")
@click.option("--at", "at_", default=None)
@as_user_option(help_extra=" (record_access)")
def contractor_exit(employee_no: str, area: str | None, at_: str | None, as_user: str) -> None:
    """Record an exit."""
    from db.queries import refs
    from qhse.domain.access import RECORD_ACCESS
    from qhse.services.contractors import record_exit

    engine = open_engine()
    who = acting_user(engine, as_user, RECORD_ACCESS)
    n = _contractor_call(record_exit, engine, resolve_ref(refs.person_id, engine, employee_no), actor=who,
                         area_id=resolve_ref(refs.area_id, engine, area) if area else None, at=local_time(at_, "--at"))
    click.echo(f"{employee_no}: {n} access record(s) closed")


@contractor.command("check")
@click.argument("job_id", type=int)
@click.option("--result", type=click.Choice(values(CheckResult)), required=True)
@click.option("--photo", "photos", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JPEG or PNG (repeat).")
@click.option("--note", default=None)
@click.option("--supervisor", default=None, help="Supervisor's employee number (default: the job's).")
@click.option("--at", "at_", default=None)
@as_user_option(help_extra=" (manage_contractors on the job's site)")
def contractor_check(job_id: int, result: str, photos, note, supervisor, at_, as_user) -> None:
    """Record a supervisor's site check with photos; 'stop_work' bars further entry."""
    from db.queries import refs
    from qhse.services.contractors import record_check

    engine = open_engine()
    who = _manager(engine, as_user)
    cid = _contractor_call(record_check, engine, job_id, actor=who, result=result, photos=list(photos), note=note,
                           supervisor_person_id=resolve_ref(refs.person_id, engine, supervisor) if supervisor else None,
                           at=local_time(at_, "--at"))
    click.echo(f"check #{cid} recorded on job #{job_id} ({len(photos)} photo(s))")


@contractor.command("sign-off")
@click.argument("job_id", type=int)
@click.option("--party", type=click.Choice(values(SignoffParty)), required=True)
@as_user_option(help_extra=" (manage_contractors on the job's site; recorded as the signer)")
@click.option("--note", default=None)
def contractor_sign_off(job_id: int, party: str, as_user: str, note: str | None) -> None:
    """Sign the job's completion for one party; the job completes when all have signed."""
    from qhse.services.contractors import sign_off

    engine = open_engine()
    who = _manager(engine, as_user)
    missing, done = _contractor_call(sign_off, engine, job_id, party=party, actor=who, note=note)
    click.echo(f"job #{job_id}: {party} signed"
               + ("; job completed" if done else f"; waiting for {', '.join(missing)}"))
