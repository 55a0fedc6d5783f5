"""Watching the failure model after deployment: outcomes of past predictions, feature drift,
scheduled retraining.  Run by the worker's ``ml_monitoring`` job (qhse/jobs/schedule.py).

Outcomes: every stored prediction whose horizon has fully passed (failures are known up to the
newest machine reading) is joined with the failures that followed it on that machine:
precision of the alerts (probability >= the version's threshold, i.e. the alert budget),
recall, and Brier score, per model version over the last ``OUTCOME_DAYS``.  A figure is flagged
when precision or recall falls below half of what the version reached on its holdout, or the
Brier score rises above 1.5 times its holdout Brier score.

Drift: the population stability index (PSI) of each feature over the last ``DRIFT_DAYS`` of
snapshots (every 12 hours per active machine) against the training reference saved with the
version (``reference.json``: decile bins of the training rows and the share of missing values).
PSI above ``PSI_FLAG`` (0.25, the usual "significant shift") is flagged.

Each figure is a ``model_monitor`` row; a figure flagged that was not flagged in the previous run
is notified to the data-science role (e-mail, else MQTT).  Retraining: with ``QHSE_ML_RETRAIN_DAYS`` > 0 the job
trains a new version when the newest version is older than that (registered as a challenger,
promoted only if it beats the champion on the same holdout); 0 (the default) leaves it off.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ml import tracking

PSI_FLAG = 0.25
PSI_BINS = 10
PSI_EPS = 1e-4
DRIFT_DAYS = 7
DRIFT_STEP_HOURS = 12
OUTCOME_DAYS = 60
REFERENCE_ARTIFACT = "reference.json"


# ----------------------------------------------------------------------------- pure rules
def feature_reference(X: pd.DataFrame, bins: int = PSI_BINS) -> dict:
    """Per feature: inner bin edges (quantiles of the non-missing training values), the share of
    training rows in each bin and the share missing; saved with a model version."""
    out: dict[str, dict] = {}
    for c in X.columns:
        v = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float)
        ok = v[~np.isnan(v)]
        edges = np.unique(np.quantile(ok, np.linspace(0, 1, bins + 1)[1:-1])) if len(ok) else np.array([])
        out[c] = {"edges": [float(e) for e in edges], "shares": _shares(v, edges),
                  "rows": int(len(v))}
    return out


def _shares(v: np.ndarray, edges: np.ndarray) -> list[float]:
    """Shares of ``v`` in each bin given by ``edges`` (len(edges) + 1 bins), then the missing share."""
    v = np.asarray(v, dtype=float)
    n = max(1, len(v))
    miss = np.isnan(v)
    idx = np.searchsorted(np.asarray(edges, dtype=float), v[~miss], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return [float(x) for x in counts / n] + [float(miss.sum() / n)]


def psi(reference: dict, values: np.ndarray) -> float:
    """Population stability index of ``values`` against one feature's ``reference`` entry."""
    ref = np.clip(np.asarray(reference["shares"], dtype=float), PSI_EPS, None)
    cur = np.clip(np.asarray(_shares(values, np.asarray(reference["edges"])), dtype=float), PSI_EPS, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def drift(reference: dict, X: pd.DataFrame, flag: float = PSI_FLAG) -> list[dict]:
    """PSI of every reference feature present in ``X``, largest first."""
    rows = []
    for name, ref in reference.items():
        if name not in X.columns:
            continue
        value = psi(ref, pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=float))
        rows.append({"feature": name, "psi": value, "flagged": value > flag})
    return sorted(rows, key=lambda r: -r["psi"])


@dataclass
class Outcome:
    version: str
    predictions: int
    alerts: int
    failures: int
    hits: int
    brier: float
    first: dt.datetime | None = None
    last: dt.datetime | None = None

    @property
    def precision(self) -> float | None:
        return self.hits / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.hits / self.failures if self.failures else None


def outcomes(frame: pd.DataFrame) -> list[Outcome]:
    """Per model version, from rows (model_version, scored_at, probability, threshold, failed)."""
    out = []
    for version, g in frame.groupby("model_version", sort=True):
        alert = g["probability"].to_numpy(float) >= g["threshold"].fillna(0.5).to_numpy(float)
        failed = g["failed"].to_numpy(bool)
        p = g["probability"].to_numpy(float)
        out.append(Outcome(str(version), len(g), int(alert.sum()), int(failed.sum()), int((alert & failed).sum()),
                           float(np.mean((p - failed) ** 2)), g["scored_at"].min(), g["scored_at"].max()))
    return out


# ----------------------------------------------------------------------------- the job
_OUTCOME_SQL = """
SELECT p.model_version, p.scored_at, p.probability, p.threshold, p.horizon_days,
       EXISTS (SELECT 1 FROM failure_event f
               WHERE f.asset_id = p.asset_id AND f.occurred_at > p.scored_at
                 AND f.occurred_at <= p.scored_at + make_interval(days => p.horizon_days)) AS failed
FROM failure_prediction p
WHERE p.model_name = :model AND p.scored_at >= :lo
  AND p.scored_at + make_interval(days => p.horizon_days) <= :known
"""


@dataclass
class MonitorResult:
    checked_at: dt.datetime
    outcomes: list[Outcome] = field(default_factory=list)
    drift: list[dict] = field(default_factory=list)
    drift_version: str | None = None
    retrain: str | None = None
    flagged: list[str] = field(default_factory=list)
    notified: int = 0

    def describe(self) -> str:
        parts = []
        for o in self.outcomes:
            parts.append(f"v{o.version}: {o.predictions} predictions checked, precision {_fmt(o.precision)}, "
                         f"recall {_fmt(o.recall)}, Brier {o.brier:.3f}")
        if not self.outcomes:
            parts.append("no prediction whose horizon has passed")
        if self.drift:
            top = self.drift[0]
            n = sum(1 for d in self.drift if d["flagged"])
            parts.append(f"drift v{self.drift_version}: {n} of {len(self.drift)} features above PSI {PSI_FLAG} "
                         f"(largest {top['feature']} {top['psi']:.3f})")
        if self.notified:
            parts.append(f"{self.notified} notification(s) to the data-science role")
        if self.retrain:
            parts.append(self.retrain)
        return "; ".join(parts)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _version_figures(client, model_name: str, version: str) -> dict[str, float]:
    try:
        mv = client.get_model_version(model_name, version)
        run = client.get_run(mv.run_id)
    except Exception:  # noqa: BLE001 - a version or run removed from the registry: no expectations
        return {}
    return dict(run.data.metrics)


def check_outcomes(engine: sa.Engine, client, model_name: str, known_until: dt.datetime,
                   now: dt.datetime) -> tuple[list[Outcome], list[dict]]:
    lo = known_until - dt.timedelta(days=OUTCOME_DAYS)
    with engine.connect() as conn:
        res = conn.execute(sa.text(_OUTCOME_SQL), {"model": model_name, "lo": lo, "known": known_until})
        frame = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    if frame.empty:
        return [], []
    rows = []
    found = outcomes(frame)
    for o in found:
        exp = _version_figures(client, model_name, o.version)
        brier_ref = exp.get("holdout_brier")
        detail = {"predictions": o.predictions, "alerts": o.alerts, "failures": o.failures, "hits": o.hits,
                  "from": o.first.isoformat() if o.first is not None else None,
                  "to": o.last.isoformat() if o.last is not None else None, "known_until": known_until.isoformat()}
        for subject, value, limit, low_is_bad in (
                ("precision", o.precision, _half(exp.get("holdout_precision")), True),
                ("recall", o.recall, _half(exp.get("holdout_recall")), True),
                ("brier", o.brier, brier_ref * 1.5 if brier_ref else None, False)):
            flagged = (value is not None and limit is not None
                       and (value < limit if low_is_bad else value > limit))
            rows.append({"checked_at": now, "kind": "outcome", "model_name": model_name, "model_version": o.version,
                         "subject": subject, "value": value, "threshold": limit, "flagged": bool(flagged),
                         "detail": detail})
    return found, rows


def _half(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x / 2.0


def load_reference(client, mv) -> dict | None:
    import json
    import tempfile
    from pathlib import Path

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(mv.run_id, REFERENCE_ARTIFACT, tmp)
            return json.loads(Path(path).read_text())
    except Exception:  # noqa: BLE001 - versions trained before references were saved have none
        return None


def recent_features(engine: sa.Engine, until: dt.datetime, features: list[str]) -> pd.DataFrame:
    from ml.features import build_snapshots, machine_assets, snapshot_grid

    until = until.replace(minute=0, second=0, microsecond=0)
    with engine.begin() as conn:
        assets = machine_assets(conn, active_only=True)
        if not assets:
            return pd.DataFrame(columns=features)
        g_asset, g_t = snapshot_grid(assets, until - dt.timedelta(days=DRIFT_DAYS), until, DRIFT_STEP_HOURS)
        df = build_snapshots(conn, g_asset, g_t)
    return df[[f for f in features if f in df.columns]]


def check_drift(engine: sa.Engine, client, model_name: str, champion, until: dt.datetime,
                now: dt.datetime, flag: float = PSI_FLAG) -> tuple[list[dict], list[dict]]:
    ref = load_reference(client, champion)
    if not ref:
        return [], []
    X = recent_features(engine, until, list(ref))
    if X.empty:
        return [], []
    found = drift(ref, X, flag)
    rows = [{"checked_at": now, "kind": "drift", "model_name": model_name, "model_version": str(champion.version),
             "subject": d["feature"], "value": d["psi"], "threshold": flag, "flagged": d["flagged"],
             "detail": {"rows": int(len(X)), "reference_rows": ref[d["feature"]].get("rows"),
                        "window_days": DRIFT_DAYS, "until": until.isoformat()}} for d in found]
    return found, rows


def monitor(engine: sa.Engine, *, now: dt.datetime | None = None, model_name: str = tracking.MODEL_DB,
            store: tracking.Store | None = None, retrain_days: float = 0.0,
            psi_flag: float = PSI_FLAG) -> MonitorResult:
    """One monitoring run: outcomes, drift, scheduled retraining; figures written to model_monitor."""
    from db.models.assets import ModelMonitor
    from ml.scoring import default_as_of

    now = now or dt.datetime.now(dt.UTC)
    client = tracking.use_store(store or tracking.resolve_store())
    known_until = default_as_of(engine)  # failures are known up to the newest reading
    result = MonitorResult(checked_at=now)
    result.outcomes, rows = check_outcomes(engine, client, model_name, known_until, now)
    champ = tracking.champion_version(client, model_name)
    if champ is not None:
        result.drift, drift_rows = check_drift(engine, client, model_name, champ, known_until, now, psi_flag)
        result.drift_version = str(champ.version)
        rows += drift_rows
    if rows:
        with engine.begin() as conn:
            conn.execute(sa.insert(ModelMonitor.__table__), rows)
    result.flagged = [f"{r['kind']} {r['subject']} v{r['model_version']}" for r in rows if r["flagged"]]
    if result.flagged:
        _notify_new_flags(engine, model_name, now, result)
    if retrain_days > 0:
        result.retrain = _maybe_retrain(engine, client, model_name, store, retrain_days, now)
    return result


NOTIFY_ROLE = "data_scientist"
NOTIFY_TOPIC = f"qhse/platform/notifications/{NOTIFY_ROLE}"


def _notify_new_flags(engine: sa.Engine, model_name: str, now: dt.datetime, result: MonitorResult) -> int:
    """Queue one message to the data-science role (e-mail of each active data scientist with an
    address, else MQTT ``qhse/platform/notifications/data_scientist``) when a figure is flagged that
    was not flagged in the previous run; returns the messages queued."""
    from sqlalchemy.orm import Session

    from db import models as m
    from db.models.assets import ModelMonitor
    from qhse.services.notify import enqueue

    t = ModelMonitor.__table__
    with engine.connect() as conn:
        prev_at = conn.execute(sa.select(sa.func.max(t.c.checked_at))
                               .where(t.c.model_name == model_name, t.c.checked_at < now)).scalar()
        before = set() if prev_at is None else {
            f"{k} {s} v{v}" for k, s, v in conn.execute(
                sa.select(t.c.kind, t.c.subject, t.c.model_version)
                .where(t.c.model_name == model_name, t.c.checked_at == prev_at, t.c.flagged))}
    new = [f for f in result.flagged if f not in before]
    if not new:
        return 0
    subject = f"Failure model {model_name}: {len(new)} monitoring figure(s) crossed their limit"
    body = (f"Monitoring run of {now:%Y-%m-%d %H:%M} UTC.\n\nNewly flagged:\n"
            + "\n".join(f"- {f}" for f in new) + f"\n\nSummary: {result.describe()}\n\n"
            "Check the models page; retrain with 'qhse ml train' (registered as a challenger).")
    with Session(engine) as session, session.begin():
        emails: list[str | None] = list(session.scalars(
            sa.select(m.Person.email).join(m.UserAccount, m.UserAccount.person_id == m.Person.id)
            .where(m.UserAccount.role == NOTIFY_ROLE, m.UserAccount.active.is_(True), m.Person.active.is_(True),
                   m.Person.email.is_not(None)).order_by(m.Person.id)))
        targets = [("email", e) for e in emails if e] or [("mqtt", NOTIFY_TOPIC)]
        for channel, recipient in targets:
            enqueue(session, channel, recipient, subject, body, ref=f"ml_monitoring:{model_name}", now=now)
    result.notified = len(targets)
    return len(targets)


def _maybe_retrain(engine, client, model_name, store, retrain_days: float, now: dt.datetime) -> str:
    from ml.train import train_db

    versions = tracking.list_versions(client, model_name)
    newest = versions[0]["created"] if versions else None
    if newest is not None and now - newest < dt.timedelta(days=retrain_days):
        return f"retraining not due (newest version {newest:%Y-%m-%d}, every {retrain_days:g} days)"
    champ = tracking.champion_version(client, model_name)
    horizon = tracking.version_horizon(champ.tags or {}) if champ is not None else None
    setup: dict = {}
    if champ is not None:  # the champion's set-up: same snapshot step and alert budget
        try:
            params = client.get_run(champ.run_id).data.params
            setup = {"step_hours": int(params["step_hours"]), "alert_rate": float(params["alert_budget"])}
        except Exception:  # noqa: BLE001 - no run or no such parameters: the defaults
            setup = {}
    res = train_db(engine, horizon_days=horizon or 7, store=store, **setup)
    return f"retrained: v{res.version} ({'champion' if res.promoted else 'challenger'}: {res.decision})"
