"""Embedded PostgreSQL from the ``pgserver`` wheel, used when QHSE_DATABASE_URL is unset.

The cluster lives under ``<data_dir>/pgdata`` and is reused across runs.  pgserver keeps
a list of the processes holding the server; the server stops when the last one exits.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

_lock = threading.Lock()
_servers: dict[Path, object] = {}

DEFAULT_DB = "qhse"


def start_embedded_postgres(data_dir: Path, *, database: str = DEFAULT_DB, keep_running: bool = False) -> str:
    """Start (or join) the embedded server and return a SQLAlchemy URL for ``database``.

    The database is created if missing.  With ``keep_running`` the server outlives this
    process (used by long-running ``qhse demo``/services sharing one cluster).
    """
    import pgserver  # heavy import, only when really needed

    pgdata = (Path(data_dir) / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        srv = _servers.get(pgdata)
        if srv is None:
            os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent))
            srv = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
            _servers[pgdata] = srv
            log.info("embedded PostgreSQL running with data in %s", pgdata)
    exists = srv.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        srv.psql(f'CREATE DATABASE "{database}";')
    return f"postgresql+psycopg://postgres@/{quote(database)}?host={quote(str(pgdata))}"


def stop_embedded_postgres() -> None:
    """Release this process's handle(s) on embedded servers (stops them if last)."""
    with _lock:
        for srv in _servers.values():
            try:
                srv.cleanup()
            except Exception as exc:  # shutting down: report, never raise
                log.warning("embedded PostgreSQL cleanup: %s", exc)
        _servers.clear()
