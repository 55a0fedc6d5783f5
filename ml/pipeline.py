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


FINGERPRINT_TAG = "data_fingerprint"
DATA_UNTIL_TAG = "data_until"
# Readings streamed for less than this since a champion's training are not new data for the demo.
SAME_DATA_SLACK = dt.timedelta(days=1)


def _last_reading(engine: sa.Engine) -> dt.datetime | None:
    from ml import features

    with engine.connect() as conn:
        return features.reading_range(conn, features.machine_assets(conn)).last


def data_fingerprint(engine: sa.Engine, *, horizon_days: int = 7, step_hours: int = 12,
                     until: dt.datetime | None = None) -> str:
    """What a training on the platform's data up to ``until`` (default: the last reading) depends on:
    the feature code, the label horizon and snapshot step, the machines, the labelled snapshots (the
    grid from one feature window after the first reading to one horizon before ``until``), and the
    failures and maintenance recorded. Equal fingerprints: the same history with the same features."""
    import hashlib
    import inspect

    from ml import features

    with engine.connect() as conn:
        assets = features.machine_assets(conn)
        rng = features.reading_range(conn, assets)
        failures = conn.execute(sa.text("SELECT count(*), max(occurred_at) FROM failure_event")).one()
        maint = conn.execute(sa.text("SELECT count(*), max(started_at) FROM maintenance_event")).one()
    grid = "none"
    last = min(rng.last, until) if rng.last is not None and until is not None else rng.last
    if rng.first is not None and last is not None:
        start = rng.first + dt.timedelta(days=features.WINDOW_DAYS)
        t0 = start.replace(minute=0, second=0, microsecond=0)
        t0 += dt.timedelta(hours=1) if t0 < start else dt.timedelta(0)
        labelled_to = last - dt.timedelta(days=horizon_days)
        n = int((labelled_to - t0).total_seconds() // (3600 * step_hours)) + 1 if labelled_to >= t0 else 0
        grid = f"{t0.isoformat()}+{n}x{step_hours}h"
    parts = [
        hashlib.sha256(inspect.getsource(features).encode()).hexdigest(),
        f"horizon={horizon_days}", "assets=" + ",".join(map(str, assets)), f"labelled={grid}",
        f"failures={failures[0]}@{failures[1]}", f"maintenance={maint[0]}@{maint[1]}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _trained_on_the_same_data(engine: sa.Engine, champ, horizon_days: int, last: dt.datetime | None) -> bool:
    """Whether the champion was trained on this history with these features, and less than a day of
    readings has been streamed since (a second start of the demo)."""
    tags = (champ.tags or {}) if champ is not None else {}
    try:
        until = dt.datetime.fromisoformat(tags[DATA_UNTIL_TAG])
    except (KeyError, ValueError):
        return False
    if last is None or last - until >= SAME_DATA_SLACK:
        return False
    return tags.get(FINGERPRINT_TAG) == data_fingerprint(engine, horizon_days=horizon_days, until=until)


def run_demo(
    engine: sa.Engine,
    *,
    horizon_days: int = 7,
    store: tracking.Store | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Train -> register -> promote if better -> score. Raises FeatureError/TrainingError
    when the data cannot support a model (the message says why).

    Training is skipped when the champion was trained on the same data with the same features
    (see :func:`data_fingerprint`): a second start of the demo registers no identical version."""
    store = store or tracking.resolve_store()
    client = tracking.use_store(store)
    champ = tracking.champion_version(client, tracking.MODEL_DB)
    last = _last_reading(engine)
    res: TrainResult | None = None
    if _trained_on_the_same_data(engine, champ, horizon_days, last):
        lines = [f"training skipped: champion {champ.name} v{champ.version} was trained on the same data "
                 "with the same features (retrain by hand with 'qhse ml train')"]
    else:
        fingerprint = data_fingerprint(engine, horizon_days=horizon_days, until=last)
        res = train_db(engine, horizon_days=horizon_days, store=store, progress=progress)
        client = tracking.use_store(store)
        client.set_model_version_tag(res.model_name, res.version, FINGERPRINT_TAG, fingerprint)
        if last is not None:
            client.set_model_version_tag(res.model_name, res.version, DATA_UNTIL_TAG, last.isoformat())
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
