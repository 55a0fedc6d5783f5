"""Console rendering of ML results (tables for the CLI and benchmarks)."""

from __future__ import annotations

import json
import math

from rich.console import Console
from rich.table import Table

from ml.ai4i import ATTRIBUTION, ProtocolResult


def _f(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}f}"


def ai4i_json(results: dict[str, ProtocolResult]) -> str:
    return json.dumps({k: {m: round(v, 4) for m, v in r.core().items()} for k, r in results.items()})


def ai4i_table(results: dict[str, ProtocolResult], console: Console | None = None) -> None:
    console = console or Console()
    t = Table(title="AI4I 2020 failure prediction (XGBoost, physics features)")
    t.add_column("protocol", no_wrap=True)
    for c in ("F1", "PR-AUC", "precision", "recall", "threshold", "rules F1"):
        t.add_column(c, justify="right", no_wrap=True)
    names = {"time_ordered": "time-ordered", "cv5": "5-fold CV"}
    for key, r in results.items():
        lo, hi = min(r.thresholds), max(r.thresholds)
        t.add_row(
            names.get(key, key),
            _f(r.f1),
            _f(r.pr_auc),
            _f(r.precision),
            _f(r.recall),
            f"{lo:.2f}" if lo == hi else f"{lo:.2f}-{hi:.2f}",
            _f(r.rule_f1),
        )
    console.print(t)
    console.print(
        "time-ordered: first 80 % of rows by UDI train, last 20 % test. "
        "5-fold CV: stratified, shuffled (seed 0), mean of the 5 test folds. "
        "Failure-mode flags (TWF, HDF, PWF, OSF, RNF) are never features. "
        "Thresholds maximise F1 on out-of-fold predictions of the training rows only. "
        "'rules F1' applies the data set's published failure mechanisms to the recorded "
        "values: a reference for what a per-row model can reach (tool-wear and random "
        "failures cannot be told from one row)."
    )
    console.print(f"Data: {ATTRIBUTION}")


def train_table(res, console: Console | None = None) -> None:
    console = console or Console()
    t = Table(title=f"{res.model_name} v{res.version} (run {res.run_id[:8]})")
    t.add_column("metric")
    t.add_column("validation", justify="right")
    t.add_column("holdout", justify="right")
    for k in ("pr_auc", "f1", "precision", "recall"):
        t.add_row(k, _f(res.validation.get(k)), _f(res.holdout.get(k)))
    t.add_row("roc_auc", "", _f(res.holdout.get("roc_auc")))
    t.add_row("precision@positives", "", _f(res.holdout.get("precision_at_npos")))
    console.print(t)
    r = res.rows
    console.print(
        f"rows: train {r['train']:,} ({r['train_positives']:,} positive), validation {r['validation']:,} "
        f"({r['validation_positives']:,}), holdout {r['holdout']:,} ({r['holdout_positives']:,}); "
        f"threshold {res.threshold:.3f}"
    )
    h = res.holdout
    if "mean_probability" in h:
        console.print(
            f"calibration (Platt, later half of validation): holdout mean probability {h['mean_probability']:.3f} "
            f"(booster alone {h['mean_probability_uncalibrated']:.3f}) against a failure rate of "
            f"{h['base_rate']:.3f}; Brier {h['brier']:.4f}, ECE {h['ece']:.4f}"
        )
    s = res.seconds
    order = [k for k in ("features", "fit", "log") if k in s] + [k for k in s if k not in ("features", "fit", "log")]
    console.print("time: " + ", ".join(f"{k} {s[k]:.1f} s" for k in order))
    style = "green" if res.promoted else "yellow"
    console.print(f"[{style}]{'champion' if res.promoted else 'not promoted'}[/]: {res.decision}")


def score_table(res, console: Console | None = None, limit: int = 15) -> None:
    console = console or Console()
    console.print(
        f"scored {res.assets:,} active machines as of {res.as_of:%Y-%m-%d %H:%M} UTC with "
        f"{res.model_name} v{res.version}: "
        + ", ".join(f"{b} {n}" for b, n in res.by_band.items())
    )
    if not res.rows:
        return
    t = Table(title=f"Highest risk (top {min(limit, len(res.rows))})")
    t.add_column("asset", justify="right")
    t.add_column("probability", justify="right")
    t.add_column("band")
    t.add_column("main reasons (SHAP, log-odds)")
    for r in sorted(res.rows, key=lambda r: -r["probability"])[:limit]:
        why = "; ".join(f"{c['feature']}={_f(c['value'], 2)} ({c['contribution']:+.2f})"
                        for c in r["contributions"][:3])
        t.add_row(str(r["asset_id"]), _f(r["probability"]), r["risk_band"], why)
    console.print(t)
    console.print(
        f"time: features {res.seconds_features:.2f} s, model + SHAP {res.seconds_model:.3f} s, "
        f"write {res.seconds_write:.2f} s"
    )


def versions_table(model_name: str, rows: list[dict], console: Console | None = None,
                   history: list[dict] | None = None) -> None:
    console = console or Console()
    t = Table(title=f"{model_name} versions (holdout figures)")
    for c in ("ver", "alias", "created UTC", "horizon", "holdout period", "PR-AUC", "champ PR-AUC", "F1", "thr",
              "promoted by"):
        t.add_column(c, no_wrap=True)
    for r in rows:
        h = r.get("horizon_days")
        vs = (f"{_f(r.get('champion_holdout_pr_auc'))} (v{r['compared_with']})"
              if r.get("compared_with") and r.get("champion_holdout_pr_auc") is not None else "")
        t.add_row(
            r["version"],
            "champion" if r["champion"] else "",
            f"{r['created']:%Y-%m-%d %H:%M}",
            f"{h} d" if h else "same row",
            r.get("holdout_period") or "",
            _f(r["holdout_pr_auc"]),
            vs,
            _f(r["holdout_f1"]),
            _f(r["threshold"], 2),
            r["promoted_by"] or "",
        )
    console.print(t)
    console.print("champ PR-AUC: the champion of the time scored on that version's holdout rows and labels; "
                  "only versions with the champion's horizon are compared.")
    for r in rows:
        if r["champion"] and r["promotion_reason"]:
            console.print(f"champion v{r['version']}: {r['promotion_reason']}")
    if history:
        console.print("promotion history:")
        for e in history:
            prev = f" (replacing v{e['previous']})" if e.get("previous") else ""
            console.print(f"  {e.get('at', '')} v{e.get('version')}{prev} by {e.get('by')}: {e.get('reason')}")
