"""Shared fixtures: real PostgreSQL and MQTT.

* ``QHSE_TEST_DATABASE_URL`` / ``QHSE_TEST_MQTT_URL`` point at real services (CI sets them);
* without them, the embedded PostgreSQL (pgserver) and the embedded broker are started.

Each test session works in fresh databases it creates and drops, so the server's own
data is never touched.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
SEED_END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _server_url() -> str:
    url = os.environ.get("QHSE_TEST_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    from db.embedded import start_embedded_postgres

    return start_embedded_postgres(ROOT / ".qhse" / "test", database="postgres")


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of the PostgreSQL server used by the tests (any database on it)."""
    return _server_url()


class DatabaseFactory:
    """Creates uniquely named databases on the test server and drops them at the end."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.created: list[str] = []
        self._template: str | None = None

    def _admin(self):
        from db.engine import libpq_dsn

        return psycopg.connect(libpq_dsn(make_url(self.server_url).set(database="postgres")), autocommit=True)

    def _url(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def template(self) -> str:
        """A database migrated once per session; migrated databases are cloned from it."""
        if self._template is None:
            name = f"qhse_tmpl_{uuid.uuid4().hex[:10]}"
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            from db.migrate import upgrade

            upgrade(self._url(name))
            self._template = name
        return self._template

    def create(self, prefix: str = "qhse_test", migrate: bool = True, migrate_in_place: bool = False) -> str:
        """A new database; migrated ones are copies of the session's template (CREATE DATABASE ... TEMPLATE).

        ``migrate_in_place``: migrate the new database itself (for one-off databases, as in bench/).
        """
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        template = self.template() if migrate else None
        with self._admin() as conn:
            if template is None:
                conn.execute(f'CREATE DATABASE "{name}"')
            else:
                for attempt in range(50):
                    try:
                        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                        break
                    except psycopg.errors.ObjectInUse:  # a connection to the template is closing
                        if attempt == 49:
                            raise
                        time.sleep(0.1)
        self.created.append(name)
        if migrate_in_place:
            from db.migrate import upgrade

            upgrade(self._url(name))
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        from db.engine import dispose_engines

        dispose_engines()
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(self._url(name))
        self._template = None


class AppRoleDatabaseFactory(DatabaseFactory):
    """Migrated databases come back as the application role's URL (``qhse_app``, rights from
    migration d2b4), so the suite runs with the platform's own privileges; ``owner_url`` gives
    the schema owner (the server URL's user) for DDL, restores and role tests."""

    APP_ROLE, APP_PASSWORD = "qhse_app", "qhse-app-test"
    _app_login_ready = False

    def create(self, prefix: str = "qhse_test", migrate: bool = True) -> str:
        url = super().create(prefix, migrate)
        return self.app_url(url) if migrate else url

    def app_url(self, url: str) -> str:
        if not self._app_login_ready:
            with self._admin() as conn:
                try:
                    conn.execute(f"CREATE ROLE {self.APP_ROLE} LOGIN PASSWORD '{self.APP_PASSWORD}'")
                except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                    conn.execute(f"ALTER ROLE {self.APP_ROLE} LOGIN PASSWORD '{self.APP_PASSWORD}'")
            self._app_login_ready = True
        return make_url(url).set(username=self.APP_ROLE, password=self.APP_PASSWORD).render_as_string(
            hide_password=False)

    def owner_url(self, url: str) -> str:
        s = make_url(self.server_url)
        return make_url(url).set(username=s.username, password=s.password).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def db_factory(pg_server_url):
    f = AppRoleDatabaseFactory(pg_server_url)
    yield f
    f.drop_all()


@pytest.fixture(scope="session")
def db_url(db_factory) -> str:
    """A migrated, empty database shared by the session (tests add their own rows)."""
    return db_factory.create()


@pytest.fixture(scope="session")
def engine(db_url):
    eng = sa.create_engine(db_url, future=True)
    yield eng
    eng.dispose()


@pytest.fixture()
def fresh_db_url(db_factory) -> str:
    """A migrated, empty database of the test's own."""
    url = db_factory.create()
    yield url
    db_factory.drop(url)


@pytest.fixture(scope="session")
def seeded_url(db_factory) -> str:
    """A database with the 'small' demo data (seed 7, history ending 2026-11-01)."""
    from qhse.demo.seed import seed

    url = db_factory.create(prefix="qhse_seeded")
    eng = sa.create_engine(url)
    seed(eng, scale="small", seed=7, end=SEED_END)
    eng.dispose()
    return url


@pytest.fixture(scope="session")
def seeded_engine(seeded_url):
    eng = sa.create_engine(seeded_url, future=True)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """URL of a real MQTT broker: QHSE_TEST_MQTT_URL, or the embedded broker."""
    url = os.environ.get("QHSE_TEST_MQTT_URL")
    if url:
        return url
    from ingestion.broker import start_embedded_broker

    return start_embedded_broker(port=18831)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch, tmp_path):
    """Each test sees settings built from its own environment (no cached leftovers)."""
    from qhse.settings import reset_settings_cache

    # Never the data directory of a demo run on this machine (qhse.settings.demo_data_dir).
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    reset_settings_cache()
    yield
    reset_settings_cache()
