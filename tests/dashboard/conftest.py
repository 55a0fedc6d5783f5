"""Fixtures for dashboard tests: a seeded database of their own, one user per role, AppTest helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PASSWORD = "dash-test-password"


@pytest.fixture(scope="session")
def dash_url(db_factory, seeded_url) -> str:
    """A copy of the seeded 'small' database (tests here write to it: acks, reviews, reports)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from db.engine import dispose_engines, libpq_dsn

    src = make_url(seeded_url).database
    dispose_engines()
    url = db_factory.create(prefix="qhse_dash", migrate=False)
    name = make_url(url).database
    # DDL on databases as the schema owner; the tests themselves run as the application role.
    admin = libpq_dsn(make_url(db_factory.owner_url(seeded_url)).set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}"')
        try:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{src}"')
            copied = True
        except psycopg.errors.ObjectInUse:  # the template is in use by another test: seed our own
            conn.execute(f'CREATE DATABASE "{name}"')
            copied = False
    if not copied:
        from db.migrate import upgrade
        from qhse.demo.seed import seed
        from tests.conftest import SEED_END

        upgrade(url)
        eng = sa.create_engine(db_factory.app_url(url))
        seed(eng, scale="small", seed=7, end=SEED_END)
        eng.dispose()
    return db_factory.app_url(url)


@pytest.fixture(scope="session")
def dash_engine(dash_url):
    eng = sa.create_engine(dash_url, future=True)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def dash_users(dash_engine) -> dict[str, int]:
    """One account per role (demo names), all with PASSWORD; returns username -> id."""
    from db.queries.users import get_by_username
    from qhse.services.auth import DEMO_USERS, add_user

    out = {}
    for d in DEMO_USERS:
        u = get_by_username(dash_engine, d.username)
        if u is None:
            add_user(dash_engine, username=d.username, password=PASSWORD, role=d.role, display_name=d.display_name,
                     locale="en", site_codes=list(d.sites), all_sites=not d.sites)
            u = get_by_username(dash_engine, d.username)
        out[d.username] = u.id
    return out


@pytest.fixture(scope="session")
def dash_mlflow(db_factory, tmp_path_factory):
    """An MLflow store of the dashboard tests' own: a fresh database and an artifact folder."""
    from ml.tracking import Store

    url = db_factory.create(prefix="qhse_dash_mlflow", migrate=False)
    return Store(tracking_uri=url, artifact_root=tmp_path_factory.mktemp("mlruns"))


@pytest.fixture(scope="session")
def dash_data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("qhse-data")


@pytest.fixture(scope="session")
def live_rows(dash_engine, dash_data_dir) -> dict:
    """Open alarms and PPE events awaiting review (see live_data.py)."""
    from .live_data import add_open_alarms, add_review_events

    return {"alarms": add_open_alarms(dash_engine), "events": add_review_events(dash_engine, dash_data_dir / "snap")}


@pytest.fixture(scope="session")
def trained_model(dash_engine, dash_mlflow) -> dict:
    """A real champion of qhse-failure trained on the seeded data, and every machine scored with it."""
    from ml.scoring import default_as_of, score_assets
    from ml.train import train_db

    res = train_db(dash_engine, horizon_days=7, store=dash_mlflow)
    sc = score_assets(dash_engine, as_of=default_as_of(dash_engine), store=dash_mlflow)
    return {"version": res.version, "assets": sc.assets}


@pytest.fixture()
def dash_env(dash_url, dash_users, dash_mlflow, dash_data_dir, monkeypatch):
    """Point the app at the test database; start each test with empty Streamlit caches."""
    import streamlit as st

    from qhse.settings import reset_settings_cache

    monkeypatch.setenv("QHSE_DATABASE_URL", dash_url)
    monkeypatch.setenv("QHSE_MLFLOW_TRACKING_URI", dash_mlflow.tracking_uri)
    monkeypatch.setenv("QHSE_MLRUNS_DIR", str(dash_mlflow.artifact_root))
    monkeypatch.setenv("QHSE_DATA_DIR", str(dash_data_dir))
    reset_settings_cache()
    st.cache_data.clear()
    yield dash_url
    st.cache_data.clear()


def site_id(engine, code: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM site WHERE code = :c"), {"c": code}).scalar_one()
