"""The ``qhse`` command line: the composition root.

Packages are imported lazily inside commands so ``qhse --help`` stays fast.  Errors a
user can fix (settings, unreachable services, bad files) print one line and exit 2.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from qhse.config import SettingsError, get_settings


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _settings():
    try:
        return get_settings()
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def database_url(*, migrate: bool = False, quiet: bool = False) -> str:
    """Resolve (and check) the database URL; optionally bring the schema up to date."""
    from db.engine import check_connection, describe_url, resolve_database_url

    s = _settings()
    try:
        url = resolve_database_url(s)
        check_connection(url)
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    if not quiet:
        where = "embedded PostgreSQL, data in " + str(s.data_path / "pgdata") if not s.database_url else "PostgreSQL"
        click.echo(f"database: {where} ({describe_url(url)})", err=True)
    if migrate:
        from db.migrate import is_up_to_date, upgrade

        if not is_up_to_date(url):
            upgrade(url)
    return url


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

    url = database_url()
    upgrade(url, revision)
    click.echo(f"schema at {', '.join(sorted(current(url))) or 'base'}")


@db.command("downgrade")
@click.option("--revision", default="base", show_default=True, help="Target revision ('base' removes everything).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_downgrade(revision: str, yes: bool) -> None:
    """Revert migrations down to REVISION."""
    from db.migrate import current, downgrade

    url = database_url()
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
    from db.seed import SeedError, seed as do_seed

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

    url = database_url()
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

    url = database_url()
    try:
        entries = validate_dump(file)
        if not yes:
            click.confirm(f"Replace ALL data with the {entries} entries in {file}?", abort=True)
        restore(url, file)
    except BackupError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"restored {file}")


@cli.command()
def health() -> None:
    """Exit 0 when the database is reachable and its schema is current (container health check)."""
    from db.engine import check_connection, resolve_database_url
    from db.migrate import is_up_to_date

    s = _settings()
    try:
        url = resolve_database_url(s)
        check_connection(url)
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    if not is_up_to_date(url):
        raise UserError("database schema is not current: run 'qhse db upgrade'")
    click.echo("ok")


# ---------------------------------------------------------------------------------- demo
@cli.command()
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", "seed_", type=int, default=42, show_default=True)
@click.option("--no-ui", is_flag=True, help="Do not start the dashboard; exit after the batch steps.")
@click.option("--port", type=int, default=8501, show_default=True, help="Dashboard port.")
@click.option("--reset", is_flag=True, help="Re-seed even if the database already holds data.")
def demo(scale: str, seed_: int, no_ui: bool, port: int, reset: bool) -> None:
    """Set everything up on embedded defaults and run the whole platform on demo data."""
    from qhse.demo import run_demo

    run_demo(scale=scale, seed=seed_, ui=not no_ui, port=port, reset=reset)


# ----------------------------------------------------------------------------- vision
# vision.cli imports only click at module level; each command imports its own packages.
from vision.cli import vision as _vision_group  # noqa: E402

cli.add_command(_vision_group)


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
