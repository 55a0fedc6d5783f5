"""``qhse token``: API tokens for the HTTP API (create, list, revoke)."""

from __future__ import annotations

import click

from qhse.cli.support import UserError, acting_user, as_user_option, open_engine
from qhse.vocab import Role, values


def _fmt(t) -> str:
    return "-" if t is None else f"{t:%Y-%m-%d %H:%M}"


@click.group()
def token() -> None:
    """API tokens: a role and sites like a user, shown once, stored hashed."""


@token.command("create")
@click.option("--name", required=True, help="Name of the token (the identity its writes are audited with).")
@click.option("--role", required=True, type=click.Choice(values(Role)), help="Role, as for a user.")
@click.option("--site", "sites", multiple=True, metavar="CODE", help="Site code in the token's scope (repeat).")
@click.option("--all-sites", is_flag=True, help="Every site (instead of --site).")
@click.option("--expires-days", type=float, default=None, help="Days until the token expires (default: never).")
@as_user_option(help_extra=" (needs manage_users)")
def token_create(name: str, role: str, sites: tuple[str, ...], all_sites: bool, expires_days: float | None,
                 as_user: str) -> None:
    """Create a token and print its secret (shown this once only)."""
    from qhse.domain import access
    from qhse.services import api_tokens

    if all_sites == bool(sites):
        raise UserError("give either --site CODE (one or more) or --all-sites")
    engine = open_engine()
    who = acting_user(engine, as_user, access.MANAGE_USERS)
    try:
        secret, info = api_tokens.create(engine, who, name=name, role=role, sites=None if all_sites else list(sites),
                                         expires_days=expires_days)
    except api_tokens.TokenError as exc:
        raise UserError(str(exc)) from None
    where = "every site" if info.sites is None else ", ".join(info.sites)
    click.echo(f"token {info.name} created (role {info.role}, {where}, expires {_fmt(info.expires_at)})")
    click.echo("secret (shown once; send it as 'Authorization: Bearer <secret>'):")
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """List tokens: role, sites, status, last use (never the secret)."""
    from qhse.services import api_tokens

    rows = api_tokens.list_tokens(open_engine())
    if not rows:
        click.echo("no API tokens")
        return
    click.echo(f"{'name':<24} {'prefix':<13} {'role':<15} {'status':<8} {'expires':<17} {'last used':<17} sites")
    for t in rows:
        click.echo(f"{t.name:<24} {t.prefix:<13} {t.role:<15} {t.status:<8} {_fmt(t.expires_at):<17} "
                   f"{_fmt(t.last_used_at):<17} {'all' if t.sites is None else ','.join(t.sites)}")


@token.command("revoke")
@click.argument("name")
@as_user_option(help_extra=" (needs manage_users)")
def token_revoke(name: str, as_user: str) -> None:
    """Revoke a token at once (its next request gets 401)."""
    from qhse.domain import access
    from qhse.services import api_tokens

    engine = open_engine()
    who = acting_user(engine, as_user, access.MANAGE_USERS)
    try:
        info = api_tokens.revoke(engine, who, name)
    except api_tokens.TokenError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"token {info.name} revoked at {_fmt(info.revoked_at)}")
