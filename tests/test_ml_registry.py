"""Train -> register -> champion -> score, against the seeded PostgreSQL database and a
real MLflow store (its own PostgreSQL database, artifacts in a temporary folder)."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from ml import tracking
from ml.features import FEATURES, scoring_snapshots
from ml.scoring import explain, load_champion, risk_band, score_assets
from ml.train import TrainingError, db_dataset, train_and_register, train_db

from .conftest import SEED_END

pytestmark = pytest.mark.slow

AS_OF = SEED_END - dt.timedelta(days=3, hours=-10)  # a weekday morning inside the history


@pytest.fixture(scope="module")
def store(db_factory, tmp_path_factory):
    url = db_factory.create(prefix="qhse_mlflow_test", migrate=False)
    s = tracking.Store(tracking_uri=url, artifact_root=tmp_path_factory.mktemp("mlruns"))
    yield s
    db_factory.drop(url)


@pytest.fixture(scope="module")
def dataset(seeded_engine):
    return db_dataset(seeded_engine, horizon_days=7, step_hours=24)


@pytest.fixture(scope="module")
def first(dataset, store):
    return train_and_register(dataset, store=store)


def test_first_version_becomes_champion_with_logged_run(first, store):
    import mlflow

    assert first.version == "1"
    assert first.promoted and first.decision.startswith("first version")
    client = tracking.use_store(store)
    champ = tracking.champion_version(client, tracking.MODEL_DB)
    assert str(champ.version) == "1"
    assert champ.tags["promoted_by"] and "automatic" in champ.tags["promotion_reason"]
    run = client.get_run(first.run_id)
    for m in ("holdout_pr_auc", "holdout_roc_auc", "holdout_f1", "holdout_precision", "holdout_recall",
              "holdout_precision_at_10", "val_pr_auc", "threshold"):
        assert m in run.data.metrics, m
    assert run.data.params["horizon_days"] == "7"
    arts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"shap_summary.png", "features.json", "calibration.json", "reliability.png", "reliability.json"} <= arts
    assert run.data.params["label"] == "any failure within 7 days"
    for m in ("holdout_brier", "holdout_ece", "holdout_mean_probability_uncalibrated", "calibration_a"):
        assert m in run.data.metrics, m
    info = mlflow.models.get_model_info(tracking.champion_uri(tracking.MODEL_DB))
    assert info.signature is not None
    assert [c.name for c in info.signature.inputs.inputs] == FEATURES
    assert info.saved_input_example_info is not None
    # The dataset's split respects the horizon gap.
    assert 0 < first.threshold < 1
    assert first.holdout["pr_auc"] > first.rows["holdout_positives"] / first.rows["holdout"]


def test_calibrated_probabilities_match_the_holdout_failure_rate(first, store):
    """Platt scaling fitted on the later half of the validation period (never the holdout) brings the
    holdout's mean probability within 10 % of its failure rate (the booster alone: 11 % high here)."""
    h = first.holdout
    assert abs(h["mean_probability"] - h["base_rate"]) <= 0.10 * h["base_rate"], h
    client = tracking.use_store(store)
    tags = client.get_model_version(tracking.MODEL_DB, first.version).tags
    assert tags["calibration"] == "platt" and float(tags["calibration_a"]) > 0
    assert h["brier"] <= client.get_run(first.run_id).data.metrics["holdout_brier_uncalibrated"] + 0.002


def test_promotion_refuses_a_worse_model(dataset, first, store):
    worse = train_and_register(dataset, store=store, params={"n_estimators": 1, "max_depth": 1,
                                                              "colsample_bytree": 0.2})
    assert worse.version != first.version
    assert not worse.promoted
    assert worse.holdout["pr_auc"] < worse.champion_holdout_pr_auc
    assert worse.champion_holdout_pr_auc == pytest.approx(first.holdout["pr_auc"], rel=1e-9)
    client = tracking.use_store(store)
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == first.version
    assert "kept champion" in client.get_model_version(tracking.MODEL_DB, worse.version).tags["not_promoted"]

    # Retraining the same set-up is not "better" either (ties keep the champion).
    same = train_and_register(dataset, store=store)
    assert not same.promoted
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == first.version

    # A manual promotion is allowed and records who did it; then the champion goes back.
    tracking.promote(client, tracking.MODEL_DB, worse.version, by="ds.alice", reason="manual: test")
    champ = tracking.champion_version(client, tracking.MODEL_DB)
    assert str(champ.version) == worse.version
    assert champ.tags["promoted_by"] == "ds.alice"
    assert champ.tags["replaced_version"] == first.version
    tracking.promote(client, tracking.MODEL_DB, first.version, by="ds.alice", reason="manual: restore")
    with pytest.raises(tracking.RegistryError):
        tracking.promote(client, tracking.MODEL_DB, "999")


def test_shap_contributions_plus_bias_equal_margin(first, store, seeded_engine):
    import xgboost as xgb

    champ = load_champion(tracking.MODEL_DB, store)
    snaps = scoring_snapshots(seeded_engine, AS_OF, horizon_days=champ.horizon_days)
    X = snaps[champ.features].astype(float)
    dm = xgb.DMatrix(X, feature_names=champ.features)
    contribs = champ.booster.predict(dm, pred_contribs=True)
    margin = champ.booster.predict(dm, output_margin=True)
    np.testing.assert_allclose(contribs.sum(axis=1), margin, rtol=1e-5, atol=1e-5)
    prob, bias, reasons = explain(champ, snaps, top_k=5)
    # Probabilities and reasons are in the calibrated log-odds: a * margin + b.
    cal = champ.calibration
    assert cal.method == "platt" and cal.a > 0
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-(cal.a * margin + cal.b))), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, cal.a * contribs[:, -1] + cal.b, rtol=1e-6)
    for r, row in zip(reasons, contribs * cal.a, strict=True):
        assert len(r) == 5
        mags = [abs(c["contribution"]) for c in r]
        assert mags == sorted(mags, reverse=True)
        assert mags[0] == pytest.approx(np.abs(row[:-1]).max(), abs=1e-5)


def test_score_writes_predictions_with_champion_version(first, store, seeded_engine):
    res = score_assets(seeded_engine, as_of=AS_OF, store=store)
    try:
        with seeded_engine.connect() as conn:
            active = conn.execute(sa.text(
                "SELECT count(DISTINCT a.id) FROM asset a JOIN sensor s ON s.asset_id = a.id "
                "WHERE a.active AND s.kind = 'vibration'")).scalar_one()
            rows = conn.execute(sa.text(
                "SELECT asset_id, probability, risk_band, model_name, model_version, threshold, base_value, "
                "contributions, horizon_days FROM failure_prediction WHERE scored_at = :t"), {"t": AS_OF}).all()
        assert res.assets == active == len(rows)
        again = score_assets(seeded_engine, as_of=AS_OF, store=store)  # idempotent for the same time and model
        with seeded_engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM failure_prediction WHERE scored_at = :t"),
                             {"t": AS_OF}).scalar_one()
        assert again.assets == n == len(rows)
        for r in rows:
            assert r.model_name == tracking.MODEL_DB and r.model_version == first.version
            assert 0.0 <= r.probability <= 1.0
            assert r.risk_band == risk_band(r.probability, r.threshold)
            assert r.horizon_days == 7
            assert len(r.contributions) == 5 and {"feature", "value", "contribution"} <= set(r.contributions[0])
            assert {c["feature"] for c in r.contributions} <= set(FEATURES)
            mags = [abs(c["contribution"]) for c in r.contributions]
            assert mags == sorted(mags, reverse=True)
    finally:
        with seeded_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM failure_prediction WHERE scored_at = :t"), {"t": AS_OF})


def test_cli_train_promote_models_score(first, store, seeded_url, seeded_engine, monkeypatch):
    from qhse.cli.root import cli

    from .actor_fixtures import act

    act(seeded_engine, "ds.bob", "data_scientist")
    act(seeded_engine, "line.lead", "plant_manager")

    monkeypatch.setenv("QHSE_DATABASE_URL", seeded_url)
    monkeypatch.setenv("QHSE_MLFLOW_TRACKING_URI", store.tracking_uri)
    monkeypatch.setenv("QHSE_MLRUNS_DIR", str(store.artifact_root))
    runner = CliRunner()
    res = runner.invoke(cli, ["ml", "models"])
    assert res.exit_code == 0, res.output
    assert "champion" in res.output
    res = runner.invoke(cli, ["ml", "promote", first.version, "--as", "line.lead", "--reason", "manual check"])
    assert res.exit_code == 2 and "may not manage models" in res.output
    res = runner.invoke(cli, ["ml", "promote", first.version, "--as", "ds.bob", "--reason", "manual check"])
    assert res.exit_code == 0, res.output
    assert "promoted by ds.bob" in res.output
    with seeded_engine.connect() as conn:
        audited = conn.execute(sa.text("SELECT username, detail->>'reason' FROM audit_log "
                                       "WHERE action = 'promote_model' "
                                       "AND entity_id = :e ORDER BY id DESC LIMIT 1"),
                               {"e": f"{tracking.MODEL_DB}:{first.version}"}).one()
    assert tuple(audited) == ("ds.bob", "manual check")
    res = runner.invoke(cli, ["ml", "promote", "12345", "--as", "ds.bob", "--reason", "manual check"])
    assert res.exit_code == 2 and "no version 12345" in res.output
    when = AS_OF + dt.timedelta(hours=1)
    try:
        res = runner.invoke(cli, ["ml", "score", "--as-of", when.isoformat()])
        assert res.exit_code == 0, res.output
        assert f"qhse-failure v{first.version}" in res.output
    finally:
        eng = sa.create_engine(seeded_url)
        with eng.begin() as conn:
            n = conn.execute(sa.text("DELETE FROM failure_prediction WHERE scored_at = :t"), {"t": when}).rowcount
        eng.dispose()
    assert n > 0
    res = runner.invoke(cli, ["ml", "score", "--as-of", "yesterday"])
    assert res.exit_code == 2 and "ISO 8601" in res.output
    res = runner.invoke(cli, ["ml", "train", "--source", "ai4i"])
    assert res.exit_code == 2 and "needs the CSV file" in res.output


def test_scoring_without_champion_says_what_to_do(db_factory, tmp_path, seeded_engine):
    from ml.scoring import ScoringError

    url = db_factory.create(prefix="qhse_mlflow_empty", migrate=False)
    try:
        with pytest.raises(ScoringError, match="run 'qhse ml train'"):
            score_assets(seeded_engine, as_of=AS_OF, store=tracking.Store(url, tmp_path))
    finally:
        db_factory.drop(url)


def test_training_refuses_a_database_without_machines(fresh_db_url, tmp_path):
    from ml.features import FeatureError

    eng = sa.create_engine(fresh_db_url)
    try:
        with pytest.raises(FeatureError, match="no assets with machine sensors"):
            train_db(eng, store=tracking.Store(fresh_db_url, tmp_path))
    finally:
        eng.dispose()


def test_default_store_creates_its_own_database(pg_server_url):
    import psycopg

    from db.engine import libpq_dsn

    name = f"qhse_mlflow_probe_{uuid.uuid4().hex[:8]}"
    url = tracking.ensure_database(pg_server_url, name)
    try:
        assert make_url(url).database == name
        assert tracking.ensure_database(pg_server_url, name) == url  # idempotent
    finally:
        with psycopg.connect(libpq_dsn(make_url(pg_server_url).set(database="postgres")), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_risk_band_rule():
    assert risk_band(0.05, 0.2) == "low"
    assert risk_band(0.10, 0.2) == "medium"
    assert risk_band(0.2, 0.2) == "high"
    assert risk_band(0.59, 0.2) == "high"
    assert risk_band(0.61, 0.2) == "critical"
    with pytest.raises(ValueError):
        risk_band(0.5, 0.0)


def test_dataset_checks_refuse_one_class(dataset):
    bad = dataset.__class__(**{**dataset.__dict__, "y": np.zeros_like(dataset.y)})
    with pytest.raises(TrainingError, match="no failures"):
        bad.check()


def test_demo_pipeline_trains_promotes_and_scores(db_factory, tmp_path, seeded_engine):
    from ml.pipeline import run_demo, score_job

    url = db_factory.create(prefix="qhse_mlflow_demo", migrate=False)
    store = tracking.Store(url, tmp_path)
    written = [AS_OF]
    try:
        assert score_job(seeded_engine, as_of=AS_OF, store=store).startswith("skipped: no champion")
        out = run_demo(seeded_engine, store=store)
        written.append(out.score.as_of)
        assert out.train.promoted and out.train.version == "1"
        assert out.score.version == "1" and out.score.assets > 0
        assert any(line.startswith("champion: first version") for line in out.lines)
        msg = score_job(seeded_engine, as_of=AS_OF, store=store)
        assert msg.startswith(f"scored {out.score.assets} machines with qhse-failure v1")
    finally:
        with seeded_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM failure_prediction WHERE scored_at = ANY(:t)"), {"t": written})
        db_factory.drop(url)
