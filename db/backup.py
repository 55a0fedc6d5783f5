"""Backup and restore with pg_dump / pg_restore (custom format).

The PostgreSQL client programs come from the pgserver wheel (a recent major version that
can dump older servers), falling back to the ones on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

PGDMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    pass


def _pg_bin(name: str) -> str:
    import importlib.util

    spec = importlib.util.find_spec("pgserver")  # located, not imported (its import has side effects)
    if spec is not None and spec.origin:
        cand = Path(spec.origin).parent / "pginstall" / "bin" / name
        if cand.exists():
            return str(cand)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found (install the PostgreSQL client programs)")
    return found


def _conn_args(url: str) -> tuple[list[str], dict[str, str]]:
    u = make_url(url)
    args = ["--dbname", u.database or "postgres"]
    host = u.host or u.query.get("host")
    if host:
        args += ["--host", str(host)]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    env = {}
    if u.password:
        env["PGPASSWORD"] = u.password
    return args, env


def _run(cmd: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **env_extra}
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def backup(url: str, file: Path) -> Path:
    """Write a custom-format dump of the whole database to ``file``."""
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    args, env = _conn_args(url)
    res = _run([_pg_bin("pg_dump"), "--format=custom", "--no-owner", "--file", str(file), *args], env)
    if res.returncode != 0:
        why = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode
        raise BackupError(f"pg_dump failed: {why}")
    return file


def validate_dump(file: Path) -> int:
    """Check ``file`` is a readable pg_dump archive of this schema; return its entry count.

    Raises BackupError (nothing touched) for a missing file, a foreign format or an
    archive that does not hold this project's tables.
    """
    file = Path(file)
    if not file.is_file():
        raise BackupError(f"{file}: no such file")
    with file.open("rb") as fh:
        if fh.read(5) != PGDMP_MAGIC:
            raise BackupError(f"{file}: not a pg_dump custom-format archive (made by 'qhse db backup')")
    res = _run([_pg_bin("pg_restore"), "--list", str(file)], {})
    if res.returncode != 0:
        raise BackupError(f"{file}: unreadable archive: {res.stderr.strip()[:200]}")
    listing = res.stdout
    for table in ("site", "sensor_reading", "alembic_version"):
        if f" TABLE public {table} " not in listing and f" TABLE DATA public {table} " not in listing:
            raise BackupError(f"{file}: archive does not contain the QHSE schema (no table {table!r})")
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))


def restore(url: str, file: Path) -> None:
    """Replace the database's contents with the archive, all or nothing.

    The archive is validated, then converted in full to an SQL script (a truncated or
    corrupt archive fails here, before anything is touched).  The script runs in one
    transaction that first drops and recreates the ``public`` schema: if any statement
    fails, PostgreSQL rolls the whole transaction back and the database is exactly as it
    was before the restore.
    """
    import tempfile

    validate_dump(file)
    args, env = _conn_args(url)
    with tempfile.TemporaryDirectory(prefix="qhse-restore-") as tmp:
        script = Path(tmp) / "restore.sql"
        res = _run([_pg_bin("pg_restore"), "--no-owner", "--exit-on-error", "--file", str(script), str(file)], {})
        if res.returncode != 0 or not script.is_file():
            raise BackupError(f"{file}: archive cannot be read in full (nothing was changed): "
                              f"{res.stderr.strip()[:300] or res.returncode}")
        wrapper = Path(tmp) / "run.sql"
        wrapper.write_text(
            "DROP SCHEMA public CASCADE;\n"
            "CREATE SCHEMA public;\n"
            f"\\i {_psql_quote(str(script))}\n"
        )
        res = _run([_pg_bin("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                    *args, "--file", str(wrapper)], env)
    if res.returncode != 0:
        raise BackupError(f"restore failed, the database was left unchanged: {res.stderr.strip()[:300]}")


def _psql_quote(path: str) -> str:
    """A file name quoted for psql's \\i (single quotes, doubled)."""
    return "'" + path.replace("'", "''") + "'"
