"""``qhse worker`` (the periodic jobs) and ``qhse notify`` (the notification outbox)."""

from __future__ import annotations

import sys

import click

from qhse.cli.support import UserError, _settings, open_engine


@click.group()
def notify() -> None:
    """Notification outbox: list, retry given-up messages."""


@notify.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=30, show_default=True)
def notify_list(status, limit) -> None:
    """Latest notifications with their delivery state."""
    from db.queries.hazards import notifications
    from qhse.domain.access import SYSTEM

    df = notifications(open_engine(), SYSTEM, status=status, limit=limit)
    for r in df.itertuples():
        err = f"  last error: {r.last_error}" if isinstance(r.last_error, str) else ""
        click.echo(f"#{r.id:<6} {r.channel:<7} {r.status:<7} tries {r.attempts}  "
                   f"{r.recipient:<40} {r.subject[:60]}{err}")
    click.echo(f"{len(df)} notification(s)")


@notify.command("retry")
@click.option("--id", "ids", type=int, multiple=True, help="Only these notifications (default: every failed one).")
def notify_retry(ids) -> None:
    """Queue given-up notifications again (after fixing the transport settings)."""
    from db.engine import session_scope
    from qhse.services.notify import retry_failed

    with session_scope(open_engine()) as s:
        n = retry_failed(s, ids or None)
    click.echo(f"{n} notification(s) queued again")


@click.command()
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

    from qhse.jobs.runner import run_forever, run_once, worker_id
    from qhse.jobs.schedule import JOBS, select_jobs

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
    eng = open_engine()

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
