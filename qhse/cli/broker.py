"""``qhse broker``: Mosquitto password-file entries and a development CA + server certificate.

The file formats and openssl calls are ingestion.broker_admin; passwords are read from stdin or
generated and printed once, never logged.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click

from qhse.cli.support import UserError


@click.group()
def broker() -> None:
    """MQTT broker set-up: password-file entries and development TLS certificates."""


@broker.command("passwd")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("users", nargs=-1, required=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the passwords from stdin, one line per user (default: generate and print them).")
def passwd(file: Path, users: tuple[str, ...], password_stdin: bool) -> None:
    """Add or replace USERS in the Mosquitto password FILE.

    User names follow deploy/mosquitto.acl: qhse-platform (the platform services),
    qhse-reader (read-only consumers), and a site code per site gateway (publishes only
    qhse/<site>/<area>/<asset>/<sensor>/telemetry).
    """
    from ingestion.broker_admin import check_username, write_entries

    try:
        for u in users:
            check_username(u)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if password_stdin:
        given = sys.stdin.read().splitlines()
        if len(given) < len(users) or any(not p for p in given[:len(users)]):
            raise UserError(f"--password-stdin: expected {len(users)} non-empty line(s) on stdin")
        entries = dict(zip(users, given, strict=False))
    else:
        entries = {u: secrets.token_urlsafe(18) for u in users}
    write_entries(file, entries)
    if not password_stdin:
        for u, p in entries.items():
            click.echo(f"{u} {p}")
        click.echo(f"{len(entries)} user(s) written to {file}; the passwords above are shown only now", err=True)
    else:
        click.echo(f"{len(entries)} user(s) written to {file}", err=True)


@broker.command("dev-certs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", "hosts", multiple=True, help="Extra host name or IP address in the server certificate.")
@click.option("--days", type=click.IntRange(1, 3650), default=825, show_default=True)
def dev_certs(directory: Path, hosts: tuple[str, ...], days: int) -> None:
    """Write a development CA (ca.crt, ca.key) and broker certificate (server.crt, server.key) into DIRECTORY."""
    from ingestion.broker_admin import make_dev_certs

    try:
        files = make_dev_certs(directory, list(hosts), days)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    for p in files:
        click.echo(str(p))
    click.echo("keep ca.key and server.key out of version control; give clients ca.crt (QHSE_MQTT_CA_FILE)",
               err=True)
