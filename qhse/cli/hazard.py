"""``qhse hazard``: hazard reports, corrective actions, the SLA board."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from qhse.cli.support import (
    UserError,
    acting_user,
    as_user_option,
    by_code,
    cell,
    fmt_time,
    iso_time,
    open_engine,
    person_by_number,
    rule_errors,
    site_filter,
)


@click.group()
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
@click.option("--photo", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Path of a photo (JPEG, PNG or WebP; checked and stripped of metadata as a dashboard upload).")
@click.option("--likelihood", type=click.IntRange(1, 5), default=3, show_default=True)
@click.option("--consequence", type=click.IntRange(1, 5), default=3, show_default=True)
@as_user_option()
def hazard_report(site_code, area_code, category, title, severity, description, asset_code, reporter, photo,
                  likelihood, consequence, as_user) -> None:
    """Report a hazard (response due time, recurrence link and area manager notice follow)."""
    from db.engine import session_scope
    from db.models import Area, Asset, HazardReport, Site
    from qhse.domain.access import REPORT_HAZARD, AccessDenied
    from qhse.domain.uploads import UploadError
    from qhse.services.hazard_intake import report

    eng = open_engine()
    who = acting_user(eng, as_user, REPORT_HAZARD)
    data = None
    if photo is not None:
        try:
            data = photo.read_bytes()
        except OSError as exc:
            raise UserError(f"--photo {photo}: {exc.strerror or exc}") from None
    with session_scope(eng) as s:
        site = by_code(s, Site, site_code, "site")
        area = by_code(s, Area, area_code, "area", site_id=site.id)
        asset = by_code(s, Asset, asset_code, "asset", site_id=site.id) if asset_code else None
        person = person_by_number(s, reporter) if reporter else None
        ids = site.id, area.id, asset.id if asset else None, person.id if person else None
    try:
        hid = report(eng, who, site_id=ids[0], area_id=ids[1], category=category, title=title, severity=severity,
                     description=description, asset_id=ids[2], reporter_person_id=ids[3], photo=data,
                     photo_name=photo.name if photo is not None else "", likelihood=likelihood,
                     consequence=consequence)
    except (AccessDenied, UploadError, *rule_errors()) as exc:
        raise UserError(str(exc)) from None
    with session_scope(eng) as s:
        h = s.get(HazardReport, hid)
        msg = f"hazard #{h.id} reported; response due {fmt_time(h.response_due_at)} UTC"
        if h.is_repeat:
            msg += f"; repeat of #{h.predecessor_id}"
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
    from qhse.domain.access import SYSTEM
    from qhse.domain.workflow import STATUSES

    if status and status not in STATUSES:
        raise UserError(f"unknown status {status!r} (statuses: {', '.join(STATUSES)})")
    eng = open_engine()
    site_ids = site_filter(eng, site_code)
    df = query(eng, SYSTEM, site_ids=site_ids, status=status, open_only=open_only, limit=limit)
    t = Table()
    for c in ("id", "site", "area", "category", "severity", "status", "reported", "response due", "actions", "title"):
        t.add_column(c)
    for r in df.itertuples():
        t.add_row(str(r.id), r.site, r.area, r.category, r.severity, r.status, fmt_time(r.reported_at),
                  fmt_time(r.response_due_at), f"{r.actions_done}/{r.actions}",
                  r.title + (" (repeat)" if r.is_repeat else ""))
    Console().print(t)
    click.echo(f"{len(df)} report(s)")


@hazard.command("show")
@click.argument("hazard_id", type=int)
def hazard_show(hazard_id: int) -> None:
    """One report with its history, actions and predecessors."""
    from db.queries.hazards import hazard_detail
    from qhse.domain.access import SYSTEM

    d = hazard_detail(open_engine(), SYSTEM, hazard_id)
    if d is None:
        raise UserError(f"no hazard report #{hazard_id}")
    click.echo(f"#{d['id']} [{d['status']}] {d['title']}")
    click.echo(f"  {d['site']} / {d['area']}  category {d['category']}  severity {d['severity']}  source {d['source']}"
               f"  reporter {d['reporter'] or '-'}  points {d['points_awarded']}")
    click.echo(f"  reported {fmt_time(d['reported_at'])}  response due {fmt_time(d['response_due_at'])}  "
               f"responded {fmt_time(d['responded_at'])}  closed {fmt_time(d['closed_at'])} (UTC)")
    if d["reject_reason"]:
        click.echo(f"  rejected: {d['reject_reason']}")
    click.echo("history:")
    for t in d["transitions"]:
        click.echo(f"  {fmt_time(t['at'])}  {t['from_status'] or '-':>11} -> {t['to_status']:<11} by {t['actor']}"
                   + (f"  ({t['note']})" if t["note"] else ""))
    click.echo("actions:")
    for a in d["actions"] or []:
        click.echo(f"  #{a['id']} {a['department'] or '-'} owner {a['owner'] or '-'} [{a['status']}] "
                   f"due {fmt_time(a['due_at'])}"
                   f" level {a['escalation_level']}" + (f" ({a['escalations']})" if a["escalations"] else ""))
    if d["predecessors"]:
        click.echo("repeat of: " + ", ".join(f"#{p['id']} ({fmt_time(p['reported_at'])})" for p in d["predecessors"]))


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
    from qhse.domain.access import VIEW_ACTIONS
    from qhse.services.workflow import transition

    eng = open_engine()
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
                           due_at=iso_time(due))
            out = f"hazard #{h.id} is now {h.status}"
    except rule_errors() as exc:
        raise UserError(str(exc)) from None
    click.echo(out)


@hazard.command("start-action")
@click.argument("action_id", type=int)
@as_user_option("--actor")
def hazard_start_action(action_id: int, as_user: str) -> None:
    """A team starts work on its corrective action."""
    from db.engine import session_scope
    from qhse.domain.access import VIEW_ACTIONS
    from qhse.services.workflow import start_action

    actor = acting_user(open_engine(), as_user, VIEW_ACTIONS)
    try:
        with session_scope(open_engine()) as s:
            a = start_action(s, action_id, actor=actor)
            out = f"action #{a.id} in progress"
    except rule_errors() as exc:
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
    from qhse.domain.access import VIEW_ACTIONS
    from qhse.services.workflow import complete_action

    actor = acting_user(open_engine(), as_user, VIEW_ACTIONS)
    try:
        with session_scope(open_engine()) as s:
            a = complete_action(s, action_id, actor=actor, note=note, cost=cost)
            h = s.get(HazardReport, a.hazard_id)
            out = f"action #{a.id} done; hazard #{h.id} is {h.status}"
    except rule_errors() as exc:
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
    from qhse.domain.access import SYSTEM

    eng = open_engine()
    site_ids = site_filter(eng, site_code)
    df = sla_board(eng, SYSTEM, site_ids=site_ids, due_soon_hours=due_soon_hours)
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    t = Table(title="SLA board: " + ", ".join(f"{k.replace('_', ' ')} {counts.get(k, 0)}" for k in BOARD_STATES))
    for c in ("state", "item", "hazard", "site", "area", "department", "severity", "due (UTC)", "h to due", "level"):
        t.add_column(c)
    style = {"escalated": "bold red", "overdue": "red", "due_soon": "yellow", "on_time": "green"}
    for r in df.head(limit).itertuples():
        what = f"action #{r.action_id}" if r.item == "action" else "response"
        t.add_row(f"[{style[r.state]}]{r.state}[/]", what, f"#{r.hazard_id} {r.title}", r.site, r.area,
                  cell(r.department), r.severity, fmt_time(r.due_at), f"{r.hours_to_due:.1f}", r.escalated_to)
    Console().print(t)
    aw = awaiting_response(eng, SYSTEM, site_ids=site_ids)
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
    from qhse.domain.access import SYSTEM

    eng = open_engine()
    with session_scope(eng) as s:
        site = by_code(s, Site, site_code, "site")
    df = leaderboard(eng, SYSTEM, site.id, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
    for r in df.itertuples():
        click.echo(f"{r.rank:>3}. {r.name:<24} {r.department or '-':<28} {r.points:>5} points  "
                   f"{r.valid_reports}/{r.reports} valid")
