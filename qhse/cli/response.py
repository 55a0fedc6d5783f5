"""``qhse contractor``, ``qhse emergency``, ``qhse ledger`` and ``qhse training`` commands.

Only click is imported at module level; each command imports what it needs.  Times
without a zone are read in the configured time zone (QHSE_TIMEZONE).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click


from qhse.cli.support import UserError as UsageError  # noqa: E402  (one line on stderr, exit status 2)
from qhse.cli.support import acting_user, as_user_option  # noqa: E402


def _ctx():
    """(engine, UsageError) for the configured database, its schema brought up to date."""
    from db.engine import get_engine
    from qhse.cli.support import database_url

    return get_engine(database_url(migrate=True, quiet=True)), UsageError


def _user_error(msg: str) -> UsageError:
    return UsageError(msg)


def _time(value: str | None, what: str = "time") -> dt.datetime | None:
    if value is None:
        return None
    from qhse.settings import get_settings

    v = value.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            t = dt.datetime.strptime(v, fmt)
            break
        except ValueError:
            continue
    else:
        try:
            t = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise _user_error(f"{what} {value!r}: use YYYY-MM-DD HH:MM (local time) or ISO 8601") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=get_settings().tz)
    return t.astimezone(dt.UTC)


def _date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise _user_error(f"{what} {value!r}: use YYYY-MM-DD") from None


def _refs(fn, engine, ref):
    from db.queries.refs import RefError

    try:
        return fn(engine, ref)
    except RefError as exc:
        raise _user_error(str(exc)) from None


def _table(title: str, frame, columns: list[str] | None = None, limit: int | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    cols = columns or list(frame.columns)
    for c in cols:
        t.add_column(c)
    rows = frame if limit is None else frame.head(limit)
    for _, r in rows.iterrows():
        t.add_row(*["" if (v is None or (isinstance(v, float) and v != v)) else str(v) for v in (r[c] for c in cols)])
    Console().print(t)
    if limit is not None and len(frame) > limit:
        click.echo(f"... {len(frame) - limit} more rows")


# -------------------------------------------------------------------------------- contractor
@click.group()
def contractor() -> None:
    """Contractors: approvals, qualifications, induction, jobs, site access, checks, sign-off."""


def _contractor_call(fn, *args, **kwargs):
    from qhse.services.contractors import ContractorError

    try:
        return fn(*args, **kwargs)
    except ContractorError as exc:
        raise _user_error(str(exc)) from None


@contractor.command("list")
@click.option("--on", "on_", default=None, help="Validity date (YYYY-MM-DD, default today).")
def contractor_list(on_: str | None) -> None:
    """Companies with approval state, licence validity and workers."""
    from db.queries.contractors import companies
    from db.queries.scope import SYSTEM

    engine, _ = _ctx()
    on = _date(on_, "--on") if on_ else dt.date.today()
    _table(f"Contractor companies (validity on {on})", companies(engine, SYSTEM, on=on),
           ["id", "name", "status", "licence_expires_on", "licence_valid", "safety_licence_expires_on",
            "approved_safety_by", "approved_legal_by", "workers", "inducted", "open_jobs"])


def _manager(engine, as_user: str):
    """``--as USERNAME`` holding manage_contractors."""
    from qhse.services.access import MANAGE_CONTRACTORS

    return acting_user(engine, as_user, MANAGE_CONTRACTORS)


@contractor.command("approve")
@click.argument("company")
@click.option("--capacity", type=click.Choice(["safety", "legal"]), required=True, help="Which approval.")
@as_user_option(help_extra=" (safety: admin or plant_manager; legal: admin, group_manager or plant_head)")
def contractor_approve(company: str, capacity: str, as_user: str) -> None:
    """Give the safety or legal approval of COMPANY (id or exact name)."""
    from db.queries import refs
    from qhse.services.access import VIEW_CONTRACTORS
    from qhse.services.contractors import approve_company

    engine, _ = _ctx()
    who = acting_user(engine, as_user, VIEW_CONTRACTORS)
    cid = _refs(refs.company_id, engine, company)
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

    engine, _ = _ctx()
    who = _manager(engine, as_user)
    cid = _refs(refs.company_id, engine, company)
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

    engine, _ = _ctx()
    who = _manager(engine, as_user)
    cid = _refs(refs.company_id, engine, company) if company else None
    pid = _refs(refs.person_id, engine, person) if person else None
    qid = _contractor_call(add_qualification, engine, actor=who, kind=kind, number=number, company_id=cid, person_id=pid,
                           expires_on=_date(expires, "--expires") if expires else None)
    click.echo(f"qualification #{qid} filed")


@contractor.command("induction")
@click.argument("employee_no")
@click.option("--score", type=float, required=True, help="Test score in percent.")
@as_user_option(help_extra=" (manage_contractors)")
def contractor_induction(employee_no: str, score: float, as_user: str) -> None:
    """Record a worker's induction test; below the pass mark the worker is refused (exit 2)."""
    from db.queries import refs
    from qhse.services.contractors import record_induction

    engine, _ = _ctx()
    who = _manager(engine, as_user)
    pid = _refs(refs.person_id, engine, employee_no)
    res = _contractor_call(record_induction, engine, pid, score, actor=who)
    if not res.passed:
        raise _user_error(f"{employee_no}: {res.describe()} (attempt #{res.attempt_id} recorded)")
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

    engine, _ = _ctx()
    who = _manager(engine, as_user)
    jid = _contractor_call(
        create_job, engine, actor=who, company_id=_refs(refs.company_id, engine, company), area_id=_refs(refs.area_id, engine, area),
        scope=scope_text, work_types=list(work_types) or ["general"], starts_at=_time(from_, "--from"),
        ends_at=_time(to_, "--to"), worker_ids=[_refs(refs.person_id, engine, w) for w in workers],
        supervisor_person_id=_refs(refs.person_id, engine, supervisor) if supervisor else None)
    click.echo(f"job #{jid} requested; it needs approval ('qhse contractor job-approve {jid} --as USERNAME')")


@contractor.command("job-approve")
@click.argument("job_id", type=int)
@as_user_option(help_extra=" (admin or plant_manager of the job's site)")
def contractor_job_approve(job_id: int, as_user: str) -> None:
    """Approve a requested job (workers and company are checked again)."""
    from qhse.services.contractors import approve_job

    engine, _ = _ctx()
    who = _manager(engine, as_user)
    _contractor_call(approve_job, engine, job_id, actor=who)
    click.echo(f"job #{job_id} approved")


@contractor.command("jobs")
@click.option("--status", type=click.Choice(["requested", "approved", "active", "completed", "cancelled"]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
def contractor_jobs(status: str | None, limit: int) -> None:
    """List jobs, newest window first."""
    from db.queries.contractors import jobs
    from db.queries.scope import SYSTEM

    engine, _ = _ctx()
    _table("Contractor jobs", jobs(engine, SYSTEM, status=status, limit=limit),
           ["id", "site", "area", "company", "starts_at", "ends_at", "status", "workers", "inside_now", "checks",
            "signoffs"])


@contractor.command("show")
@click.argument("job_id", type=int)
def contractor_show(job_id: int) -> None:
    """A job with its workers, checks and sign-offs."""
    from db.queries.contractors import job_detail
    from db.queries.scope import SYSTEM

    engine, _ = _ctx()
    d = job_detail(engine, SYSTEM, job_id)
    if d is None:
        raise _user_error(f"no contractor job #{job_id}")
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
    from qhse.services.access import RECORD_ACCESS
    from qhse.services.contractors import record_entry

    engine, _ = _ctx()
    who = acting_user(engine, as_user, RECORD_ACCESS)
    rid = _contractor_call(record_entry, engine, _refs(refs.person_id, engine, employee_no),
                           _refs(refs.area_id, engine, area), at=_time(at_, "--at"), actor=who)
    click.echo(f"{employee_no} entered {area} (access record #{rid})")


@contractor.command("exit")
@click.argument("employee_no")
@click.option("--area", default=None, help="SITE/AREA (default: every area the person is in).")
@click.option("--at", "at_", default=None)
@as_user_option(help_extra=" (record_access)")
def contractor_exit(employee_no: str, area: str | None, at_: str | None, as_user: str) -> None:
    """Record an exit."""
    from db.queries import refs
    from qhse.services.access import RECORD_ACCESS
    from qhse.services.contractors import record_exit

    engine, _ = _ctx()
    who = acting_user(engine, as_user, RECORD_ACCESS)
    n = _contractor_call(record_exit, engine, _refs(refs.person_id, engine, employee_no), actor=who,
                         area_id=_refs(refs.area_id, engine, area) if area else None, at=_time(at_, "--at"))
    click.echo(f"{employee_no}: {n} access record(s) closed")


@contractor.command("check")
@click.argument("job_id", type=int)
@click.option("--result", type=click.Choice(["ok", "issues", "stop_work"]), required=True)
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

    engine, _ = _ctx()
    who = _manager(engine, as_user)
    cid = _contractor_call(record_check, engine, job_id, actor=who, result=result, photos=list(photos), note=note,
                           supervisor_person_id=_refs(refs.person_id, engine, supervisor) if supervisor else None,
                           at=_time(at_, "--at"))
    click.echo(f"check #{cid} recorded on job #{job_id} ({len(photos)} photo(s))")


@contractor.command("sign-off")
@click.argument("job_id", type=int)
@click.option("--party", type=click.Choice(["contractor", "supervisor", "area_owner", "safety"]), required=True)
@as_user_option(help_extra=" (manage_contractors on the job's site; recorded as the signer)")
@click.option("--note", default=None)
def contractor_sign_off(job_id: int, party: str, as_user: str, note: str | None) -> None:
    """Sign the job's completion for one party; the job completes when all have signed."""
    from qhse.services.contractors import sign_off

    engine, _ = _ctx()
    who = _manager(engine, as_user)
    missing, done = _contractor_call(sign_off, engine, job_id, party=party, actor=who, note=note)
    click.echo(f"job #{job_id}: {party} signed" + ("; job completed" if done else f"; waiting for {', '.join(missing)}"))


# --------------------------------------------------------------------------------- emergency
@click.group()
def emergency() -> None:
    """Emergency response: declare (plan in under a second), log, close with a review."""


def _em_call(fn, *args, **kwargs):
    from qhse.services.emergency import EmergencyError

    try:
        return fn(*args, **kwargs)
    except EmergencyError as exc:
        raise _user_error(str(exc)) from None


@emergency.command("declare")
@click.option("--area", required=True, help="SITE/AREA, e.g. SZ-ELEC/CHEM.")
@click.option("--type", "kind", type=click.Choice(["fire", "gas_leak", "chemical_spill", "injury"]), required=True)
@as_user_option(help_extra=" (manage_emergency on the area's site)")
@click.option("--description", default=None)
@click.option("--at", "at_", default=None, help="Declaration time (default now).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def emergency_declare(area: str, kind: str, as_user: str, description: str | None, at_: str | None,
                      as_json: bool) -> None:
    """Declare an emergency, print the response plan and notify."""
    from db.queries import refs
    from qhse.services.access import MANAGE_EMERGENCY
    from qhse.services.emergency import declare, plan_text

    engine, _ = _ctx()
    who = acting_user(engine, as_user, MANAGE_EMERGENCY)
    res = _em_call(declare, engine, area_id=_refs(refs.area_id, engine, area), kind=kind, actor=who,
                   description=description, at=_time(at_, "--at"))
    if as_json:
        click.echo(json.dumps({"emergency_id": res.emergency_id, "plan_ms": round(res.plan_ms, 2),
                               "notifications": res.notifications, "plan": res.plan}, indent=2))
        return
    click.echo(plan_text(res.plan))
    click.echo(f"\nemergency #{res.emergency_id} declared; plan generated in {res.plan_ms:.0f} ms; "
               f"{res.notifications} notification(s) queued", err=True)


@emergency.command("log")
@click.argument("emergency_id", type=int)
@as_user_option(help_extra=" (manage_emergency on the emergency's site)")
@click.option("--action", default=None, help="An action taken.")
@click.option("--note", default=None, help="A note.")
@click.option("--resource", "resource_id", type=int, default=None, help="Emergency resource id used.")
@click.option("--quantity", type=int, default=1, show_default=True)
@click.option("--at", "at_", default=None)
def emergency_log(emergency_id: int, as_user: str, action, note, resource_id, quantity, at_) -> None:
    """Add an action, a note or a resource used to the timeline."""
    from qhse.services.access import MANAGE_EMERGENCY
    from qhse.services.emergency import log_action, use_resource

    if sum(x is not None for x in (action, note, resource_id)) != 1:
        raise _user_error("give exactly one of --action, --note, --resource")
    engine, _ = _ctx()
    who = acting_user(engine, as_user, MANAGE_EMERGENCY)
    at = _time(at_, "--at")
    if resource_id is not None:
        eid = _em_call(use_resource, engine, emergency_id, resource_id=resource_id, quantity=quantity, actor=who, at=at)
    else:
        eid = _em_call(log_action, engine, emergency_id, actor=who, text=action or note, at=at,
                       kind="action" if action else "note")
    click.echo(f"timeline entry #{eid} added to emergency #{emergency_id}")


@emergency.command("close")
@click.argument("emergency_id", type=int)
@as_user_option(help_extra=" (manage_emergency on the emergency's site)")
@click.option("--summary", required=True, help="Review summary.")
@click.option("--lesson", "lessons", multiple=True, help="A lesson learned (repeat); goes into the plan template.")
@click.option("--new-step", "new_steps", multiple=True, help="A response step to add to the template (repeat).")
@click.option("--at", "at_", default=None)
def emergency_close(emergency_id: int, as_user: str, summary: str, lessons, new_steps, at_) -> None:
    """Close with a review; lessons and new steps become a new version of the site's plan template."""
    from qhse.services.access import MANAGE_EMERGENCY
    from qhse.services.emergency import close

    engine, _ = _ctx()
    who = acting_user(engine, as_user, MANAGE_EMERGENCY)
    tid = _em_call(close, engine, emergency_id, actor=who, summary=summary, lessons=list(lessons),
                   new_steps=list(new_steps), at=_time(at_, "--at"))
    click.echo(f"emergency #{emergency_id} closed" + (f"; plan template #{tid} now carries the review" if tid else ""))


@emergency.command("show")
@click.argument("emergency_id", type=int)
def emergency_show(emergency_id: int) -> None:
    """The stored plan, the timeline and the review."""
    from db.queries.emergency import emergency_detail
    from db.queries.scope import SYSTEM
    from qhse.services.emergency import plan_text

    engine, _ = _ctx()
    d = emergency_detail(engine, SYSTEM, emergency_id)
    if d is None:
        raise _user_error(f"no emergency #{emergency_id}")
    e = d["emergency"]
    click.echo(f"emergency #{e['id']} {e['kind']} - {e['status']}")
    click.echo(plan_text(e["plan"]))
    click.echo("\nTIMELINE:")
    for ev in d["timeline"]:
        click.echo(f"  {ev['at']:%Y-%m-%d %H:%M:%S} {ev['kind']:<13} {ev['actor'] or ''}: {ev['detail']}")
    if d["review"]:
        r = d["review"]
        click.echo(f"\nREVIEW by {r['reviewed_by']}: {r['summary']}")
        for x in r["lessons"]:
            click.echo(f"  lesson: {x}")


@emergency.command("list")
@click.option("--status", type=click.Choice(["active", "closed"]), default=None)
def emergency_list(status: str | None) -> None:
    from db.queries.emergency import emergencies
    from db.queries.scope import SYSTEM

    engine, _ = _ctx()
    _table("Emergencies", emergencies(engine, SYSTEM, status=status),
           ["id", "site", "area_code", "kind", "status", "declared_at", "declared_by", "closed_at", "people_inside",
            "plan_ms"])


# ------------------------------------------------------------------------------------ ledger
@click.group()
def ledger() -> None:
    """Compliance ledgers (CSV / PDF with source record ids) and the regulation register."""


@ledger.command("export")
@click.argument("kind", type=click.Choice(["waste_gas", "training", "inspection"]))
@click.option("--site", required=True, help="Site code.")
@click.option("--from", "from_", required=True, help="First day YYYY-MM-DD (site time).")
@click.option("--to", "to_", required=True, help="Last day YYYY-MM-DD (inclusive).")
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), default="pdf", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: ledger_<kind>_<site>_<from>-<to>.<format> here).")
def ledger_export(kind: str, site: str, from_: str, to_: str, fmt: str, output: Path | None) -> None:
    """Export a ledger for a period."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from qhse.services.ledgers import LedgerError, build, export

    engine, _ = _ctx()
    try:
        led = build(engine, kind, site, _date(from_, "--from"), _date(to_, "--to"))
        path = output or Path(f"{led.filename}.{fmt}")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()) as bar:
            task = bar.add_task(f"writing {fmt.upper()}", total=max(1, len(led.rows)))
            export(led, fmt, path, progress=lambda done, total: bar.update(task, completed=done))
            bar.update(task, completed=max(1, len(led.rows)))
    except LedgerError as exc:
        raise _user_error(str(exc)) from None
    totals = ", ".join(f"{k} {v}" for k, v in led.totals)
    click.echo(f"{path}: {len(led.rows)} lines; {totals}")


@ledger.command("register")
@click.option("--site", default=None, help="Site code (default: every site).")
@click.option("--kind", type=click.Choice(["waste_gas", "training", "inspection"]), default=None)
def ledger_register(site: str | None, kind: str | None) -> None:
    """The regulations and internal standards that apply."""
    from db.queries import refs
    from db.queries.ledgers import regulations
    from db.queries.scope import SYSTEM

    engine, _ = _ctx()
    sid = _refs(refs.site_id, engine, site) if site else None
    _table("Regulation register", regulations(engine, SYSTEM, sid, kind),
           ["id", "site", "code", "title", "kind", "clause", "ledger_kind", "review_due_on"])


# ---------------------------------------------------------------------------------- training
@click.group()
def training() -> None:
    """Training: due-soon lists per department, entry gating scan."""


@training.command("due-soon")
@click.option("--site", "sites", multiple=True, help="Site code (repeat; default all).")
@click.option("--days", type=int, default=30, show_default=True, help="Look-ahead in days.")
@click.option("--on", "on_", default=None, help="Reference date (default today).")
@click.option("--no-expired", is_flag=True, help="Leave out training that has already expired.")
@click.option("--detail", is_flag=True, help="List every person and course, not only the department counts.")
def training_due_soon(sites, days: int, on_: str | None, no_expired: bool, detail: bool) -> None:
    """Training expiring within DAYS (and expired), per department."""
    from db.queries import refs
    from db.queries.scope import SYSTEM
    from db.queries.training import due_soon, due_soon_by_department

    if days < 0:
        raise _user_error("--days must be zero or more")
    engine, _ = _ctx()
    on = _date(on_, "--on") if on_ else dt.date.today()
    ids = [_refs(refs.site_id, engine, s) for s in sites] or None
    frame = due_soon(engine, SYSTEM, on=on, days=days, site_ids=ids, include_expired=not no_expired)
    _table(f"Training due within {days} days of {on}, per department", due_soon_by_department(frame))
    if detail:
        _table("Detail", frame, ["site", "department", "employee_no", "person", "course_code", "expires_on",
                                 "days_left", "status"])


@training.command("gate-scan")
@click.option("--site", "sites", multiple=True, help="Site code (repeat; default all).")
@click.option("--at", "at_", default=None, help="Check time (default now).")
def training_gate_scan(sites, at_: str | None) -> None:
    """Apply the gating rules: raise no-entry warnings (area owners notified), resolve stale ones."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from db.queries import refs
    from qhse.services.gating import scan

    engine, _ = _ctx()
    ids = [_refs(refs.site_id, engine, s) for s in sites] or None
    with Progress(TextColumn("areas"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("areas", total=None)
        res = scan(engine, at=_time(at_, "--at"), site_ids=ids,
                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    click.echo(res.describe())


COMMANDS = (contractor, emergency, ledger, training)
