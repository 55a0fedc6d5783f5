"""Helpers shared by every command module: one-line user errors and the database URL.

Command modules (``qhse/*_cli.py``, ``ingestion/cli.py``, ``vision/cli.py``, ...) import
these instead of the CLI's root module, which imports them.
"""

from __future__ import annotations

import click

from qhse.settings import SettingsError, get_settings


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _settings():
    try:
        return get_settings()
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def migration_url() -> str:
    """The schema owner's URL (QHSE_MIGRATION_DATABASE_URL, see db.engine.resolve_migration_url), checked."""
    from db.engine import check_connection, resolve_migration_url

    s = _settings()
    try:
        url = resolve_migration_url(s)
        check_connection(url, "QHSE_MIGRATION_DATABASE_URL" if s.migration_database_url else "QHSE_DATABASE_URL")
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    return url


def database_url(*, migrate: bool = False, quiet: bool = False) -> str:
    """Resolve (and check) the application's database URL; optionally bring the schema up to date
    (as the schema owner)."""
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
            upgrade(migration_url())
    return url


def as_user_option(*aliases: str, help_extra: str = ""):
    """``--as USERNAME`` (plus validated aliases such as ``--actor``): the platform user a write runs as."""
    return click.option("--as", *aliases, "as_user", required=True, metavar="USERNAME",
                        help="Platform user the change is made and audited as (must exist, be active and "
                        "hold the permission)" + help_extra + ".")


def acting_user(engine, username: str, permission: str | None = None):
    """The Scope of ``--as USERNAME``; a one-line error (exit 2) for an unknown, disabled or unauthorised user."""
    from qhse.services.actors import ActorError, resolve_user

    try:
        return resolve_user(engine, username, permission)
    except ActorError as exc:
        raise UserError(str(exc)) from None
