"""The demo's failure-model step against PostgreSQL and a real MLflow store: the first training logs
cleanly, a second start on the same data registers no identical version."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from ml import tracking


def test_second_start_on_the_same_data_registers_no_new_version(db_factory, tmp_path, seeded_engine, caplog):
    from ml.pipeline import FINGERPRINT_TAG, data_fingerprint, run_demo

    url = db_factory.create(prefix="qhse_mlflow_again", migrate=False)
    store = tracking.Store(url, tmp_path)
    written = []
    try:
        with caplog.at_level(logging.WARNING, logger="psycopg"):
            first = run_demo(seeded_engine, store=store)
        written.append(first.score.as_of)
        # MLflow copying metrics logged before the model failed inside psycopg's pipeline.
        assert not [r for r in caplog.records if "pipeline aborted" in r.getMessage()]
        assert first.train is not None and first.train.version == "1"
        client = tracking.use_store(store)
        fp = data_fingerprint(seeded_engine)
        assert client.get_model_version(tracking.MODEL_DB, "1").tags[FINGERPRINT_TAG] == fp

        again = run_demo(seeded_engine, store=store)
        written.append(again.score.as_of)
        assert again.train is None and again.score.version == "1"
        assert again.lines[0].startswith("training skipped: champion qhse-failure v1 was trained on the same data")
        assert [str(v.version) for v in client.search_model_versions(f"name = '{tracking.MODEL_DB}'")] == ["1"]

        # New data (a failure recorded) is a new fingerprint: the demo trains again.
        with seeded_engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO failure_event (id, asset_id, occurred_at, mode, downtime_h) "
                                 "SELECT id + 1000000, asset_id, now(), mode, 1 FROM failure_event "
                                 "ORDER BY id LIMIT 1"))
        try:
            assert data_fingerprint(seeded_engine) != fp
        finally:
            with seeded_engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM failure_event WHERE id > 1000000"))
        assert data_fingerprint(seeded_engine) == fp
    finally:
        with seeded_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM failure_prediction WHERE scored_at = ANY(:t)"), {"t": written})
        db_factory.drop(url)
