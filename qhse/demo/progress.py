"""Demo data and scorecard history with progress bars: shared by ``qhse db seed`` and ``qhse demo``."""

from __future__ import annotations

import datetime as dt

import click


def run_seed(url: str, *, scale: str, seed: int, end_date=None, reset: bool = False):
    """Seed the database at ``url`` with a progress bar per stage; raises qhse.demo.seed.SeedError."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from db.engine import get_engine
    from qhse.demo.seed import seed as do_seed

    end = dt.datetime(end_date.year, end_date.month, end_date.day, tzinfo=dt.UTC) if end_date else None
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        return do_seed(get_engine(url), scale=scale, seed=seed, end=end, reset=reset, progress=progress)


def print_seed_summary(summary) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Seeded '{summary.scale}' (seed {summary.seed}), "
                    f"{summary.start:%Y-%m-%d} .. {summary.end:%Y-%m-%d}")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name in ("site", "area", "asset", "sensor", "sensor_reading", "alarm", "failure_event", "hazard_report",
                 "corrective_action", "incident", "inspection", "person", "training_record", "contractor_job",
                 "camera", "vision_event"):
        t.add_row(name, f"{summary.counts.get(name, 0):,}")
    Console(stderr=False).print(t)
    click.echo(f"readings bulk load: {summary.readings:,} rows in {summary.reading_seconds:.1f} s "
               f"= {summary.readings_per_s:,.0f} readings/s (binary COPY)")


def demo_scorecards(engine, *, force: bool = False) -> None:
    """``qhse demo`` step: compute the scorecards of the whole seeded history (with progress)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from qhse.services.scorecards import compute_range, has_scores, history_months

    if not force and has_scores(engine):
        click.echo("scorecards already computed (the job runner keeps them current)")
        return
    months = history_months(engine)
    if not months:
        click.echo("no hours worked recorded: nothing to assess")
        return
    with Progress(TextColumn("scorecards {task.fields[month]}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn()) as bar:
        task = bar.add_task("compute", total=len(months), month="")
        results = compute_range(engine, months[0], months[-1],
                                progress=lambda i, n, mo: bar.update(task, completed=i, month=f"{mo:%Y-%m}"))
    last = results[-1]
    click.echo(f"{len(results)} months assessed ({months[0]:%Y-%m} .. {months[-1]:%Y-%m}); {last.month:%Y-%m}: "
               f"{last.ratings['needs_improvement']} scores need improvement, {last.flagged} flagged for a plan, "
               f"{last.awaiting_manual} manual checks awaiting entry")
