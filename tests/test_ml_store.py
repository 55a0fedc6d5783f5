"""Without QHSE_MLFLOW_TRACKING_URI, each QHSE database gets its own MLflow database (real PostgreSQL)."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from db.engine import libpq_dsn
from ml import tracking


def test_mlflow_database_name_follows_the_qhse_database():
    assert tracking.mlflow_database_for("postgresql+psycopg://u@h/qhse") == "qhse_mlflow"
    assert tracking.mlflow_database_for("postgresql+psycopg://u@h/plant_b") == "plant_b_mlflow"
    assert len(tracking.mlflow_database_for("postgresql+psycopg://u@h/" + "x" * 80)) == 63


def test_two_qhse_databases_on_one_server_do_not_share_a_registry(db_factory, tmp_path):
    from qhse.settings import load_settings

    a = db_factory.create(prefix="qhse_plant_a", migrate=False)
    b = db_factory.create(prefix="qhse_plant_b", migrate=False)
    made: list[str] = []
    try:
        stores = []
        for url in (a, b):
            s = load_settings(database_url=url, migration_database_url=None, mlflow_tracking_uri=None,
                              mlruns_dir=tmp_path)
            store = tracking.resolve_store(s)
            made.append(make_url(store.tracking_uri).database)
            stores.append(store)
        assert made == [f"{make_url(a).database}_mlflow", f"{make_url(b).database}_mlflow"]
        ca = tracking.use_store(stores[0])
        ca.create_registered_model(tracking.MODEL_DB)
        cb = tracking.use_store(stores[1])
        assert [m.name for m in cb.search_registered_models()] == []
        assert [m.name for m in tracking.use_store(stores[0]).search_registered_models()] == [tracking.MODEL_DB]
    finally:
        with psycopg.connect(libpq_dsn(make_url(a).set(database="postgres")), autocommit=True) as c:
            for name in made:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db_factory.drop(a)
        db_factory.drop(b)
