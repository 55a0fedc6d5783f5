"""``qhse db``: migrations, demo data, backup and restore."""

from __future__ import annotations

from pathlib import Path

import click

from qhse.cli.support import LazyGroup, UserError, database_url, migration_url


@click.group(cls=LazyGroup, lazy={"seed": "qhse.demo.command:db_seed"})
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
