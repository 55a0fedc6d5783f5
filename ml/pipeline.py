"""Entry points for the demo and the periodic worker.

``run_demo``: train on the platform's data, register, promote if better than the
champion, then score every active machine once.
``score_job``: the periodic scoring run (skips quietly when no champion exists yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from ml import tracking
from ml.scoring import ScoreResult, ScoringError, default_as_of, score_assets
from ml.train import TrainResult, train_db


@dataclass
class DemoResult:
    train: TrainResult | None
    score: ScoreResult | None
    lines: list[str]


def run_demo(
    engine: sa.Engine,
    *,
    horizon_days: int = 7,
    store: tracking.Store | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Train -> register -> promote if better -> score. Raises FeatureError/TrainingError
    when the data cannot support a model (the message says why)."""
    store = store or tracking.resolve_store()
    res = train_db(engine, horizon_days=horizon_days, store=store, progress=progress)
    lines = [
        f"trained {res.model_name} v{res.version}: holdout PR-AUC {res.holdout['pr_auc']:.3f}, "
        f"F1 {res.holdout['f1']:.3f} at threshold {res.threshold:.3f}",
        ("champion: " if res.promoted else "not promoted: ") + res.decision,
    ]
    if progress:
        progress("scoring active machines")
    sc = score_assets(engine, as_of=default_as_of(engine), store=store)
    lines.append(
        f"scored {sc.assets} machines as of {sc.as_of:%Y-%m-%d %H:%M} UTC with v{sc.version}: "
        + ", ".join(f"{b} {n}" for b, n in sc.by_band.items())
    )
    lines.append(f"MLflow: {_safe_uri(store.tracking_uri)} (artifacts in {store.artifact_root})")
    return DemoResult(res, sc, lines)


def score_job(engine: sa.Engine, *, as_of: dt.datetime | None = None, store: tracking.Store | None = None) -> str:
    """One periodic scoring run; returns a one-line summary for the job log."""
    try:
        sc = score_assets(engine, as_of=as_of or default_as_of(engine), store=store)
    except ScoringError as exc:
        return f"skipped: {exc}"
    return (f"scored {sc.assets} machines with {sc.model_name} v{sc.version}: "
            + ", ".join(f"{b} {n}" for b, n in sc.by_band.items()))


def _safe_uri(uri: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(uri).render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL (file:, http:, databricks)
        return uri
