"""``qhse user``: dashboard users."""

from __future__ import annotations

import click

from qhse.cli.support import UserError, open_engine
from qhse.vocab import Locale, values


@click.group()
def user() -> None:
    """Dashboard users: add, list, change password."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, help="admin, group_manager, plant_manager, plant_head, data_scientist, "
              "security, inspector or worker.")
@click.option("--site", "sites", multiple=True, help="Site code in the user's scope (repeat for several).")
@click.option("--all-sites", is_flag=True, help="Every site (group roles).")
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--locale", type=click.Choice(values(Locale)), default="en", show_default=True)
@click.option("--password", default=None, help="Password (prompted when left out).")
def user_add(username: str, role: str, sites: tuple[str, ...], all_sites: bool, display_name: str | None,
             locale: str, password: str | None) -> None:
    """Create a user with an argon2-hashed password."""
    from qhse.services.auth import AuthError, add_user

    engine = open_engine(quiet=False)
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        uid = add_user(engine, username=username, password=password, role=role, display_name=display_name,
                       locale=locale, site_codes=list(sites), all_sites=True if all_sites else None)
    except AuthError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"user {username.lower()} added (id {uid}, role {role})")


@user.command("list")
def user_list() -> None:
    """List users with role, sites and last sign-in."""
    from rich.console import Console
    from rich.table import Table

    from db.queries.users import list_users
    from qhse.domain.access import SYSTEM

    df = list_users(open_engine(quiet=False), SYSTEM)
    t = Table()
    for c in ("username", "role", "sites", "locale", "active", "last sign-in"):
        t.add_column(c)
    for r in df.itertuples():
        t.add_row(r.username, r.role, "all" if r.all_sites else (r.sites or "-"), r.locale, "yes" if r.active else "no",
                  f"{r.last_login_at:%Y-%m-%d %H:%M}"
                  if r.last_login_at is not None and r.last_login_at == r.last_login_at else "-")
    Console().print(t)


@user.command("passwd")
@click.argument("username")
@click.option("--password", default=None, help="New password (prompted when left out).")
def user_passwd(username: str, password: str | None) -> None:
    """Set a user's password."""
    from qhse.services.auth import AuthError, set_password

    engine = open_engine(quiet=False)
    if password is None:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(engine, username, password)
    except AuthError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"password of {username.lower()} changed")
