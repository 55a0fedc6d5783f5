"""The ``qhse`` command line: the composition root.

Packages are imported lazily inside commands so ``qhse --help`` stays fast.  Errors a
user can fix (settings, unreachable services, bad files) print one line and exit 2.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from qhse.settings import SettingsError


from qhse.cli.support import (  # noqa: F401  (re-exported)
    UserError,
    _settings,
    acting_user,
    as_user_option,
    database_url,
    migration_url,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qhse-platform")
def cli() -> None:
    """QHSE Platform: plant safety data in one place, from sensors, cameras and people."""


# ------------------------------------------------------------------------------------ db
@cli.group()
def db() -> None:
    """Database: migrations, demo data, backup and restore."""


@db.command("url")
def db_url() -> None:
    """Print the database URL in use (starts the embedded server if none is configured)."""
    click.echo(database_url(quiet=True))


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from db.migrate import current, upgrade

    database_url()  # reports which database
    url = migration_url()
    upgrade(url, revision)
    click.echo(f"schema at {', '.join(sorted(current(url))) or 'base'}")


@db.command("downgrade")
@click.option("--revision", default="base", show_default=True, help="Target revision ('base' removes everything).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_downgrade(revision: str, yes: bool) -> None:
    """Revert migrations down to REVISION."""
    from db.migrate import current, downgrade

    database_url()
    url = migration_url()
    if not yes:
        click.confirm(f"Downgrade the schema to {revision}? Data in removed tables is lost", abort=True)
    downgrade(url, revision)
    click.echo(f"schema at {', '.join(sorted(current(url))) or 'base'}")


@db.command("seed")
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", "seed_", type=int, default=42, show_default=True, help="Random seed (same seed, same data).")
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day of history (default: today, UTC).")
@click.option("--reset", is_flag=True, help="Empty every table first.")
def db_seed(scale: str, seed_: int, end_date, reset: bool) -> None:
    """Fill the database with 12 months of demo data for three plants."""
    summary = run_seed(scale=scale, seed=seed_, end_date=end_date, reset=reset)
    print_seed_summary(summary)


def run_seed(*, scale: str, seed: int, end_date=None, reset: bool = False, url: str | None = None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from db.engine import get_engine
    from qhse.demo.seed import SeedError, seed as do_seed

    url = url or database_url(migrate=True)
    end = dt.datetime(end_date.year, end_date.month, end_date.day, tzinfo=dt.UTC) if end_date else None
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        try:
            return do_seed(get_engine(url), scale=scale, seed=seed, end=end, reset=reset, progress=progress)
        except SeedError as exc:
            raise UserError(str(exc)) from None


def print_seed_summary(summary) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Seeded '{summary.scale}' (seed {summary.seed}), {summary.start:%Y-%m-%d} .. {summary.end:%Y-%m-%d}")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name in ("site", "area", "asset", "sensor", "sensor_reading", "alarm", "failure_event", "hazard_report",
                 "corrective_action", "incident", "inspection", "person", "training_record", "contractor_job",
                 "camera", "vision_event"):
        t.add_row(name, f"{summary.counts.get(name, 0):,}")
    Console(stderr=False).print(t)
    click.echo(f"readings bulk load: {summary.readings:,} rows in {summary.reading_seconds:.1f} s "
               f"= {summary.readings_per_s:,.0f} readings/s (binary COPY)")


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(file: Path) -> None:
    """Write a backup of the whole database to FILE (pg_dump custom format)."""
    from db.backup import BackupError, backup

    database_url()
    url = migration_url()  # the owner reads every table and writes ownership-free dumps
    try:
        backup(url, file)
    except BackupError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"backup written to {file} ({file.stat().st_size:,} bytes)")


@db.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_restore(file: Path, yes: bool) -> None:
    """Replace the database with the backup in FILE (checked before anything is touched)."""
    from db.backup import BackupError, restore, validate_dump
    from db.migrate import grant_app_privileges

    database_url()
    url = migration_url()  # dropping and re-creating the schema needs its owner
    try:
        entries = validate_dump(file)
        if not yes:
            click.confirm(f"Replace ALL data with the {entries} entries in {file}?", abort=True)
        restore(url, file)
        grant_app_privileges(url)
    except BackupError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"restored {file}")


@cli.command()
@click.option("--component", type=click.Choice(["database", "ingest"]), default="database", show_default=True,
              help="database: reachable and current; ingest: also every running consumer's heartbeat is fresh.")
@click.option("--client-id", "client_prefix", default=None,
              help="ingest: only the consumers whose client id starts with this (e.g. one container's workers).")
@click.option("--stale-after", type=click.FloatRange(1, None), default=None,
              help="ingest: seconds after which a heartbeat is stale. [default: QHSE_HEARTBEAT_STALE_S]")
def health(component: str, client_prefix: str | None, stale_after: float | None) -> None:
    """Exit 0 when the component is healthy (container health check); exit 1 with the reason when not."""
    from db.migrate import is_up_to_date

    url = database_url(quiet=True)
    if not is_up_to_date(url):
        raise UserError("database schema is not current: run 'qhse db upgrade'")
    if component == "ingest":
        from db.engine import get_engine
        from db.heartbeats import check

        stale_s = stale_after or _settings().heartbeat_stale_s
        with get_engine(url).connect() as conn:
            ok, lines = check(conn, stale_s, client_prefix)
        for ln in lines:
            click.echo(ln, err=not ok)
        if not ok:
            click.echo("unhealthy: ingestion consumer heartbeat missing or stale", err=True)
            sys.exit(1)
    click.echo("ok")


# ------------------------------------------------------------------------------ users
@cli.group()
def user() -> None:
    """Dashboard users: add, list, change password."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, help="admin, group_manager, plant_manager, plant_head, data_scientist, "
              "security, inspector or worker.")
@click.option("--site", "sites", multiple=True, help="Site code in the user's scope (repeat for several).")
@click.option("--all-sites", is_flag=True, help="Every site (group roles).")
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--locale", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@click.option("--password", default=None, help="Password (prompted when left out).")
def user_add(username: str, role: str, sites: tuple[str, ...], all_sites: bool, display_name: str | None,
             locale: str, password: str | None) -> None:
    """Create a user with an argon2-hashed password."""
    from db.engine import get_engine
    from qhse.services.auth import AuthError, add_user

    url = database_url(migrate=True)
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        uid = add_user(get_engine(url), username=username, password=password, role=role, display_name=display_name,
                       locale=locale, site_codes=list(sites), all_sites=True if all_sites else None)
    except AuthError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"user {username.lower()} added (id {uid}, role {role})")


@user.command("list")
def user_list() -> None:
    """List users with role, sites and last sign-in."""
    from rich.console import Console
    from rich.table import Table

    from db.engine import get_engine
    from db.queries.scope import SYSTEM
    from db.queries.users import list_users

    df = list_users(get_engine(database_url(migrate=True)), SYSTEM)
    t = Table()
    for c in ("username", "role", "sites", "locale", "active", "last sign-in"):
        t.add_column(c)
    for r in df.itertuples():
        t.add_row(r.username, r.role, "all" if r.all_sites else (r.sites or "-"), r.locale, "yes" if r.active else "no",
                  f"{r.last_login_at:%Y-%m-%d %H:%M}" if r.last_login_at is not None and r.last_login_at == r.last_login_at else "-")
    Console().print(t)


@user.command("passwd")
@click.argument("username")
@click.option("--password", default=None, help="New password (prompted when left out).")
def user_passwd(username: str, password: str | None) -> None:
    """Set a user's password."""
    from db.engine import get_engine
    from qhse.services.auth import AuthError, set_password

    url = database_url(migrate=True)
    if password is None:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(get_engine(url), username, password)
    except AuthError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"password of {username.lower()} changed")


# -------------------------------------------------------------------------- dashboard
@cli.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
def dashboard(port: int, address: str) -> None:
    """Start the web dashboard (Streamlit) in the foreground."""
    from dashboard.launch import run_dashboard

    url = database_url(migrate=True)
    click.echo(f"dashboard: http://{address}:{port}  (Ctrl+C to stop)")
    sys.exit(run_dashboard(port=port, address=address, database_url=url))


# ------------------------------------------------------------------------- hazard loop
def _loop_engine():
    from db.engine import get_engine

    return get_engine(database_url(migrate=True, quiet=True))


def _loop_errors():
    """Rule violations that a user can fix: shown as one line, exit 2."""
    from qhse.services.dispatch import DispatchError
    from qhse.services.incentives import IncentiveError
    from qhse.services.inspections import InspectionError
    from qhse.services.notify import NotifyError
    from qhse.services.recurrence import RecurrenceError
    from qhse.services.sla import SlaError
    from qhse.services.workflow import WorkflowError

    return (WorkflowError, SlaError, DispatchError, InspectionError, NotifyError, IncentiveError, RecurrenceError)


def _site_ids(eng, site_code: str | None) -> list[int] | None:
    """[id] of the site with this code (a clear error if unknown); None for every site."""
    if not site_code:
        return None
    from db.engine import session_scope
    from db.models import Site

    with session_scope(eng) as s:
        return [_by_code(s, Site, site_code, "site").id]


def _by_code(s, model, code: str, what: str, **filters):
    import sqlalchemy as sa

    q = sa.select(model).where(model.code == code)
    for k, v in filters.items():
        q = q.where(getattr(model, k) == v)
    obj = s.scalar(q)
    if obj is None:
        known = s.scalars(sa.select(model.code).filter_by(**filters).order_by(model.code).limit(30)).all()
        raise UserError(f"unknown {what} {code!r} (known: {', '.join(known) or 'none'})")
    return obj


def _person(s, employee_no: str):
    import sqlalchemy as sa

    from db.models import Person

    p = s.scalar(sa.select(Person).where(Person.employee_no == employee_no))
    if p is None:
        raise UserError(f"no person with employee number {employee_no!r}")
    return p


def _when(value: str | None):
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{value!r} is not a date/time (use ISO 8601, e.g. 2026-11-03T14:00+08:00)") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _fmt(t) -> str:
    return "-" if t is None or t != t else f"{t:%Y-%m-%d %H:%M}"


def _txt(v) -> str:
    """A table cell: '-' for missing values (None, NaN)."""
    return "-" if v is None or v != v else str(v)


@cli.group()
def hazard() -> None:
    """Hazard reports and corrective actions: report, list, show, move through the workflow, SLA board."""


@hazard.command("report")
@click.option("--site", "site_code", required=True, help="Site code, e.g. SZ-ELEC.")
@click.option("--area", "area_code", required=True, help="Area code within the site, e.g. CHEM.")
@click.option("--category", required=True, help="electrical, chemical, fire, machine_guarding, ppe, ...")
@click.option("--title", required=True)
@click.option("--severity", type=click.Choice(["low", "normal", "high", "severe"]), default="normal", show_default=True)
@click.option("--description", default=None)
@click.option("--asset", "asset_code", default=None, help="Asset code, when the hazard is at one machine.")
@click.option("--reporter", default=None, help="Reporter's employee number.")
@click.option("--photo", type=click.Path(dir_okay=False), default=None, help="Path of a photo (stored as given).")
@click.option("--likelihood", type=click.IntRange(1, 5), default=3, show_default=True)
@click.option("--consequence", type=click.IntRange(1, 5), default=3, show_default=True)
@as_user_option()
def hazard_report(site_code, area_code, category, title, severity, description, asset_code, reporter, photo,
                  likelihood, consequence, as_user) -> None:
    """Report a hazard (response due time, recurrence link and area manager notice follow)."""
    from db.engine import session_scope
    from db.models import Area, Asset, Site
    from qhse.services.access import REPORT_HAZARD
    from qhse.services.workflow import report_hazard

    eng = _loop_engine()
    who = acting_user(eng, as_user, REPORT_HAZARD)
    try:
        with session_scope(eng) as s:
            site = _by_code(s, Site, site_code, "site")
            area = _by_code(s, Area, area_code, "area", site_id=site.id)
            asset = _by_code(s, Asset, asset_code, "asset", site_id=site.id) if asset_code else None
            person = _person(s, reporter) if reporter else None
            h = report_hazard(s, site_id=site.id, area_id=area.id, category=category, title=title, severity=severity,
                              description=description, asset_id=asset.id if asset else None,
                              reporter_person_id=person.id if person else None, photo_path=photo,
                              likelihood=likelihood, consequence=consequence, reporter_user_id=who.user_id,
                              actor=who)
            msg = f"hazard #{h.id} reported; response due {_fmt(h.response_due_at)} UTC"
            if h.is_repeat:
                msg += f"; repeat of #{h.predecessor_id}"
    except _loop_errors() as exc:
        raise UserError(str(exc)) from None
    click.echo(msg)


@hazard.command("list")
@click.option("--site", "site_code", default=None)
@click.option("--status", default=None, help="Only this status.")
@click.option("--open", "open_only", is_flag=True, help="Only reports not closed or rejected.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
def hazard_list(site_code, status, open_only, limit) -> None:
    """List hazard reports, newest first."""
    from rich.console import Console
    from rich.table import Table

    from db.queries.hazards import hazard_list as query
    from qhse.services.workflow import STATUSES

    if status and status not in STATUSES:
        raise UserError(f"unknown status {status!r} (statuses: {', '.join(STATUSES)})")
    eng = _loop_engine()
    site_ids = _site_ids(eng, site_code)
    df = query(eng, site_ids, status=status, open_only=open_only, limit=limit)
    t = Table()
    for c in ("id", "site", "area", "category", "severity", "status", "reported", "response due", "actions", "title"):
        t.add_column(c)
    for r in df.itertuples():
        t.add_row(str(r.id), r.site, r.area, r.category, r.severity, r.status, _fmt(r.reported_at),
                  _fmt(r.response_due_at), f"{r.actions_done}/{r.actions}", r.title + (" (repeat)" if r.is_repeat else ""))
    Console().print(t)
    click.echo(f"{len(df)} report(s)")


@hazard.command("show")
@click.argument("hazard_id", type=int)
def hazard_show(hazard_id: int) -> None:
    """One report with its history, actions and predecessors."""
    from db.queries.hazards import hazard_detail

    d = hazard_detail(_loop_engine(), hazard_id)
    if d is None:
        raise UserError(f"no hazard report #{hazard_id}")
    click.echo(f"#{d['id']} [{d['status']}] {d['title']}")
    click.echo(f"  {d['site']} / {d['area']}  category {d['category']}  severity {d['severity']}  source {d['source']}"
               f"  reporter {d['reporter'] or '-'}  points {d['points_awarded']}")
    click.echo(f"  reported {_fmt(d['reported_at'])}  response due {_fmt(d['response_due_at'])}  "
               f"responded {_fmt(d['responded_at'])}  closed {_fmt(d['closed_at'])} (UTC)")
    if d["reject_reason"]:
        click.echo(f"  rejected: {d['reject_reason']}")
    click.echo("history:")
    for t in d["transitions"]:
        click.echo(f"  {_fmt(t['at'])}  {t['from_status'] or '-':>11} -> {t['to_status']:<11} by {t['actor']}"
                   + (f"  ({t['note']})" if t["note"] else ""))
    click.echo("actions:")
    for a in d["actions"] or []:
        click.echo(f"  #{a['id']} {a['department'] or '-'} owner {a['owner'] or '-'} [{a['status']}] due {_fmt(a['due_at'])}"
                   f" level {a['escalation_level']}" + (f" ({a['escalations']})" if a["escalations"] else ""))
    if d["predecessors"]:
        click.echo("repeat of: " + ", ".join(f"#{p['id']} ({_fmt(p['reported_at'])})" for p in d["predecessors"]))


@hazard.command("transition")
@click.argument("hazard_id", type=int)
@click.argument("status")
@as_user_option("--actor")
@click.option("--reason", default=None, help="Required to reject or reopen.")
@click.option("--note", default=None)
@click.option("--department", "departments", multiple=True,
              help="On assignment: department code(s) instead of the dispatch rules (repeat for several).")
@click.option("--due", default=None, help="On assignment: action due time (ISO 8601) instead of the SLA's.")
def hazard_transition(hazard_id, status, as_user, reason, note, departments, due) -> None:
    """Move a report to STATUS: assigned, in_progress, rectified, verified, closed, rejected, reopened."""
    import sqlalchemy as sa

    from db.engine import session_scope
    from db.models import Department, HazardReport
    from qhse.services.access import VIEW_ACTIONS
    from qhse.services.workflow import transition

    eng = _loop_engine()
    actor = acting_user(eng, as_user, VIEW_ACTIONS)
    try:
        with session_scope(eng) as s:
            dep_ids = None
            if departments:
                h = s.get(HazardReport, hazard_id)
                if h is None:
                    raise UserError(f"no hazard report #{hazard_id}")
                dep_ids = []
                for code in departments:
                    d = s.scalar(sa.select(Department).where(Department.site_id == h.site_id, Department.code == code))
                    if d is None:
                        raise UserError(f"no department {code!r} at this report's site")
                    dep_ids.append(d.id)
            h = transition(s, hazard_id, status, actor=actor, reason=reason, note=note, department_ids=dep_ids,
                           due_at=_when(due))
            out = f"hazard #{h.id} is now {h.status}"
    except _loop_errors() as exc:
        raise UserError(str(exc)) from None
    click.echo(out)


@hazard.command("start-action")
@click.argument("action_id", type=int)
@as_user_option("--actor")
def hazard_start_action(action_id: int, as_user: str) -> None:
    """A team starts work on its corrective action."""
    from db.engine import session_scope
    from qhse.services.access import VIEW_ACTIONS
    from qhse.services.workflow import start_action

    actor = acting_user(_loop_engine(), as_user, VIEW_ACTIONS)
    try:
        with session_scope(_loop_engine()) as s:
            a = start_action(s, action_id, actor=actor)
            out = f"action #{a.id} in progress"
    except _loop_errors() as exc:
        raise UserError(str(exc)) from None
    click.echo(out)


@hazard.command("complete-action")
@click.argument("action_id", type=int)
@as_user_option("--actor")
@click.option("--note", default=None)
@click.option("--cost", type=click.FloatRange(min=0), default=None, help="Cost of the fix (CNY).")
def hazard_complete_action(action_id: int, as_user: str, note: str | None, cost: float | None) -> None:
    """A team finishes its corrective action (the last one rectifies the hazard)."""
    from db.engine import session_scope
    from db.models import HazardReport
    from qhse.services.access import VIEW_ACTIONS
    from qhse.services.workflow import complete_action

    actor = acting_user(_loop_engine(), as_user, VIEW_ACTIONS)
    try:
        with session_scope(_loop_engine()) as s:
            a = complete_action(s, action_id, actor=actor, note=note, cost=cost)
            h = s.get(HazardReport, a.hazard_id)
            out = f"action #{a.id} done; hazard #{h.id} is {h.status}"
    except _loop_errors() as exc:
        raise UserError(str(exc)) from None
    click.echo(out)


@hazard.command("board")
@click.option("--site", "site_code", default=None)
@click.option("--due-soon-hours", type=click.FloatRange(min=0), default=24.0, show_default=True)
@click.option("--limit", type=click.IntRange(1, 10000), default=40, show_default=True)
def hazard_board(site_code, due_soon_hours, limit) -> None:
    """SLA board: open corrective actions by escalation and due time."""
    from rich.console import Console
    from rich.table import Table

    from db.queries.hazards import BOARD_STATES, awaiting_response, sla_board

    eng = _loop_engine()
    site_ids = _site_ids(eng, site_code)
    df = sla_board(eng, site_ids, due_soon_hours=due_soon_hours)
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    t = Table(title="SLA board: " + ", ".join(f"{k.replace('_', ' ')} {counts.get(k, 0)}" for k in BOARD_STATES))
    for c in ("state", "item", "hazard", "site", "area", "department", "severity", "due (UTC)", "h to due", "level"):
        t.add_column(c)
    style = {"escalated": "bold red", "overdue": "red", "due_soon": "yellow", "on_time": "green"}
    for r in df.head(limit).itertuples():
        what = f"action #{r.action_id}" if r.item == "action" else "response"
        t.add_row(f"[{style[r.state]}]{r.state}[/]", what, f"#{r.hazard_id} {r.title}", r.site, r.area,
                  _txt(r.department), r.severity, _fmt(r.due_at), f"{r.hours_to_due:.1f}", r.escalated_to)
    Console().print(t)
    aw = awaiting_response(eng, site_ids)
    late = int(aw["response_overdue"].sum()) if len(aw) else 0
    click.echo(f"{len(aw)} report(s) awaiting response, {late} past their response due time")


@hazard.command("leaderboard")
@click.option("--site", "site_code", required=True)
@click.option("--days", type=click.IntRange(1, 3650), default=90, show_default=True)
def hazard_leaderboard(site_code: str, days: int) -> None:
    """Reporters of a site ranked by incentive points."""
    from db.engine import session_scope
    from db.models import Site
    from db.queries.hazards import leaderboard

    eng = _loop_engine()
    with session_scope(eng) as s:
        site = _by_code(s, Site, site_code, "site")
    df = leaderboard(eng, site.id, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
    for r in df.itertuples():
        click.echo(f"{r.rank:>3}. {r.name:<24} {r.department or '-':<28} {r.points:>5} points  "
                   f"{r.valid_reports}/{r.reports} valid")


@cli.group()
def inspection() -> None:
    """Inspections: schedule by risk class, list, record results (findings become hazard reports)."""


@inspection.command("schedule")
@click.option("--days", type=click.FloatRange(0.1, 31), default=2.0, show_default=True, help="How far ahead.")
def inspection_schedule(days: float) -> None:
    """Create due inspections for every route and flag missed ones."""
    from db.engine import session_scope
    from qhse.services.inspections import schedule

    with session_scope(_loop_engine()) as s:
        res = schedule(s, horizon=dt.timedelta(days=days))
    click.echo(res.describe())


@inspection.command("list")
@click.option("--site", "site_code", default=None)
@click.option("--status", type=click.Choice(["scheduled", "done", "missed"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
def inspection_list(site_code, status, limit) -> None:
    """List inspections, latest due first."""
    from db.queries.hazards import inspections

    eng = _loop_engine()
    site_ids = _site_ids(eng, site_code)
    df = inspections(eng, site_ids, status=status, limit=limit)
    for r in df.itertuples():
        click.echo(f"#{r.id:<6} {r.site:<8} {r.area:<26} {r.risk_class} due {_fmt(r.due_at)} {r.status:<9} "
                   f"{r.inspector or '-':<16} findings {r.findings}")
    click.echo(f"{len(df)} inspection(s)")


@inspection.command("perform")
@click.argument("inspection_id", type=int)
@click.option("--inspector", required=True, help="Inspector's employee number.")
@click.option("--set", "answers", multiple=True, metavar="KEY=VALUE",
              help="A checklist answer (yes/no, a number or text); repeat for each item.")
@click.option("--finding", "findings", multiple=True, metavar="TITLE[|CATEGORY[|SEVERITY]]",
              help="An extra finding to report as a hazard; repeat for several.")
@as_user_option()
def inspection_perform(inspection_id, inspector, answers, findings, as_user) -> None:
    """Record an inspection's results; failed items and findings become hazard reports."""
    from db.engine import session_scope
    from db.queries.hazards import inspection_form
    from qhse.services.access import REPORT_HAZARD
    from qhse.services.inspections import perform

    eng = _loop_engine()
    actor = acting_user(eng, as_user, REPORT_HAZARD)
    form = inspection_form(eng, inspection_id)
    if form is None:
        raise UserError(f"no inspection #{inspection_id}")
    types = {it["key"]: it.get("type", "bool") for it in form["checklist"] or []}
    results: dict = {}
    for a in answers:
        if "=" not in a:
            raise UserError(f"--set {a!r}: use KEY=VALUE")
        k, v = a.split("=", 1)
        k = k.strip()
        typ = types.get(k)
        if typ == "bool":
            low = v.strip().lower()
            if low not in ("yes", "no", "true", "false", "y", "n", "1", "0", "ok", "fail"):
                raise UserError(f"{k}: answer yes or no, not {v!r}")
            results[k] = low in ("yes", "true", "y", "1", "ok")
        elif typ == "number":
            try:
                results[k] = float(v) if "." in v else int(v)
            except ValueError:
                raise UserError(f"{k}: {v!r} is not a number") from None
        else:
            results[k] = v
    extra = []
    for f in findings:
        parts = [p.strip() for p in f.split("|")]
        item = {"title": parts[0]}
        if len(parts) > 1 and parts[1]:
            item["category"] = parts[1]
        if len(parts) > 2 and parts[2]:
            item["severity"] = parts[2]
        extra.append(item)
    try:
        with session_scope(eng) as s:
            who = _person(s, inspector)
            out = perform(s, inspection_id, inspector_person_id=who.id, results=results, findings=extra, actor=actor)
            msg = (f"inspection #{inspection_id} done{' (late)' if out.late else ''}; "
                   f"{len(out.hazards)} finding(s) reported" +
                   (": " + ", ".join(f"#{h.id} {h.title}" for h in out.hazards) if out.hazards else ""))
    except _loop_errors() as exc:
        raise UserError(str(exc)) from None
    click.echo(msg)


@cli.group()
def notify() -> None:
    """Notification outbox: list, retry given-up messages."""


@notify.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=30, show_default=True)
def notify_list(status, limit) -> None:
    """Latest notifications with their delivery state."""
    from db.queries.hazards import notifications

    df = notifications(_loop_engine(), status=status, limit=limit)
    for r in df.itertuples():
        err = f"  last error: {r.last_error}" if isinstance(r.last_error, str) else ""
        click.echo(f"#{r.id:<6} {r.channel:<7} {r.status:<7} tries {r.attempts}  {r.recipient:<40} {r.subject[:60]}{err}")
    click.echo(f"{len(df)} notification(s)")


@notify.command("retry")
@click.option("--id", "ids", type=int, multiple=True, help="Only these notifications (default: every failed one).")
def notify_retry(ids) -> None:
    """Queue given-up notifications again (after fixing the transport settings)."""
    from db.engine import session_scope
    from qhse.services.notify import retry_failed

    with session_scope(_loop_engine()) as s:
        n = retry_failed(s, ids or None)
    click.echo(f"{n} notification(s) queued again")


# ------------------------------------------------------------------------------ worker
@cli.command()
@click.option("--once", is_flag=True, help="Run every due job once, then exit.")
@click.option("--job", "jobs", multiple=True, help="Only this job (repeat for several); see --list.")
@click.option("--force", is_flag=True, help="With --once: run the jobs even if not due.")
@click.option("--tick", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True,
              help="Seconds between checks for due jobs.")
@click.option("--list", "list_jobs", is_flag=True, help="List the jobs and their intervals.")
def worker(once: bool, jobs: tuple[str, ...], force: bool, tick: float, list_jobs: bool) -> None:
    """Periodic jobs (SLA escalation, inspections, notifications, rollups, scoring, scorecards).

    Run as many replicas as you like: each job runs under a PostgreSQL advisory lock.
    """
    import logging

    from qhse.jobs.runner import JOBS, run_forever, run_once, select_jobs, worker_id

    if list_jobs:
        for j in JOBS:
            click.echo(f"{j.name:<20} every {j.interval_s:>6.0f} s  {j.description}")
        return
    s = _settings()
    logging.basicConfig(level=s.log_level.upper() if s.log_level.upper() in logging._nameToLevel else "INFO",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        selected = select_jobs(list(jobs))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    eng = _loop_engine()

    def show(o) -> None:
        colour = {"ok": "green", "failed": "red", "skipped": "yellow"}.get(o.status)
        head = click.style(f"{o.job:<20} {o.status:<8}", fg=colour)
        click.echo(f"{head} {o.duration_s:6.2f} s  {o.detail}")

    if once:
        outs = run_once(eng, selected, force=force, on_outcome=show)
        if any(o.status == "failed" for o in outs):
            sys.exit(1)
        return
    click.echo(f"worker {worker_id()} running {len(selected)} job(s), checking every {tick:g} s (Ctrl+C stops)")
    run_forever(eng, selected, tick_s=tick, on_outcome=show)
    click.echo("worker stopped")


# ---------------------------------------------------------------------------------- demo
@cli.command()
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", "seed_", type=int, default=42, show_default=True)
@click.option("--no-ui", is_flag=True, help="Do not start the dashboard; exit after the batch steps.")
@click.option("--port", type=int, default=8501, show_default=True, help="Dashboard port.")
@click.option("--reset", is_flag=True, help="Re-seed even if the database already holds data.")
def demo(scale: str, seed_: int, no_ui: bool, port: int, reset: bool) -> None:
    """Set everything up on embedded defaults and run the whole platform on demo data."""
    from qhse.demo.run import run_demo

    run_demo(scale=scale, seed=seed_, ui=not no_ui, port=port, reset=reset)


# --------------------------------------------------------------------------------- ml
@cli.group()
def ml() -> None:
    """Failure prediction: train, compare and promote models, score machines, AI4I benchmark."""


def _ml_store():
    from ml.tracking import resolve_store

    try:
        return resolve_store(_settings())
    except SettingsError as exc:
        raise UserError(str(exc)) from None


@ml.command("evaluate-ai4i")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def ml_evaluate_ai4i(file: Path, as_json: bool) -> None:
    """Benchmark on the AI4I 2020 CSV: time-ordered split and stratified 5-fold CV."""
    from rich.progress import Progress

    from ml.ai4i import FITS_PER_RUN, AI4IError, evaluate
    from ml.report import ai4i_json, ai4i_table

    try:
        with Progress(transient=True, disable=as_json) as bar:
            task = bar.add_task("fitting XGBoost models", total=FITS_PER_RUN)
            results = evaluate(file, progress=lambda: bar.advance(task))
    except AI4IError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(ai4i_json(results))
    else:
        ai4i_table(results)


@ml.command("train")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", type=click.Choice(["db", "ai4i"]), default="db", show_default=True,
              help="db: the platform's readings and failures; ai4i: the AI4I 2020 CSV given as FILE.")
@click.option("--horizon", type=click.IntRange(1, 90), default=7, show_default=True,
              help="Predict failures within this many days (db source).")
@click.option("--step-hours", type=click.IntRange(1, 168), default=12, show_default=True,
              help="Hours between training snapshots of each machine (db source).")
@click.option("--alert-budget", type=click.FloatRange(0.001, 0.999), default=0.10, show_default=True,
              help="Largest share of validation snapshots allowed to raise an alert.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ml_train(file: Path | None, source: str, horizon: int, step_hours: int, alert_budget: float, as_json: bool) -> None:
    """Train XGBoost, log it to MLflow, register it and promote it if it beats the champion."""
    from rich.console import Console

    from ml.ai4i import AI4IError
    from ml.features import FeatureError
    from ml.report import train_table
    from ml.train import TrainingError, result_json, train_ai4i, train_db

    console = Console(stderr=True)
    try:
        with console.status("training") as status:
            say = (lambda msg: status.update(msg)) if not as_json else None
            if source == "ai4i":
                if file is None:
                    raise UserError("--source ai4i needs the CSV file: qhse ml train --source ai4i FILE")
                res = train_ai4i(file, alert_rate=alert_budget, store=_ml_store(), progress=say)
            else:
                if file is not None:
                    raise UserError("FILE is only used with --source ai4i")
                from db.engine import get_engine

                engine = get_engine(database_url(migrate=True, quiet=as_json))
                res = train_db(engine, horizon_days=horizon, step_hours=step_hours, alert_rate=alert_budget,
                               store=_ml_store(), progress=say)
    except (AI4IError, FeatureError, TrainingError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(result_json(res))
    else:
        train_table(res)


@ml.command("promote")
@click.argument("version")
@click.option("--model", "model_name", type=click.Choice(["qhse-failure", "qhse-failure-ai4i"]),
              default="qhse-failure", show_default=True)
@click.option("--by", "by", default=None, help="Who promotes (default: the logged-in user).")
@click.option("--reason", default="manual promotion", show_default=True)
def ml_promote(version: str, model_name: str, by: str | None, reason: str) -> None:
    """Make VERSION the champion (recorded with who did it and why)."""
    from ml.tracking import RegistryError, current_user, promote, use_store

    client = use_store(_ml_store())
    who = by or current_user()
    try:
        promote(client, model_name, version, by=who, reason=f"manual: {reason}")
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"{model_name} v{version} is now champion (promoted by {who})")


@ml.command("models")
@click.option("--model", "model_name", type=click.Choice(["qhse-failure", "qhse-failure-ai4i"]),
              default="qhse-failure", show_default=True)
def ml_models(model_name: str) -> None:
    """List registered versions with their holdout figures and the champion alias."""
    from ml.report import versions_table
    from ml.tracking import list_versions, use_store

    client = use_store(_ml_store())
    rows = list_versions(client, model_name)
    if not rows:
        click.echo(f"no versions of {model_name} yet: run 'qhse ml train'")
        return
    versions_table(model_name, rows)


@ml.command("score")
@click.option("--as-of", "as_of", default=None,
              help="Prediction time (ISO 8601, UTC if no offset). Default: now, or the hour after the "
                   "newest machine reading when the data stops earlier.")
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON lines.")
def ml_score(as_of: str | None, as_json: bool) -> None:
    """Score every active machine with models:/qhse-failure@champion and store the predictions."""
    import json

    from db.engine import get_engine
    from ml.features import FeatureError
    from ml.report import score_table
    from ml.scoring import ScoringError, default_as_of, score_assets

    engine = get_engine(database_url(migrate=True, quiet=as_json))
    when = None
    if as_of:
        try:
            when = dt.datetime.fromisoformat(as_of)
        except ValueError:
            raise UserError(f"--as-of: not an ISO 8601 time: {as_of!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    try:
        res = score_assets(engine, as_of=when or default_as_of(engine), store=_ml_store())
    except (ScoringError, FeatureError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        for r in res.rows:
            click.echo(json.dumps(r, default=str))
    else:
        score_table(res)


@ml.command("tracking-uri")
def ml_tracking_uri() -> None:
    """Print the MLflow tracking URI and artifact folder (for 'mlflow ui')."""
    store = _ml_store()
    click.echo(store.tracking_uri)
    click.echo(f"artifacts: {store.artifact_root}", err=True)


# ----------------------------------------------------------------------------- vision
# vision.cli imports only click at module level; each command imports its own packages.
from vision.cli import vision as _vision_group  # noqa: E402

cli.add_command(_vision_group)

# ----------------------------------------------------- contractors, emergency, ledgers, training
# qhse.cli.response imports only click at module level; each command imports its own packages.
from qhse.cli.response import COMMANDS as _response_commands  # noqa: E402

for _group in _response_commands:
    cli.add_command(_group)


# ------------------------------------------------------------- KPIs, scorecards, resources
# qhse.cli.kpi imports only click at module level; each command imports its own packages.
from qhse.cli.kpi import COMMANDS as _kpi_commands  # noqa: E402

for _c in _kpi_commands:
    cli.add_command(_c)


# ---------------------------------------------------- ingestion, simulator, importers, alarms
# ingestion.cli imports only click at module level; each command imports its own packages.
from ingestion.cli import COMMANDS as _ingestion_commands  # noqa: E402

for _c in _ingestion_commands:
    cli.add_command(_c)

def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
