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
    from db.queries.hazards import inspection_form
    from qhse.domain.access import REPORT_HAZARD, SYSTEM
    from qhse.services.inspections import perform

    eng = open_engine()
    actor = acting_user(eng, as_user, REPORT_HAZARD)
    form = inspection_form(eng, SYSTEM, inspection_id)
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
            who = person_by_number(s, inspector)
            out = perform(s, inspection_id, inspector_person_id=who.id, results=results, findings=extra, actor=actor)
            msg = (f"inspection #{inspection_id} done{' (late)' if out.late else ''}; "
                   f"{len(out.hazards)} finding(s) reported" +
                   (": " + ", ".join(f"#{h.id} {h.title}" for h in out.hazards) if out.hazards else ""))
    except rule_errors() as exc:
        raise UserError(str(exc)) from None
    click.echo(msg)
