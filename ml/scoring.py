"""Batch scoring: every active machine, with the champion model and exact SHAP reasons.

The scorer always loads ``models:/qhse-failure@champion``; the decision threshold and the
horizon come from the champion version's tags, so a promotion changes what the
dashboard shows at the next scoring run and nothing else has to be redeployed.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ml import tracking
from ml.modeling import Calibration, shap_contributions, top_contributions_batch
from qhse.vocab import RiskBand, values

RISK_BANDS = values(RiskBand)
TOP_REASONS = 5


class ScoringError(RuntimeError):
    """Scoring cannot run (no champion model, unreadable model); the message says why."""


def risk_band(probability: float, threshold: float) -> str:
    """Risk band of a failure probability relative to the model's alert threshold τ.

    critical: p >= τ + (1 - τ) / 2   (well past the alert line)
    high:     p >= τ                 (raises an alert)
    medium:   p >= τ / 2             (watch)
    low:      otherwise
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be between 0 and 1")
    p = float(probability)
    if p >= threshold + (1.0 - threshold) / 2.0:
        return RiskBand.CRITICAL.value
    if p >= threshold:
        return RiskBand.HIGH.value
    if p >= threshold / 2.0:
        return RiskBand.MEDIUM.value
    return RiskBand.LOW.value


@dataclass
class Champion:
    model_name: str
    version: str
    booster: object
    features: list[str]
    threshold: float
    horizon_days: int
    calibration: Calibration = Calibration()


def load_champion(model_name: str = tracking.MODEL_DB, store: tracking.Store | None = None) -> Champion:
    import mlflow.xgboost

    store = store or tracking.resolve_store()
    client = tracking.use_store(store)
    mv = tracking.champion_version(client, model_name)
    if mv is None:
        raise ScoringError(f"no champion for {model_name}: run 'qhse ml train' first "
                           "(or 'qhse ml promote VERSION --as USERNAME --reason TEXT')")
    try:
        booster = mlflow.xgboost.load_model(tracking.champion_uri(model_name))
    except Exception as exc:  # MLflow raises many kinds; all mean the same to the operator
        raise ScoringError(f"cannot load {tracking.champion_uri(model_name)}: {exc}") from None
    tags = mv.tags or {}
    try:
        threshold = float(tags["threshold"])
    except (KeyError, ValueError):
        threshold = 0.5
    try:
        horizon = int(tags.get("horizon_days") or 7) or 7
    except ValueError:
        horizon = 7
    features = list(booster.feature_names or [])
    if not features:
        raise ScoringError(f"{model_name} v{mv.version} has no feature names")
    return Champion(model_name, str(mv.version), booster, features, threshold, horizon, Calibration.from_tags(tags))


def explain(champion: Champion, X: pd.DataFrame, top_k: int = TOP_REASONS):
    """(calibrated probabilities, bias, list of top contributions per row) for feature rows ``X``.

    Contributions and bias are in the calibrated log-odds (Platt scaling is linear in the margin),
    so bias + contributions still add up to the logit of the probability stored."""
    X = X[champion.features].astype(float)
    contribs, bias = shap_contributions(champion.booster, X)
    cal = champion.calibration
    contribs, bias = contribs * cal.a, cal.margin(bias)
    margin = contribs.sum(axis=1) + bias
    prob = 1.0 / (1.0 + np.exp(-margin))
    reasons = top_contributions_batch(champion.features, X.to_numpy(), contribs, top_k)
    return prob, bias, reasons


@dataclass
class ScoreResult:
    model_name: str
    version: str
    as_of: dt.datetime
    assets: int
    by_band: dict[str, int]
    seconds_features: float
    seconds_model: float
    seconds_write: float
    rows: list[dict]


def score_assets(
    engine: sa.Engine,
    *,
    as_of: dt.datetime | None = None,
    model_name: str = tracking.MODEL_DB,
    store: tracking.Store | None = None,
    top_k: int = TOP_REASONS,
    write: bool = True,
) -> ScoreResult:
    """Score every active machine at ``as_of`` (default: now) and store the predictions."""
    from db.models import FailurePrediction
    from ml.features import scoring_snapshots

    champion = load_champion(model_name, store)
    as_of = as_of or dt.datetime.now(dt.UTC)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=dt.UTC)
    t0 = time.perf_counter()
    snaps = scoring_snapshots(engine, as_of, horizon_days=champion.horizon_days)
    t1 = time.perf_counter()
    rows: list[dict] = []
    if not snaps.empty:
        prob, bias, reasons = explain(champion, snaps, top_k)
        t2 = time.perf_counter()
        for i, asset_id in enumerate(snaps["asset_id"].astype(int)):
            rows.append(
                {
                    "asset_id": asset_id,
                    "scored_at": as_of,
                    "horizon_days": champion.horizon_days,
                    "probability": float(prob[i]),
                    "risk_band": risk_band(prob[i], champion.threshold),
                    "model_name": champion.model_name,
                    "model_version": champion.version,
                    "threshold": champion.threshold,
                    "base_value": float(bias[i]),
                    "contributions": reasons[i],
                }
            )
    else:
        t2 = t1
    if write and rows:
        tbl = FailurePrediction.__table__
        with engine.begin() as conn:
            # Idempotent: scoring the same time again with the same model replaces its rows.
            conn.execute(
                sa.delete(tbl).where(
                    tbl.c.scored_at == as_of,
                    tbl.c.model_name == champion.model_name,
                    tbl.c.model_version == champion.version,
                    tbl.c.asset_id.in_([r["asset_id"] for r in rows]),
                )
            )
            conn.execute(sa.insert(tbl), rows)
    t3 = time.perf_counter()
    by_band = {b: sum(1 for r in rows if r["risk_band"] == b) for b in RISK_BANDS}
    return ScoreResult(champion.model_name, champion.version, as_of, len(rows), by_band, t1 - t0, t2 - t1, t3 - t2,
                       rows)


def default_as_of(engine: sa.Engine) -> dt.datetime:
    """Now, or the hour after the newest machine reading when the data stops earlier
    (demo data, a stopped feed), so the feature windows are not empty."""
    from ml.features import latest_reading

    now = dt.datetime.now(dt.UTC)
    last = latest_reading(engine)
    if last is None or last >= now:
        return now
    return min(now, last.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1))
