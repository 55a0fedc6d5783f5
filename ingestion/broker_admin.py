"""``qhse broker``: Mosquitto password-file entries and a development CA + server certificate.

* ``write_entries`` (``qhse broker passwd FILE USER...``, see qhse/cli/broker.py) adds or
  replaces users in a Mosquitto password file (PBKDF2-SHA512, the ``$7$`` format ``mosquitto_passwd``
  writes).  Passwords are read from stdin (one per line, ``--password-stdin``) or generated and
  printed once; they are never logged.  The user names follow ``deploy/mosquitto.acl``: ``qhse-platform`` for the
  platform, ``qhse-reader`` for read-only consumers, the site code for a site's gateway.
* ``make_dev_certs`` (``qhse broker dev-certs DIR``) writes, with ``openssl``, a self-signed CA
  and a server certificate for the broker's TLS listener (SANs: mosquitto, localhost, 127.0.0.1 and
  ``--host``).  For development only; private keys stay in DIR, which must not be
  committed (``deploy/secrets/`` is git-ignored).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

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
