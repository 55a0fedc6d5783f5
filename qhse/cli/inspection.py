"""``qhse inspection``: schedule, list, record results (findings become hazard reports)."""

from __future__ import annotations

import datetime as dt

import click

from qhse.cli.support import (
    UserError,
    acting_user,
    as_user_option,
    fmt_time,
    open_engine,
    person_by_number,
    rule_errors,
    site_filter,
)
from qhse.vocab import InspectionStatus, values


@click.group()
def inspection() -> None:
    """Inspections: schedule by risk class, list, record results (findings become hazard reports)."""


@inspection.command("schedule")
@click.option("--days", type=click.FloatRange(0.1, 31), default=2.0, show_default=True, help="How far ahead.")
def inspection_schedule(days: float) -> None:
    """Create due inspections for every route and flag missed ones."""
    from db.engine import session_scope
    from qhse.services.inspections import schedule

    with session_scope(open_engine()) as s:
        res = schedule(s, horizon=dt.timedelta(days=days))
    click.echo(res.describe())


@inspection.command("list")
@click.option("--site", "site_code", default=None)
@click.option("--status", type=click.Choice(values(InspectionStatus)), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
def inspection_list(site_code, status, limit) -> None:
    """List inspections, latest due first."""
    from db.queries.hazards import inspections
    from qhse.domain.access import SYSTEM

    eng = open_engine()
    site_ids = site_filter(eng, site_code)
    df = inspections(eng, SYSTEM, site_ids=site_ids, status=status, limit=limit)
    for r in df.itertuples():
        click.echo(f"#{r.id:<6} {r.site:<8} {r.area:<26} {r.risk_class} due {fmt_time(r.due_at)} {r.status:<9} "
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
    from qhse.domain.access import REPORT_HAZARD
    from qhse.services.inspections import perform_answers

    eng = open_engine()
    actor = acting_user(eng, as_user, REPORT_HAZARD)
    try:
        with session_scope(eng) as s:
            who = person_by_number(s, inspector)
            out = perform_answers(s, inspection_id, inspector_person_id=who.id, answers=list(answers),
                                  findings=list(findings), actor=actor)
            msg = (f"inspection #{inspection_id} done{' (late)' if out.late else ''}; "
                   f"{len(out.hazards)} finding(s) reported" +
                   (": " + ", ".join(f"#{h.id} {h.title}" for h in out.hazards) if out.hazards else ""))
    except rule_errors() as exc:
        raise UserError(str(exc)) from None
    click.echo(msg)
