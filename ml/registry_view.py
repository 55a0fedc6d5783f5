"""The model registry as the dashboard shows it, and the data scientist's actions on it.

Reads: versions of ``qhse-failure`` with their runs' metrics and parameters side by side,
and the champion.  Actions (retrain, score now) need the ``manage_models`` permission and are
written to the audit log; promotion is :mod:`ml.promotion`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from db.queries import audit
from ml import tracking
from qhse.domain import access
from qhse.domain.access import Scope

METRICS = ("holdout_pr_auc", "holdout_roc_auc", "holdout_f1", "holdout_precision", "holdout_recall", "val_pr_auc",
           "val_f1", "threshold")
PARAMS = ("source", "horizon_days", "n_trees", "alert_budget", "n_features", "rows_train", "rows_holdout",
          "rows_holdout_positives", "xgb_max_depth", "xgb_learning_rate")


def models_overview(engine: sa.Engine, scope: Scope, model_name: str = tracking.MODEL_DB,
                    store: tracking.Store | None = None) -> dict:
    """Versions (newest first) with metrics, parameters and registry tags; the champion version."""
    access.require(scope, access.VIEW_MODELS)
    client = tracking.use_store(store or tracking.resolve_store())
    versions = tracking.list_versions(client, model_name)
    rows = []
    for v in versions:
        row = {"version": int(v["version"]), "champion": v["champion"], "created": v["created"],
               "run_id": v["run_id"], "promoted_by": v["promoted_by"], "promotion_reason": v["promotion_reason"]}
        try:
            run = client.get_run(v["run_id"]) if v["run_id"] else None
        except Exception:  # noqa: BLE001 - a run removed from the store leaves the version readable
            run = None
        if run is not None:
            for m in METRICS:
                row[m] = run.data.metrics.get(m)
            for p in PARAMS:
                row[p] = run.data.params.get(p)
            row["run_name"] = run.info.run_name
            row["decision"] = run.data.tags.get("promotion_decision")
            row["trained_by"] = None
        rows.append(row)
    df = pd.DataFrame(rows)
    champ = next((r["version"] for r in rows if r["champion"]), None)
    return {"model": model_name, "versions": df, "champion": champ, "tracking_uri": client.tracking_uri}


def retrain(engine: sa.Engine, scope: Scope, *, horizon_days: int = 7, alert_rate: float = 0.10,
            store: tracking.Store | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Train a new version on the platform's data (promoted only if it beats the champion)."""
    from ml.train import train_db

    access.require(scope, access.MANAGE_MODELS)
    res = train_db(engine, horizon_days=horizon_days, alert_rate=alert_rate, store=store, progress=progress)
    with engine.begin() as conn:
        audit.record(conn, scope, "retrain_model", entity="model", entity_id=f"{res.model_name}:{res.version}",
                     detail={"promoted": res.promoted, "decision": res.decision,
                             "holdout_pr_auc": res.holdout.get("pr_auc")})
    return res.summary()


def score_now(engine: sa.Engine, scope: Scope, *, store: tracking.Store | None = None) -> dict:
    """Score every machine with the champion now (as the worker does periodically)."""
    from ml.scoring import default_as_of, score_assets

    access.require(scope, access.MANAGE_MODELS)
    res = score_assets(engine, as_of=default_as_of(engine), store=store)
    with engine.begin() as conn:
        audit.record(conn, scope, "score_assets", entity="model", entity_id=f"{res.model_name}:{res.version}",
                     detail={"assets": res.assets, "by_band": res.by_band})
    return {"model": res.model_name, "version": res.version, "assets": res.assets, "by_band": res.by_band,
            "as_of": res.as_of.isoformat() if isinstance(res.as_of, dt.datetime) else str(res.as_of)}


def monitoring_overview(engine: sa.Engine, scope: Scope, model_name: str = tracking.MODEL_DB) -> pd.DataFrame:
    """The latest monitoring run of ``model_name`` (ml.monitoring): outcome figures first, then drift
    per feature (largest PSI first), each with its limit and whether it crossed it."""
    from db.models.assets import ModelMonitor

    access.require(scope, access.VIEW_MODELS)
    t = ModelMonitor.__table__
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(t.c.checked_at)).where(t.c.model_name == model_name)).scalar()
        if last is None:
            return pd.DataFrame(columns=["kind", "model_version", "subject", "value", "threshold", "flagged"])
        rows = conn.execute(sa.select(t.c.checked_at, t.c.kind, t.c.model_version, t.c.subject, t.c.value,
                                      t.c.threshold, t.c.flagged)
                            .where(t.c.model_name == model_name, t.c.checked_at == last)
                            .order_by(t.c.kind.desc(), t.c.value.desc().nulls_last())).all()
    return pd.DataFrame([dict(r._mapping) for r in rows])
