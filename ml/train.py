"""Training: time-based split, XGBoost, validation threshold, MLflow logging, registration,
and champion promotion when the new version beats the champion on the same holdout.

Sources:
- ``db``: point-in-time snapshots of every machine from the platform's own readings and
  failure records (``ml.features``), label = failure within ``horizon_days``; registered
  as ``qhse-failure``.
- ``ai4i``: the AI4I 2020 CSV in UDI order (``ml.ai4i``); registered as ``qhse-failure-ai4i``.

Class imbalance: no class weights or resampling. Both re-weight the log loss and push
every probability up, so the scores stop meaning "chance of failure". The model is fitted
on the true base rate and imbalance is handled where it matters, in the decision threshold,
chosen on validation data for F1 within an alert budget.

Calibration: the failure rate drifts over time (fleet ageing, maintenance), so probabilities
fitted on the training period run low or high later. Platt scaling of the booster's margin is
fitted on the calibration slice (the later half of the validation period, in time order, never
the holdout), saved with the version (tags ``calibration_a``/``calibration_b`` and
``calibration.json``) and applied by the scorer; the threshold is chosen on calibrated
probabilities. The holdout's mean probability, Brier score and expected calibration error are
logged before and after, with a reliability curve (``reliability.png``).

Comparison: a new version is compared with the champion only when both predict the same label
(horizon); the champion is then scored on the new version's holdout rows and labels.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ml import tracking
from ml.modeling import (
    DEFAULT_PARAMS,
    BinaryMetrics,
    Calibration,
    binary_metrics,
    budget_threshold,
    expected_calibration_error,
    f1_threshold,
    fit_classifier,
    fit_platt,
    make_classifier,
    precision_at_k,
    reliability,
    shap_contributions,
)

# The db model: a little more regularised than the default (hundreds of positives, many
# correlated snapshots per failure); the number of trees is set by early stopping on
# validation. A learning rate of 0.1 keeps the ensemble small (tens of trees), which keeps
# exact SHAP for a whole fleet fast; 0.05 scored no better on validation.
DB_PARAMS: dict = {
    "n_estimators": 300,
    "max_depth": 3,
    "learning_rate": 0.1,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
}
EARLY_STOPPING_ROUNDS = 50
# Calibration slice: the later part of the validation period (rows are in time order), the
# nearest to the holdout in time and never part of it; Platt scaling is fitted there.
CALIBRATION_FRACTION = 0.5
DEFAULT_ALERT_RATE = 0.10
SHAP_SAMPLE = 2000

ProgressFn = Callable[[str], None]


class TrainingError(RuntimeError):
    """Training cannot go on (too little data, one class only); the message says why."""


@dataclass
class Dataset:
    X: pd.DataFrame
    y: np.ndarray
    train: np.ndarray
    val: np.ndarray
    hold: np.ndarray
    source: str
    model_name: str
    horizon_days: int | None
    params: dict  # extra run parameters (split dates, sizes, ...)
    feature_docs: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        for name, m in (("train", self.train), ("validation", self.val), ("holdout", self.hold)):
            n, pos = int(m.sum()), int(self.y[m].sum())
            if n == 0:
                raise TrainingError(f"the {name} part is empty")
            if pos == 0:
                raise TrainingError(f"the {name} part holds no failures; more history is needed")
            if pos == n:
                raise TrainingError(f"the {name} part holds only failures")


@dataclass
class TrainResult:
    model_name: str
    version: str
    run_id: str
    experiment_id: str
    threshold: float
    holdout: dict[str, float]
    validation: dict[str, float]
    promoted: bool
    decision: str
    previous_champion: str | None
    champion_holdout_pr_auc: float | None
    rows: dict[str, int]
    seconds: dict[str, float]
    features: list[str]

    def summary(self) -> dict:
        return {
            "model": self.model_name,
            "version": self.version,
            "run_id": self.run_id,
            "threshold": self.threshold,
            "holdout": self.holdout,
            "promoted": self.promoted,
            "decision": self.decision,
            "rows": self.rows,
            "seconds": self.seconds,
        }


# --------------------------------------------------------------------------- datasets
def db_dataset(
    engine: sa.Engine, *, horizon_days: int = 7, step_hours: int = 12, progress: ProgressFn | None = None
) -> Dataset:
    from ml.features import FEATURES, feature_matrix, time_split, training_snapshots

    if horizon_days < 1:
        raise TrainingError("horizon must be at least 1 day")
    td = training_snapshots(engine, horizon_days=horizon_days, step_hours=step_hours)
    df = td.frame
    if df.empty:
        raise TrainingError("no snapshots with a known outcome; more history is needed")
    train, val, hold = time_split(df["t"], horizon_days=horizon_days)

    def span(m):
        t = df.loc[m, "t"]
        return f"{t.min():%Y-%m-%d}..{t.max():%Y-%m-%d}" if len(t) else "-"

    return Dataset(
        X=feature_matrix(df, FEATURES),
        y=df["label"].to_numpy().astype(int),
        train=train,
        val=val,
        hold=hold,
        source="db",
        model_name=tracking.MODEL_DB,
        horizon_days=horizon_days,
        params={
            "step_hours": step_hours,
            "split_gap_days": horizon_days,
            "train_period": span(train),
            "validation_period": span(val),
            "holdout_period": span(hold),
            "censored_snapshots": td.censored,
            "data_end": td.data_end.isoformat(),
            "assets": int(df["asset_id"].nunique()),
        },
    )


def ai4i_dataset(path: str | Path) -> Dataset:
    """UDI order as time: first 60 % train, next 20 % validation, last 20 % holdout (the
    same rows as the benchmark's time-ordered test). Labels describe the row itself, so no
    gap is needed."""
    from ml.ai4i import features, labels, load_ai4i

    df = load_ai4i(path)
    X, y = features(df), labels(df)
    n = len(df)
    c1, c2 = int(round(n * 0.6)), int(round(n * 0.8))
    idx = np.arange(n)
    return Dataset(
        X=X,
        y=y,
        train=idx < c1,
        val=(idx >= c1) & (idx < c2),
        hold=idx >= c2,
        source="ai4i",
        model_name=tracking.MODEL_AI4I,
        horizon_days=None,
        params={"file": str(Path(path).name), "split": "UDI order 60/20/20", "rows": n},
    )


# --------------------------------------------------------------------------- training
def _fit(ds: Dataset, params: dict) -> tuple[object, int]:
    """Fit on train with early stopping on validation, then refit with the best number of
    trees so every consumer (predict, pred_contribs, pyfunc) sees the same model."""
    Xtr, ytr, Xva, yva = ds.X[ds.train], ds.y[ds.train], ds.X[ds.val], ds.y[ds.val]
    probe = make_classifier({**params, "early_stopping_rounds": EARLY_STOPPING_ROUNDS})
    probe.fit(Xtr, ytr, eval_set=[(Xva, yva)], verbose=False)
    n_trees = int(getattr(probe, "best_iteration", params.get("n_estimators", 100) - 1)) + 1
    model = fit_classifier(Xtr, ytr, {**params, "n_estimators": n_trees})
    return model, n_trees


def _proba(booster, X: pd.DataFrame) -> np.ndarray:
    import xgboost as xgb

    return booster.predict(xgb.DMatrix(X, feature_names=list(X.columns)), validate_features=False)


def _margin(booster, X: pd.DataFrame) -> np.ndarray:
    import xgboost as xgb

    return booster.predict(xgb.DMatrix(X, feature_names=list(X.columns)), output_margin=True,
                           validate_features=False)


def calibration_slice(n_val: int, fraction: float = CALIBRATION_FRACTION) -> np.ndarray:
    """Mask over the validation rows (time order) of the calibration slice: the last ``fraction``."""
    idx = np.arange(n_val)
    return idx >= int(round(n_val * (1.0 - fraction)))


def _metrics_dict(m: BinaryMetrics, y: np.ndarray, p: np.ndarray, prefix: str) -> dict[str, float]:
    out = {
        f"{prefix}_pr_auc": m.pr_auc,
        f"{prefix}_roc_auc": m.roc_auc,
        f"{prefix}_f1": m.f1,
        f"{prefix}_precision": m.precision,
        f"{prefix}_recall": m.recall,
        f"{prefix}_alert_rate": float((p >= m.threshold).mean()),
        f"{prefix}_base_rate": float(np.mean(y)),
        f"{prefix}_mean_probability": float(np.mean(p)),
        f"{prefix}_brier": float(np.mean((p - y) ** 2)),
        f"{prefix}_precision_at_10": precision_at_k(y, p, 10),
        f"{prefix}_precision_at_50": precision_at_k(y, p, 50),
        f"{prefix}_precision_at_npos": precision_at_k(y, p, max(1, int(np.sum(y)))),
    }
    return {k: float(v) for k, v in out.items() if v == v}  # drop NaN


def choose_threshold(y_val: np.ndarray, p_val: np.ndarray, alert_rate: float) -> float:
    """Best F1 on validation, raised if needed so at most ``alert_rate`` of validation
    snapshots would raise an alert."""
    return max(f1_threshold(y_val, p_val), budget_threshold(p_val, alert_rate))


def _shap_figure(booster, X: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    sample = X.sample(min(SHAP_SAMPLE, len(X)), random_state=0) if len(X) > SHAP_SAMPLE else X
    contribs, _ = shap_contributions(booster, sample)
    plt.close("all")
    shap.summary_plot(contribs, sample, show=False, max_display=20)
    fig = plt.gcf()
    fig.suptitle("SHAP values (log-odds) on the holdout", fontsize=10)
    fig.tight_layout()
    return fig


def label_of(horizon_days: int | None) -> str:
    """What a model predicts: part of its identity, with the horizon (a version tag)."""
    return f"any failure within {horizon_days} days" if horizon_days else "failure recorded on the row"


def horizon_mismatch(champion_tags: dict, horizon_days: int | None) -> str | None:
    """Why a version trained for ``horizon_days`` cannot be compared with the champion, or None."""
    theirs = tracking.version_horizon(champion_tags)
    if theirs == (horizon_days or None):
        return None
    return (f"it predicts {label_of(horizon_days)}, the champion {label_of(theirs)}: a different horizon "
            "is a different model, never a challenger")


def score_version(model_name: str, mv, X: pd.DataFrame, y: np.ndarray) -> tuple[dict | None, str]:
    """Figures of registered version ``mv`` on rows ``X`` with labels ``y`` (its own threshold and
    calibration), or (None, why not)."""
    import mlflow.xgboost

    try:
        booster = mlflow.xgboost.load_model(f"models:/{model_name}/{mv.version}")
    except Exception as exc:  # a damaged or unreachable artifact must not block training
        return None, f"v{mv.version} could not be loaded ({type(exc).__name__}: {exc})"
    names = list(getattr(booster, "feature_names", None) or [])
    missing = [n for n in names if n not in X.columns]
    if not names or missing:
        return None, f"v{mv.version} uses features this data lacks ({', '.join(missing[:5])})"
    tags = mv.tags or {}
    p = Calibration.from_tags(tags).proba(_margin(booster, X[names]))
    try:
        thr = float(tags.get("threshold") or 0.5)
    except ValueError:
        thr = 0.5
    m = binary_metrics(y, p, thr)
    return {"pr_auc": m.pr_auc, "f1": m.f1, "precision": m.precision, "recall": m.recall,
            "brier": float(np.mean((p - y) ** 2)), "mean_probability": float(np.mean(p))}, "scored"


def _reliability_figure(y: np.ndarray, p: np.ndarray, p_raw: np.ndarray):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    for probs, name in ((p_raw, "booster"), (p, "calibrated")):
        r = reliability(y, probs)
        ax.plot(r["predicted"], r["observed"], marker="o", label=name)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed failure rate")
    ax.set_title("Reliability on the holdout", fontsize=10)
    ax.legend()
    fig.tight_layout()
    return fig


def _champion_score(client, model_name: str, X: pd.DataFrame, y: np.ndarray,
                    horizon_days: int | None) -> tuple[object, dict | None, str]:
    """(champion ModelVersion or None, its figures on the challenger's holdout rows and labels, note)."""
    champ = tracking.champion_version(client, model_name)
    if champ is None:
        return None, None, "no champion yet"
    why = horizon_mismatch(champ.tags or {}, horizon_days)
    if why:
        return champ, None, why
    scores, note = score_version(model_name, champ, X, y)
    if scores is None:
        return champ, None, f"champion {note}"
    return champ, scores, "compared on the same holdout"


def train_and_register(
    ds: Dataset,
    *,
    params: dict | None = None,
    alert_rate: float = DEFAULT_ALERT_RATE,
    store: tracking.Store | None = None,
    progress: ProgressFn | None = None,
    run_name: str | None = None,
) -> TrainResult:
    import mlflow
    import mlflow.xgboost
    from mlflow.models import infer_signature

    say = progress or (lambda _msg: None)
    ds.check()
    if not 0 < alert_rate < 1:
        raise TrainingError("alert budget must be a fraction between 0 and 1")
    base = DB_PARAMS if ds.source == "db" else _ai4i_params()
    params = {**DEFAULT_PARAMS, **base, **(params or {})}
    secs: dict[str, float] = {}

    say("fitting XGBoost")
    t0 = time.perf_counter()
    model, n_trees = _fit(ds, params)
    booster = model.get_booster()
    secs["fit"] = time.perf_counter() - t0

    Xva, yva, Xho, yho = ds.X[ds.val], ds.y[ds.val], ds.X[ds.hold], ds.y[ds.hold]
    raw_val, raw_hold = _margin(booster, Xva), _margin(booster, Xho)
    cal_rows = calibration_slice(len(yva))
    cal = fit_platt(raw_val[cal_rows], yva[cal_rows])
    p_val, p_hold = cal.proba(raw_val), cal.proba(raw_hold)
    p_hold_raw = Calibration().proba(raw_hold)
    thr = choose_threshold(yva, p_val, alert_rate)
    m_val = binary_metrics(yva, p_val, thr)
    m_hold = binary_metrics(yho, p_hold, thr)

    say("connecting to MLflow")
    store = store or tracking.resolve_store()
    client = tracking.use_store(store)
    exp_id = tracking.ensure_experiment(client, store, ds.model_name)

    say("scoring the champion on the same holdout")
    champ, champ_scores, champ_note = _champion_score(client, ds.model_name, Xho, yho, ds.horizon_days)
    champ_pr_auc = champ_scores["pr_auc"] if champ_scores else None

    say("logging run, SHAP summary and model")
    t0 = time.perf_counter()
    features = list(ds.X.columns)
    rows = {
        "train": int(ds.train.sum()),
        "validation": int(ds.val.sum()),
        "holdout": int(ds.hold.sum()),
        "train_positives": int(ds.y[ds.train].sum()),
        "validation_positives": int(yva.sum()),
        "holdout_positives": int(yho.sum()),
    }
    run_name = run_name or f"{ds.source}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.log_params({f"xgb_{k}": v for k, v in params.items() if k not in ("n_jobs",)})
        mlflow.log_params(
            {
                "source": ds.source,
                "horizon_days": ds.horizon_days if ds.horizon_days is not None else "same row",
                "label": label_of(ds.horizon_days),
                "n_trees": n_trees,
                "alert_budget": alert_rate,
                "threshold_rule": "max F1 on validation, raised to keep alerts within the budget",
                "class_weighting": "none (probabilities kept calibrated)",
                "n_features": len(features),
                **{f"rows_{k}": v for k, v in rows.items()},
                **ds.params,
            }
        )
        metrics = {"threshold": thr, **_metrics_dict(m_val, yva, p_val, "val"),
                   **_metrics_dict(m_hold, yho, p_hold, "holdout")}
        metrics.update({
            "holdout_ece": expected_calibration_error(yho, p_hold),
            "holdout_mean_probability_uncalibrated": float(np.mean(p_hold_raw)),
            "holdout_brier_uncalibrated": float(np.mean((p_hold_raw - yho) ** 2)),
            "holdout_ece_uncalibrated": expected_calibration_error(yho, p_hold_raw),
            "calibration_a": cal.a, "calibration_b": cal.b,
        })
        if champ_scores is not None:
            metrics.update({f"champion_holdout_{k}": v for k, v in champ_scores.items() if v == v})
        mlflow.log_dict({"features": features, "descriptions": ds.feature_docs}, "features.json")
        from ml.monitoring import REFERENCE_ARTIFACT, feature_reference

        mlflow.log_dict(feature_reference(ds.X[ds.train]), REFERENCE_ARTIFACT)  # drift reference
        mlflow.log_dict({"method": cal.method, "a": cal.a, "b": cal.b,
                         "fitted_on": f"last {CALIBRATION_FRACTION:.0%} of the validation period "
                                      f"({int(cal_rows.sum())} rows, {int(yva[cal_rows].sum())} failures)",
                         "formula": "p = 1 / (1 + exp(-(a * margin + b)))"}, "calibration.json")
        rel = reliability(yho, p_hold)
        mlflow.log_dict({"holdout": rel.to_dict(orient="records"),
                         "holdout_uncalibrated": reliability(yho, p_hold_raw).to_dict(orient="records")},
                        "reliability.json")
        rfig = _reliability_figure(yho, p_hold, p_hold_raw)
        mlflow.log_figure(rfig, "reliability.png")
        import matplotlib.pyplot as plt

        plt.close(rfig)
        fig = _shap_figure(booster, Xho if len(Xho) else ds.X[ds.train])
        mlflow.log_figure(fig, "shap_summary.png")
        import matplotlib.pyplot as plt

        plt.close(fig)
        example = _input_example(ds.X[ds.train])
        signature = infer_signature(example, _proba(booster, example))
        info = mlflow.xgboost.log_model(
            booster,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=ds.model_name,
            model_format="ubj",
        )
        # After the model, linked to it: logged before, MLflow copies the run's metrics onto the logged
        # model by inserting them again, which breaks their primary key inside psycopg's pipeline
        # ("error ignored terminating ... pipeline aborted" on every first training).
        mlflow.log_metrics(metrics, model_id=info.model_id)
        run_id = run.info.run_id
    secs["log"] = time.perf_counter() - t0
    version = str(info.registered_model_version)

    tags = {
        "source": ds.source,
        "threshold": f"{thr:.6f}",
        "horizon_days": str(ds.horizon_days or 0),
        "label": label_of(ds.horizon_days),
        "holdout_period": str(ds.params.get("holdout_period") or ds.params.get("split") or ""),
        "train_period": str(ds.params.get("train_period") or ds.params.get("split") or ""),
        "holdout_pr_auc": f"{m_hold.pr_auc:.6f}",
        "holdout_f1": f"{m_hold.f1:.6f}",
        "holdout_rows": str(rows["holdout"]),
        "holdout_brier": f"{float(np.mean((p_hold - yho) ** 2)):.6f}",
        "features": ",".join(features),
        "trained_by": tracking.current_user(),
        **cal.tags(),
    }
    for k, v in tags.items():
        client.set_model_version_tag(ds.model_name, version, k, v)

    if champ is not None and champ_scores is not None:
        client.set_model_version_tag(ds.model_name, version, "compared_with", str(champ.version))
        client.set_model_version_tag(ds.model_name, version, "champion_holdout_pr_auc", f"{champ_pr_auc:.6f}")
    if champ is None:
        promoted, decision = True, "first version: champion"
    elif champ_pr_auc is None:
        force = " --force" if "horizon" in champ_note else ""
        promoted, decision = False, (f"kept champion v{champ.version}: {champ_note}; "
                                     f"use 'qhse ml promote {version} --as USERNAME --reason TEXT{force}'")
    elif m_hold.pr_auc > champ_pr_auc:
        promoted = True
        decision = (f"beat champion v{champ.version} on the same holdout: "
                    f"PR-AUC {m_hold.pr_auc:.4f} > {champ_pr_auc:.4f}")
    else:
        promoted = False
        decision = (f"kept champion v{champ.version}: PR-AUC {m_hold.pr_auc:.4f} <= {champ_pr_auc:.4f} "
                    "on the same holdout")
    if promoted:
        tracking.promote(client, ds.model_name, version, by=tracking.current_user(), reason=f"automatic: {decision}",
                         detail={"pr_auc": m_hold.pr_auc, "previous_pr_auc": champ_pr_auc,
                                 "holdout_period": ds.params.get("holdout_period"),
                                 "horizon_days": ds.horizon_days})
    else:
        client.set_model_version_tag(ds.model_name, version, "not_promoted", decision)
    client.set_tag(run_id, "promotion_decision", decision)

    return TrainResult(
        model_name=ds.model_name,
        version=version,
        run_id=run_id,
        experiment_id=exp_id,
        threshold=thr,
        holdout=m_hold.core() | {"roc_auc": m_hold.roc_auc,
                                 "precision_at_npos": precision_at_k(yho, p_hold, max(1, int(yho.sum()))),
                                 "base_rate": float(np.mean(yho)), "mean_probability": float(np.mean(p_hold)),
                                 "mean_probability_uncalibrated": float(np.mean(p_hold_raw)),
                                 "brier": float(np.mean((p_hold - yho) ** 2)),
                                 "ece": expected_calibration_error(yho, p_hold)},
        validation=m_val.core(),
        promoted=promoted,
        decision=decision,
        previous_champion=str(champ.version) if champ is not None else None,
        champion_holdout_pr_auc=champ_pr_auc,
        rows=rows,
        seconds=secs,
        features=features,
    )


def _ai4i_params() -> dict:
    from ml.ai4i import AI4I_PARAMS

    return dict(AI4I_PARAMS)


def _input_example(X: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """A few complete training rows (no missing values) as the logged input example."""
    full = X.dropna()
    return (full if len(full) >= n else X.fillna(0.0)).head(n).reset_index(drop=True)


def train_db(
    engine: sa.Engine,
    *,
    horizon_days: int = 7,
    step_hours: int = 12,
    alert_rate: float = DEFAULT_ALERT_RATE,
    params: dict | None = None,
    store: tracking.Store | None = None,
    progress: ProgressFn | None = None,
) -> TrainResult:
    say = progress or (lambda _msg: None)
    say("building point-in-time features in PostgreSQL")
    t0 = time.perf_counter()
    ds = db_dataset(engine, horizon_days=horizon_days, step_hours=step_hours)
    feat_s = time.perf_counter() - t0
    res = train_and_register(ds, params=params, alert_rate=alert_rate, store=store, progress=progress)
    res.seconds["features"] = feat_s
    return res


def train_ai4i(
    path: str | Path,
    *,
    alert_rate: float = DEFAULT_ALERT_RATE,
    params: dict | None = None,
    store: tracking.Store | None = None,
    progress: ProgressFn | None = None,
) -> TrainResult:
    say = progress or (lambda _msg: None)
    say("reading AI4I CSV")
    t0 = time.perf_counter()
    ds = ai4i_dataset(path)
    feat_s = time.perf_counter() - t0
    res = train_and_register(ds, params=params, alert_rate=alert_rate, store=store, progress=progress)
    res.seconds["features"] = feat_s
    return res


def result_json(res: TrainResult) -> str:
    return json.dumps(res.summary(), default=str, indent=2)
