"""Embedded PostgreSQL from the ``pgserver`` wheel, used when QHSE_DATABASE_URL is unset.

The cluster lives under ``<data_dir>/pgdata`` and is reused across runs.  pgserver keeps
a list of the processes holding the server; the server stops when the last one exits.

Two roles, as on a real server: the cluster's superuser ``postgres`` owns the schema and
runs migrations (only over the Unix socket inside ``pgdata``, a 0700 directory of the
user running the platform); the application logs in as ``qhse_app`` with a password
generated on first use and kept in ``<data_dir>/pg-app-password`` (mode 0600).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

_lock = threading.Lock()
_servers: dict[Path, object] = {}

DEFAULT_DB = "qhse"
APP_ROLE = "qhse_app"
APP_PASSWORD_FILE = "pg-app-password"


def start_embedded_postgres(data_dir: Path, *, database: str = DEFAULT_DB, keep_running: bool = False) -> str:
    """Start (or join) the embedded server and return a SQLAlchemy URL for ``database``.

    The database is created if missing.  With ``keep_running`` the server outlives this
    process (used by long-running ``qhse demo``/services sharing one cluster).
    """
    pgdata = (Path(data_dir) / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # pgserver keeps its inter-process lock in the user's runtime directory, read when the
    # module is imported; without XDG_RUNTIME_DIR it warns and falls back to /tmp.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent))
    import pgserver  # heavy import, only when really needed

    with _lock:
        srv = _servers.get(pgdata)
        if srv is None:
            srv = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
            _servers[pgdata] = srv
            log.info("embedded PostgreSQL running with data in %s", pgdata)
    exists = srv.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        srv.psql(f'CREATE DATABASE "{database}";')
    return f"postgresql+psycopg://postgres@/{quote(database)}?host={quote(str(pgdata))}"


def app_password(data_dir: Path) -> str:
    """The application role's password: read from ``<data_dir>/pg-app-password``, made on first use."""
    path = Path(data_dir) / APP_PASSWORD_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        pw = path.read_text().strip()
        if re.fullmatch(r"[A-Za-z0-9_-]{16,}", pw):
            return pw
        log.warning("%s is malformed; writing a new application password", path)
        path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    pw = secrets.token_urlsafe(24)
    with os.fdopen(fd, "w") as f:
        f.write(pw + "\n")
    return pw


def start_embedded_app(data_dir: Path, *, database: str = DEFAULT_DB, keep_running: bool = False) -> str:
    """Start (or join) the embedded server and return the application role's URL for ``database``.

    The role is created (or its password set from the password file) here; its rights on the
    tables come from the migrations (``qhse_grant_app_privileges``).
    """
    owner_url = start_embedded_postgres(data_dir, database=database, keep_running=keep_running)
    pgdata = (Path(data_dir) / "pgdata").resolve()
    pw = app_password(data_dir)
    import psycopg

    from db.engine import libpq_dsn

    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone() is None:
            # pw matches [A-Za-z0-9_-]+ (checked by app_password), so it is a safe literal.
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{pw}'")
        else:
            conn.execute(f"ALTER ROLE {APP_ROLE} LOGIN PASSWORD '{pw}'")
    return f"postgresql+psycopg://{APP_ROLE}:{quote(pw, safe='')}@/{quote(database)}?host={quote(str(pgdata))}"


def stop_embedded_postgres() -> None:
    """Release this process's handle(s) on embedded servers (stops them if last)."""
    with _lock:
        for srv in _servers.values():
            try:
                srv.cleanup()
            except Exception as exc:  # shutting down: report, never raise
                log.warning("embedded PostgreSQL cleanup: %s", exc)
        _servers.clear()
