"""``qhse training``: due-soon lists, entry gating."""

from __future__ import annotations

import datetime as dt

import click

from qhse.cli.support import UserError, local_time, open_engine, parse_date, print_table, resolve_ref


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
    from db.queries.training import due_soon, due_soon_by_department
    from qhse.domain.access import SYSTEM

    if days < 0:
        raise UserError("--days must be zero or more")
    engine = open_engine()
    on = parse_date(on_, "--on") if on_ else dt.date.today()
    ids = [resolve_ref(refs.site_id, engine, s) for s in sites] or None
    frame = due_soon(engine, SYSTEM, on=on, days=days, site_ids=ids, include_expired=not no_expired)
    print_table(f"Training due within {days} days of {on}, per department", due_soon_by_department(frame))
    if detail:
        print_table("Detail", frame, ["site", "department", "employee_no", "person", "course_code", "expires_on",
                                 "days_left", "status"])


@training.command("gate-scan")
@click.option("--site", "sites", multiple=True, help="Site code (repeat; default all).")
@click.option("--at", "at_", default=None, help="Check time (default now).")
def training_gate_scan(sites, at_: str | None) -> None:
    """Apply the gating rules: raise no-entry warnings (area owners notified), resolve stale ones."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from db.queries import refs
    from qhse.services.gating import scan

    engine = open_engine()
    ids = [resolve_ref(refs.site_id, engine, s) for s in sites] or None
    with Progress(TextColumn("areas"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("areas", total=None)
        res = scan(engine, at=local_time(at_, "--at"), site_ids=ids,
                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    click.echo(res.describe())
