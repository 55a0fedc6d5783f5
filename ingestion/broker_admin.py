"""``qhse broker``: Mosquitto password-file entries and a development CA + server certificate.

* ``qhse broker passwd FILE USER...`` adds or replaces users in a Mosquitto password file
  (PBKDF2-SHA512, the ``$7$`` format ``mosquitto_passwd`` writes).  Passwords are read
  from stdin (one per line, ``--password-stdin``) or generated and printed once; they are
  never logged.  The user names follow ``deploy/mosquitto.acl``: ``qhse-platform`` for the
  platform, ``qhse-reader`` for read-only consumers, the site code for a site's gateway.
* ``qhse broker dev-certs DIR`` writes, with ``openssl``, a self-signed CA and a server
  certificate for the broker's TLS listener (SANs: mosquitto, localhost, 127.0.0.1 and
  ``--host``).  For development only; private keys stay in DIR, which must not be
  committed (``deploy/secrets/`` is git-ignored).

Only click is imported at module level.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import click

from qhse.cli.support import UserError

ITERATIONS = 101  # what mosquitto_passwd uses
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """A Mosquitto 2 password hash: ``$7$<iterations>$<salt b64>$<pbkdf2-sha512 b64>``."""
    salt = salt or os.urandom(12)
    dig = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(dig).decode()}"


def check_username(user: str) -> str:
    if not _USER.match(user):
        raise ValueError(f"MQTT user name {user!r}: use letters, digits, '.', '_' or '-' (no '/', '+', '#', ':')")
    return user


def write_entries(path: Path, entries: dict[str, str]) -> None:
    """Add or replace ``user:hash`` lines in the password file (created 0600 when new)."""
    lines: list[str] = []
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln.strip() and ln.split(":", 1)[0] not in entries]
    lines += [f"{u}:{hash_password(p)}" for u, p in entries.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def make_dev_certs(directory: Path, hosts: list[str], days: int = 825) -> list[Path]:
    """Self-signed CA + server certificate for the TLS listener (openssl); the files written."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not installed")
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    names = ["mosquitto", "localhost", *hosts]
    ips = ["127.0.0.1"]
    san = ",".join([f"DNS:{h}" for h in dict.fromkeys(n for n in names if not _is_ip(n))]
                   + [f"IP:{h}" for h in dict.fromkeys([*ips, *(n for n in names if _is_ip(n))])])

    def run(*args: str) -> None:
        r = subprocess.run([openssl, *args], check=False, cwd=d, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {r.stderr.strip()[:500]}")

    old = os.umask(0o077)
    try:
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", str(days),
            "-subj", "/CN=QHSE development CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=mosquitto")
        (d / "server.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"
                                      "keyUsage=critical,digitalSignature,keyEncipherment\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", str(days), "-extfile", "server.ext")
    finally:
        os.umask(old)
    for junk in ("server.csr", "server.ext", "ca.srl"):
        (d / junk).unlink(missing_ok=True)
    # The broker container reads the server key through a bind mount as its own user: the
    # files are readable, the directory is not (0700) so other host users cannot reach them.
    for name in ("ca.crt", "server.crt", "server.key"):
        os.chmod(d / name, 0o644)
    os.chmod(d / "ca.key", 0o600)
    os.chmod(d, 0o700)
    return [d / "ca.crt", d / "ca.key", d / "server.crt", d / "server.key"]


def _is_ip(s: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


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
    try:
        for u in users:
            check_username(u)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if password_stdin:
        given = sys.stdin.read().splitlines()
        if len(given) < len(users) or any(not p for p in given[:len(users)]):
            raise UserError(f"--password-stdin: expected {len(users)} non-empty line(s) on stdin")
        entries = dict(zip(users, given))
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
    try:
        files = make_dev_certs(directory, list(hosts), days)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    for p in files:
        click.echo(str(p))
    click.echo("keep ca.key and server.key out of version control; give clients ca.crt (QHSE_MQTT_CA_FILE)",
               err=True)
