"""Engine and sessions.  Resolves the database URL from settings (or the embedded server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from qhse.settings import Settings, SettingsError, get_settings

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def resolve_database_url(settings: Settings | None = None) -> str:
    """The application role's URL: the configured one, or the embedded server's (started on first use)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    data_dir = settings.ensure_data_dir()
    from db.embedded import start_embedded_app

    return start_embedded_app(data_dir)


def resolve_migration_url(settings: Settings | None = None) -> str:
    """The schema owner's URL (migrations, backup, restore).

    QHSE_MIGRATION_DATABASE_URL; else QHSE_DATABASE_URL (a single-role setup, where the
    application owns the schema and only the audit trigger protects the log); else the
    embedded server's superuser over its local socket.
    """
    settings = settings or get_settings()
    if settings.migration_database_url:
        return settings.migration_database_url
    if settings.database_url:
        return settings.database_url
    data_dir = settings.ensure_data_dir()
    from db.embedded import start_embedded_postgres

    return start_embedded_postgres(data_dir)


def libpq_dsn(url: str | URL) -> str:
    """A libpq connection string (for psycopg.connect) from a SQLAlchemy URL."""
    u = make_url(url) if isinstance(url, str) else url
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def describe_url(url: str | URL) -> str:
    u = make_url(url) if isinstance(url, str) else url
    host = u.host or (u.query.get("host") if u.query else None) or "local socket"
    return f"{u.username or ''}@{host}{':' + str(u.port) if u.port else ''}/{u.database}"


def create_engine_for(url: str, **kw) -> Engine:
    return sa.create_engine(url, pool_pre_ping=True, future=True, **kw)


def get_engine(url: str | None = None) -> Engine:
    """A process-wide engine for ``url`` (default: the configured database)."""
    url = url or resolve_database_url()
    with _lock:
        eng = _engines.get(url)
        if eng is None:
            eng = create_engine_for(url, pool_size=5, max_overflow=10)
            _engines[url] = eng
    return eng


def check_connection(url: str, setting: str = "QHSE_DATABASE_URL") -> None:
    """Connect once; raise SettingsError with a one-line reason if that fails."""
    import psycopg

    try:
        with psycopg.connect(libpq_dsn(url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SettingsError(setting, f"cannot connect to {describe_url(url)}: {reason}") from None


def dispose_engines() -> None:
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False, future=True)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    s = session_factory(engine)()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()


def raw_connection(engine: Engine | None = None):
    """A plain psycopg 3 connection (for COPY and LISTEN/NOTIFY)."""
    import psycopg

    eng = engine or get_engine()
    return psycopg.connect(libpq_dsn(eng.url))
