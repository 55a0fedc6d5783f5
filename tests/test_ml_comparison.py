"""Honest champion/challenger: horizon as identity, the champion scored on the challenger's holdout,
manual promotion of a worse version needs --force, promotion history kept (real PostgreSQL + MLflow)."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ml import tracking
from ml.modeling import binary_metrics
from ml.train import db_dataset, train_and_register

pytestmark = pytest.mark.slow

TINY = {"n_estimators": 1, "max_depth": 1, "colsample_bytree": 0.2}


@pytest.fixture(scope="module")
def store(db_factory, tmp_path_factory):
    url = db_factory.create(prefix="qhse_mlflow_cmp", migrate=False)
    s = tracking.Store(tracking_uri=url, artifact_root=tmp_path_factory.mktemp("mlruns"))
    yield s
    db_factory.drop(url)


@pytest.fixture(scope="module")
def ds7(seeded_engine):
    return db_dataset(seeded_engine, horizon_days=7, step_hours=24)


@pytest.fixture(scope="module")
def champion(ds7, store):
    return train_and_register(ds7, store=store)


def test_cross_horizon_challenger_is_refused_and_the_7_day_model_retrains(seeded_engine, ds7, champion, store):
    assert champion.promoted
    ds2 = db_dataset(seeded_engine, horizon_days=2, step_hours=24)
    two = train_and_register(ds2, store=store)
    assert not two.promoted
    assert "different horizon" in two.decision and "within 2 days" in two.decision
    assert two.champion_holdout_pr_auc is None  # never compared on other labels
    client = tracking.use_store(store)
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == champion.version
    tags = client.get_model_version(tracking.MODEL_DB, two.version).tags
    assert tags["horizon_days"] == "2" and tags["label"] == "any failure within 2 days"
    assert "compared_with" not in tags

    # The 7-day model retrains after the 2-day experiment and is compared with the 7-day champion.
    again = train_and_register(ds7, store=store, params=TINY)
    assert "same holdout" in again.decision and not again.promoted
    assert again.champion_holdout_pr_auc == pytest.approx(champion.holdout["pr_auc"], rel=1e-9)
    assert client.get_model_version(tracking.MODEL_DB, again.version).tags["compared_with"] == champion.version

    # By hand: another horizon is refused without --force.
    from ml.promotion import PromotionRefused, promote

    from .actor_fixtures import act

    ds = act(seeded_engine, "ds.cmp", "data_scientist")
    with pytest.raises(PromotionRefused, match="different horizon"):
        promote(seeded_engine, ds, two.version, reason="try 2 days", store=store)
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == champion.version

    # qhse ml models shows each version's horizon.
    rows = {r["version"]: r for r in tracking.list_versions(client, tracking.MODEL_DB)}
    assert rows[two.version]["horizon_days"] == 2 and rows[champion.version]["horizon_days"] == 7


def test_champion_is_scored_on_the_challengers_holdout(seeded_engine, champion, store):
    import mlflow.xgboost
    import xgboost as xgb

    other = db_dataset(seeded_engine, horizon_days=7, step_hours=36)  # other rows, same label definition
    res = train_and_register(other, store=store, params=TINY)
    booster = mlflow.xgboost.load_model(f"models:/{tracking.MODEL_DB}/{champion.version}")
    X, y = other.X[other.hold], other.y[other.hold]
    p = booster.predict(xgb.DMatrix(X[booster.feature_names], feature_names=booster.feature_names))
    expected = binary_metrics(y, p, 0.5).pr_auc
    assert res.champion_holdout_pr_auc == pytest.approx(expected, rel=1e-9)
    assert len(y) != champion.rows["holdout"]  # really other rows than the champion's own holdout
    client = tracking.use_store(store)
    run = client.get_run(res.run_id)
    assert run.data.metrics["champion_holdout_pr_auc"] == pytest.approx(expected, rel=1e-9)
    assert "champion_holdout_f1" in run.data.metrics and "champion_holdout_brier" in run.data.metrics
    assert np.isfinite(res.holdout["pr_auc"])


def test_manual_promotion_of_a_worse_version_needs_force_and_history_is_kept(
        seeded_engine, seeded_url, ds7, champion, store, monkeypatch):
    from qhse.cli.root import cli

    from .actor_fixtures import act

    act(seeded_engine, "ds.force", "data_scientist")
    worse = train_and_register(ds7, store=store, params=TINY)
    assert worse.holdout["pr_auc"] < worse.champion_holdout_pr_auc - 0.02
    client = tracking.use_store(store)
    before = tracking.promotion_history(client, tracking.MODEL_DB)
    monkeypatch.setenv("QHSE_DATABASE_URL", seeded_url)
    monkeypatch.setenv("QHSE_MLFLOW_TRACKING_URI", store.tracking_uri)
    monkeypatch.setenv("QHSE_MLRUNS_DIR", str(store.artifact_root))
    runner = CliRunner()
    res = runner.invoke(cli, ["ml", "promote", worse.version, "--as", "ds.force", "--reason", "try it"])
    assert res.exit_code == 2 and "clearly worse" in res.output and "--force" in res.output, res.output
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == champion.version
    res = runner.invoke(cli, ["ml", "promote", worse.version, "--as", "ds.force", "--reason", "try it", "--force"])
    assert res.exit_code == 0, res.output
    assert "clearly worse" in res.output
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == worse.version
    with seeded_engine.connect() as conn:
        detail = conn.execute(sa.text("SELECT detail FROM audit_log WHERE action = 'promote_model' "
                                      "AND username = 'ds.force' ORDER BY id DESC LIMIT 1")).scalar_one()
    assert detail["forced"] is True and detail["previous"] == champion.version
    assert detail["champion_pr_auc"] > detail["candidate_pr_auc"]
    res = runner.invoke(cli, ["ml", "promote", champion.version, "--as", "ds.force", "--reason", "back"])
    assert res.exit_code == 0, res.output
    after = tracking.promotion_history(client, tracking.MODEL_DB)
    assert after[:len(before)] == before  # nothing rewritten
    assert [(e["version"], e["by"]) for e in after[len(before):]] == [(worse.version, "ds.force"),
                                                                        (champion.version, "ds.force")]
    assert after[-2]["forced"] is True and after[-1]["forced"] is False
    res = runner.invoke(cli, ["ml", "models"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "7 d" in res.output and "promotion history" in res.output
    assert "manual: back" in res.output
