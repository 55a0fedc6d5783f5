"""Helpers shared by every command module: one-line user errors and the database URL.

Command modules (``qhse/*_cli.py``, ``ingestion/cli.py``, ``vision/cli.py``, ...) import
these instead of the CLI's root module, which imports them.
"""

from __future__ import annotations

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
