"""Monitoring of the failure model: past predictions against the failures that followed, feature
drift (PSI) against the training reference, the worker job; real PostgreSQL and MLflow."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ml import monitoring, tracking

from .conftest import SEED_END

SCORED = [SEED_END - dt.timedelta(days=d, hours=-8) for d in (20, 16, 12)]  # horizons end before the data


def test_psi_flags_a_shifted_feature_and_not_the_others():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(0, 1, 4000), "b": rng.normal(5, 2, 4000),
                          "c": np.where(rng.random(4000) < 0.1, np.nan, rng.normal(0, 1, 4000))})
    ref = monitoring.feature_reference(train)
    assert sum(ref["a"]["shares"]) == pytest.approx(1.0)
    now = pd.DataFrame({"a": rng.normal(0, 1, 500), "b": rng.normal(5, 2, 500) + 1.5,
                        "c": np.where(rng.random(500) < 0.1, np.nan, rng.normal(0, 1, 500))})
    found = {d["feature"]: d for d in monitoring.drift(ref, now)}
    assert found["b"]["flagged"] and found["b"]["psi"] > monitoring.PSI_FLAG
    assert not found["a"]["flagged"] and not found["c"]["flagged"]
    assert found["a"]["psi"] < 0.05
    # Missing values count as their own bin: a feature that goes missing drifts.
    gone = now.assign(a=np.nan)
    assert {d["feature"]: d for d in monitoring.drift(ref, gone)}["a"]["flagged"]


def test_outcomes_rule():
    t = pd.Timestamp("2026-10-01", tz="UTC")
    frame = pd.DataFrame({"model_version": ["3"] * 5, "scored_at": [t] * 5,
                          "probability": [0.9, 0.8, 0.1, 0.05, 0.6], "threshold": [0.5] * 5,
                          "failed": [True, False, True, False, False]})
    (o,) = monitoring.outcomes(frame)
    assert (o.alerts, o.failures, o.hits) == (3, 2, 1)
    assert o.precision == pytest.approx(1 / 3) and o.recall == pytest.approx(0.5)
    assert o.brier == pytest.approx(np.mean((np.array([0.9, 0.8, 0.1, 0.05, 0.6]) - [1, 0, 1, 0, 0]) ** 2))


@pytest.fixture(scope="module")
def store(db_factory, tmp_path_factory):
    url = db_factory.create(prefix="qhse_mlflow_mon", migrate=False)
    yield tracking.Store(tracking_uri=url, artifact_root=tmp_path_factory.mktemp("mlruns"))
    db_factory.drop(url)


@pytest.fixture(scope="module")
def champion(seeded_engine, store):
    from ml.train import db_dataset, train_and_register

    res = train_and_register(db_dataset(seeded_engine, horizon_days=7, step_hours=24), store=store)
    assert res.promoted
    return res


@pytest.mark.slow
def test_monitoring_job_checks_outcomes_and_flags_a_shifted_feature(seeded_engine, champion, store):
    from ml.scoring import default_as_of, score_assets

    known = default_as_of(seeded_engine)
    now = SEED_END + dt.timedelta(days=1)
    try:
        for t in SCORED:
            score_assets(seeded_engine, as_of=t, store=store)
        res = monitoring.monitor(seeded_engine, now=now, store=store)
        with seeded_engine.connect() as conn:
            preds = conn.execute(sa.text(
                "SELECT p.probability, p.threshold, EXISTS (SELECT 1 FROM failure_event f "
                "WHERE f.asset_id = p.asset_id AND f.occurred_at > p.scored_at "
                "AND f.occurred_at <= p.scored_at + interval '7 days') AS failed "
                "FROM failure_prediction p WHERE p.scored_at = ANY(:t)"), {"t": SCORED}).all()
            stored = {r.subject: r for r in conn.execute(sa.text(
                "SELECT subject, value, threshold, flagged, detail FROM model_monitor "
                "WHERE kind = 'outcome' AND checked_at = :n"), {"n": now})}
            drift = {r.subject: r for r in conn.execute(sa.text(
                "SELECT subject, value, flagged FROM model_monitor WHERE kind = 'drift' AND checked_at = :n"),
                {"n": now})}
        alert = np.array([p.probability >= p.threshold for p in preds])
        failed = np.array([p.failed for p in preds])
        assert failed.sum() > 0 and alert.sum() > 0
        assert stored["precision"].value == pytest.approx((alert & failed).sum() / alert.sum())
        assert stored["recall"].value == pytest.approx((alert & failed).sum() / failed.sum())
        assert stored["brier"].value == pytest.approx(
            np.mean((np.array([p.probability for p in preds]) - failed) ** 2))
        assert stored["precision"].detail["predictions"] == len(preds)
        assert stored["recall"].threshold == pytest.approx(champion.holdout["recall"] / 2)
        assert res.outcomes[0].version == champion.version
        assert set(drift) == set(champion.features)
        assert not drift["torque_mean_24h"].flagged

        # Torque readings of the last week 20 Nm higher: the torque features drift, air temperature does not move.
        with seeded_engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE sensor_reading r SET value = value + 20 FROM sensor s WHERE s.id = r.sensor_id "
                "AND s.kind = 'torque' AND r.ts >= :lo AND r.ts < :hi"),
                {"lo": known - dt.timedelta(days=8), "hi": known})
        try:
            later = now + dt.timedelta(hours=6)
            again = monitoring.monitor(seeded_engine, now=later, store=store)
        finally:
            with seeded_engine.begin() as conn:
                conn.execute(sa.text(
                    "UPDATE sensor_reading r SET value = value - 20 FROM sensor s WHERE s.id = r.sensor_id "
                    "AND s.kind = 'torque' AND r.ts >= :lo AND r.ts < :hi"),
                    {"lo": known - dt.timedelta(days=8), "hi": known})
        shifted = {d["feature"]: d for d in again.drift}
        assert shifted["torque_mean_24h"]["flagged"] and shifted["torque_mean_24h"]["psi"] > monitoring.PSI_FLAG
        assert shifted["air_temp_mean_24h"]["psi"] == pytest.approx(drift["air_temp_mean_24h"].value, abs=1e-9)
        assert f"drift torque_mean_24h v{champion.version}" in again.flagged
        # The data-science role hears of newly flagged figures only: the second message names the torque
        # drift and not the flags it was already told about.
        with seeded_engine.connect() as conn:
            notes = conn.execute(sa.text("SELECT created_at, channel, recipient, body FROM notification "
                                         "WHERE ref = 'ml_monitoring:qhse-failure' ORDER BY id")).all()
        assert res.flagged and {n.created_at for n in notes} == {now, later}
        assert all(n.channel == "email" or n.recipient == monitoring.NOTIFY_TOPIC for n in notes)
        second = next(n.body for n in notes if n.created_at == later).split("Summary:")[0]
        assert "torque_mean_24h" in second
        assert not any(f in second for f in res.flagged)
        with seeded_engine.connect() as conn:
            row = conn.execute(sa.text("SELECT flagged FROM model_monitor WHERE kind = 'drift' AND checked_at = :n "
                                       "AND subject = 'torque_mean_24h'"), {"n": later}).one()
        assert row.flagged
    finally:
        with seeded_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM failure_prediction WHERE scored_at = ANY(:t)"), {"t": SCORED})
            conn.execute(sa.text("DELETE FROM model_monitor"))
            conn.execute(sa.text("DELETE FROM notification WHERE ref LIKE 'ml_monitoring:%'"))


@pytest.mark.slow
def test_worker_job_runs_the_monitoring(seeded_engine, champion, store, monkeypatch):
    from qhse.jobs import runner
    from qhse.jobs.schedule import JOBS_BY_NAME
    from qhse.settings import reset_settings_cache

    monkeypatch.setenv("QHSE_MLFLOW_TRACKING_URI", store.tracking_uri)
    monkeypatch.setenv("QHSE_MLRUNS_DIR", str(store.artifact_root))
    reset_settings_cache()
    try:
        out = runner.run_job(seeded_engine, JOBS_BY_NAME["ml_monitoring"], force=True)
        assert out.status == "ok", out.detail
        assert f"drift v{champion.version}" in out.detail and "retrain" not in out.detail  # retraining off by default
        with seeded_engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM model_monitor WHERE kind = 'drift'")).scalar_one()
        assert n == len(champion.features)
    finally:
        reset_settings_cache()
        with seeded_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM model_monitor"))
            conn.execute(sa.text("DELETE FROM notification WHERE ref LIKE 'ml_monitoring:%'"))
            conn.execute(sa.text("DELETE FROM job_run WHERE job = 'ml_monitoring'"))


@pytest.mark.slow
def test_scheduled_retraining_registers_a_challenger_when_due(seeded_engine, champion, store):
    now = dt.datetime.now(dt.UTC)
    res = monitoring.monitor(seeded_engine, now=now, store=store, retrain_days=30)
    assert res.retrain.startswith("retraining not due")
    try:
        res = monitoring.monitor(seeded_engine, now=now + dt.timedelta(days=31), store=store, retrain_days=30)
        assert res.retrain.startswith("retrained: v") and "same holdout" in res.retrain, res.retrain
        client = tracking.use_store(store)
        newest = tracking.list_versions(client, tracking.MODEL_DB)[0]
        assert newest["version"] != champion.version and newest["horizon_days"] == 7
        assert client.get_run(newest["run_id"]).data.params["step_hours"] == "24"  # the champion's set-up
    finally:
        with seeded_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM model_monitor"))
            conn.execute(sa.text("DELETE FROM notification WHERE ref LIKE 'ml_monitoring:%'"))
