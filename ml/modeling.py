"""Model building blocks shared by every training source: the XGBoost classifier,
out-of-fold predictions, threshold choice, metrics and exact SHAP contributions.

Everything here is plain numpy / pandas / XGBoost; nothing touches the database or MLflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold

# Shallow trees: every failure mechanism we model is a threshold on one physical
# quantity or an AND of two (heat dissipation: low temperature difference AND low speed),
# so depth 3 is enough and generalises better than deep trees on a few hundred positives.
DEFAULT_PARAMS: dict = {
    "n_estimators": 400,
    "max_depth": 3,
    "learning_rate": 0.05,
    "min_child_weight": 1.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    "max_bin": 256,
    "objective": "binary:logistic",
    "eval_metric": "aucpr",
    "n_jobs": 1,  # small training sets: one thread avoids OpenMP spin contention on shared cores
    "random_state": 0,
}

THRESHOLD_GRID = np.round(np.arange(0.02, 0.981, 0.01), 2)


def make_classifier(params: dict | None = None) -> xgb.XGBClassifier:
    p = dict(DEFAULT_PARAMS)
    if params:
        p.update(params)
    return xgb.XGBClassifier(**p)


def fit_classifier(
    X: pd.DataFrame, y: np.ndarray, params: dict | None = None, sample_weight: np.ndarray | None = None
) -> xgb.XGBClassifier:
    model = make_classifier(params)
    model.fit(X, y, sample_weight=sample_weight, verbose=False)
    return model


def predict_proba(model: xgb.XGBClassifier, X: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


def oof_predictions(
    X: pd.DataFrame,
    y: np.ndarray,
    params: dict | None = None,
    folds: int = 5,
    seed: int = 1,
    on_fold: Callable[[], None] | None = None,
) -> np.ndarray:
    """Out-of-fold probabilities on (X, y) from stratified k-fold; used to pick thresholds
    on training data only."""
    y = np.asarray(y)
    n_pos = int(y.sum())
    k = max(2, min(folds, n_pos, len(y) - n_pos))
    oof = np.zeros(len(y), dtype=float)
    for tr, va in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
        m = fit_classifier(X.iloc[tr], y[tr], params)
        oof[va] = predict_proba(m, X.iloc[va])
        if on_fold:
            on_fold()
    return oof


def f1_threshold(y: np.ndarray, p: np.ndarray, grid: Iterable[float] = THRESHOLD_GRID) -> float:
    """The threshold maximising F1 on (y, p); the middle of the best plateau when several tie."""
    grid = np.asarray(list(grid), dtype=float)
    y = np.asarray(y).astype(int)
    scores = np.array([f1_score(y, p >= t, zero_division=0) for t in grid])
    best = scores.max()
    ties = grid[np.isclose(scores, best, rtol=0, atol=1e-12)]
    return float(ties[len(ties) // 2])


def budget_threshold(p: np.ndarray, alert_rate: float) -> float:
    """The threshold that raises alerts for about ``alert_rate`` of the rows scored
    (an alert budget), taken from validation probabilities."""
    if not 0 < alert_rate < 1:
        raise ValueError("alert_rate must be between 0 and 1")
    p = np.sort(np.asarray(p, dtype=float))[::-1]
    k = max(1, int(round(alert_rate * len(p))))
    return float(p[min(k, len(p)) - 1])


def precision_at_k(y: np.ndarray, p: np.ndarray, k: int) -> float:
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    k = max(1, min(int(k), len(y)))
    top = np.argsort(-np.asarray(p), kind="stable")[:k]
    return float(y[top].mean())


@dataclass(frozen=True)
class BinaryMetrics:
    f1: float
    pr_auc: float
    precision: float
    recall: float
    roc_auc: float
    threshold: float
    positives: int
    rows: int

    def core(self) -> dict[str, float]:
        return {"f1": self.f1, "pr_auc": self.pr_auc, "precision": self.precision, "recall": self.recall}


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> BinaryMetrics:
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    pred = p >= threshold
    both = 0 < y.sum() < len(y)
    return BinaryMetrics(
        f1=float(f1_score(y, pred, zero_division=0)),
        pr_auc=float(average_precision_score(y, p)) if y.sum() > 0 else float("nan"),
        precision=float(precision_score(y, pred, zero_division=0)),
        recall=float(recall_score(y, pred, zero_division=0)),
        roc_auc=float(roc_auc_score(y, p)) if both else float("nan"),
        threshold=float(threshold),
        positives=int(y.sum()),
        rows=int(len(y)),
    )


def shap_contributions(booster: xgb.Booster, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Exact TreeSHAP contributions from XGBoost (``pred_contribs``).

    Returns (contributions [n_rows, n_features], bias [n_rows]); per row,
    contributions.sum() + bias equals the model's margin (log-odds).
    """
    dm = xgb.DMatrix(X, feature_names=list(X.columns))
    out = booster.predict(dm, pred_contribs=True, validate_features=False)
    return out[:, :-1], out[:, -1]


def top_contributions(
    names: list[str], values: np.ndarray, contribs: np.ndarray, k: int = 5
) -> list[dict]:
    """The ``k`` largest |contribution| entries of one row as JSON-ready dicts."""
    order = np.argsort(-np.abs(contribs), kind="stable")[:k]
    return [
        {"feature": names[i], "value": _num(values[i]), "contribution": round(float(contribs[i]), 6)}
        for i in order
    ]


def top_contributions_batch(
    names: list[str], values: np.ndarray, contribs: np.ndarray, k: int = 5
) -> list[list[dict]]:
    """``top_contributions`` for every row at once (vectorised ordering)."""
    n, f = contribs.shape
    k = min(k, f)
    if n == 0 or k == 0:
        return [[] for _ in range(n)]
    idx = np.argsort(-np.abs(contribs), axis=1, kind="stable")[:, :k]
    rows = np.arange(n)[:, None]
    top_c = np.round(contribs[rows, idx].astype(float), 6).tolist()
    top_v = values[rows, idx].astype(float)
    top_v = np.where(np.isnan(top_v), np.nan, np.round(top_v, 6)).tolist()
    top_i = idx.tolist()
    return [
        [
            {"feature": names[i], "value": (None if v != v else v), "contribution": c}
            for i, v, c in zip(ti, tv, tc, strict=True)
        ]
        for ti, tv, tc in zip(top_i, top_v, top_c, strict=True)
    ]


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else round(f, 6)


# --------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the model's margin: p = sigmoid(a * margin + b).

    Monotonic (a > 0), so rankings, PR-AUC and ROC-AUC are the booster's own, and exact SHAP stays
    exact in the calibrated log-odds: contributions scale by ``a``, the bias becomes a * bias + b.
    """

    a: float = 1.0
    b: float = 0.0
    method: str = "none"

    def margin(self, raw_margin: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(raw_margin, dtype=float) + self.b

    def proba(self, raw_margin: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.margin(raw_margin)))

    def tags(self) -> dict[str, str]:
        return {"calibration": self.method, "calibration_a": f"{self.a:.9g}", "calibration_b": f"{self.b:.9g}"}

    @classmethod
    def from_tags(cls, tags: dict) -> Calibration:
        try:
            return cls(float(tags["calibration_a"]), float(tags["calibration_b"]), tags.get("calibration", "platt"))
        except (KeyError, TypeError, ValueError):
            return cls()


def fit_platt(raw_margin: np.ndarray, y: np.ndarray) -> Calibration:
    """Maximum-likelihood Platt scaling (logistic regression of y on the margin, no penalty).

    With its intercept, the mean calibrated probability on the fitting rows equals their failure
    rate. Falls back to no calibration when one class is missing or the fitted slope is not positive.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y).astype(int)
    m = np.asarray(raw_margin, dtype=float).reshape(-1, 1)
    if len(y) == 0 or y.min() == y.max():
        return Calibration()
    lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000).fit(m, y)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if not a > 0 or not np.isfinite(a) or not np.isfinite(b):
        return Calibration()
    return Calibration(a, b, "platt")


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability table: per probability bin (equal width), rows, mean predicted and observed rate."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    df = pd.DataFrame({"bin": idx, "p": p, "y": y}).groupby("bin").agg(rows=("y", "size"), predicted=("p", "mean"),
                                                                        observed=("y", "mean"))
    return df.reset_index()


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Row-weighted mean |predicted - observed| over equal-width probability bins."""
    if len(np.asarray(y)) == 0:
        return float("nan")
    r = reliability(y, p, bins)
    return float((r["rows"] * (r["predicted"] - r["observed"]).abs()).sum() / r["rows"].sum())
