"""``qhse emergency``: declare, log, close with a review."""

from __future__ import annotations

import json

import click

from qhse.cli.support import UserError, acting_user, as_user_option, local_time, open_engine, print_table, resolve_ref
from qhse.vocab import EmergencyKind, EmergencyStatus, values


@click.group()
def emergency() -> None:
    """Emergency response: declare (plan in under a second), log, close with a review."""


def _em_call(fn, *args, **kwargs):
    from qhse.domain.emergency import EmergencyError

    try:
        return fn(*args, **kwargs)
    except EmergencyError as exc:
        raise UserError(str(exc)) from None


@emergency.command("declare")
@click.option("--area", required=True, help="SITE/AREA, e.g. SZ-ELEC/CHEM.")
@click.option("--type", "kind", type=click.Choice(values(EmergencyKind)), required=True)
@as_user_option(help_extra=" (manage_emergency on the area's site)")
@click.option("--description", default=None)
@click.option("--at", "at_", default=None, help="Declaration time (default now).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def emergency_declare(area: str, kind: str, as_user: str, description: str | None, at_: str | None,
                      as_json: bool) -> None:
    """Declare an emergency, print the response plan and notify."""
    from db.queries import refs
    from qhse.domain.access import MANAGE_EMERGENCY
    from qhse.domain.emergency import plan_text
    from qhse.services.emergency import declare

    engine = open_engine()
    who = acting_user(engine, as_user, MANAGE_EMERGENCY)
    res = _em_call(declare, engine, area_id=resolve_ref(refs.area_id, engine, area), kind=kind, actor=who,
                   description=description, at=local_time(at_, "--at"))
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
    from qhse.domain.access import MANAGE_EMERGENCY
    from qhse.services.emergency import log_action, use_resource

    if sum(x is not None for x in (action, note, resource_id)) != 1:
        raise UserError("give exactly one of --action, --note, --resource")
    engine = open_engine()
    who = acting_user(engine, as_user, MANAGE_EMERGENCY)
    at = local_time(at_, "--at")
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
    from qhse.domain.access import MANAGE_EMERGENCY
    from qhse.services.emergency import close

    engine = open_engine()
    who = acting_user(engine, as_user, MANAGE_EMERGENCY)
    tid = _em_call(close, engine, emergency_id, actor=who, summary=summary, lessons=list(lessons),
                   new_steps=list(new_steps), at=local_time(at_, "--at"))
    click.echo(f"emergency #{emergency_id} closed" + (f"; plan template #{tid} now carries the review" if tid else ""))


@emergency.command("show")
@click.argument("emergency_id", type=int)
def emergency_show(emergency_id: int) -> None:
    """The stored plan, the timeline and the review."""
    from db.queries.emergency import emergency_detail
    from qhse.domain.access import SYSTEM
    from qhse.domain.emergency import plan_text

    engine = open_engine()
    d = emergency_detail(engine, SYSTEM, emergency_id)
    if d is None:
        raise UserError(f"no emergency #{emergency_id}")
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
@click.option("--status", type=click.Choice(values(EmergencyStatus)), default=None)
def emergency_list(status: str | None) -> None:
    from db.queries.emergency import emergencies
    from qhse.domain.access import SYSTEM

    engine = open_engine()
    print_table("Emergencies", emergencies(engine, SYSTEM, status=status),
           ["id", "site", "area_code", "kind", "status", "declared_at", "declared_by", "closed_at", "people_inside",
            "plan_ms"])
