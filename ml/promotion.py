"""Promoting a failure-model version to champion: the one front door (dashboard and ``qhse ml promote``).

The actor is a platform user's Scope (``--as USERNAME`` on the command line, the signed-in user on
the dashboard).  Their role must hold ``manage_models`` (qhse.domain.access) and they must give a
reason; the registry then records the champion alias and who/when/why on the version (MLflow tags),
appends an entry to the model's promotion history (``promotion.NNNN`` tags, never rewritten), and an
``audit_log`` row ``promote_model`` names the user, the reason, the version replaced and the figures
compared.

Comparison rule: the version is compared with the champion on the same label definition and the same
holdout rows.  A version trained for another horizon is a different model, and one that is clearly
worse (holdout PR-AUC more than ``WORSE_MARGIN`` below the champion's on the same rows) is only
promoted with ``force=True`` (``--force``); the forced promotion is recorded as such.
Nothing is changed when the permission or the reason is missing, the version does not exist or the
promotion is refused.
"""

from __future__ import annotations

import sqlalchemy as sa

from db.queries import audit
from ml import tracking
from qhse.domain import access
from qhse.domain.access import Scope

WORSE_MARGIN = 0.02  # holdout PR-AUC below the champion's by more than this: clearly worse


class PromotionRefused(tracking.RegistryError):
    """The promotion needs ``--force`` (other horizon, clearly worse); the message says why."""


def _f(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def compare(engine: sa.Engine | None, model_name: str, candidate, champion) -> dict | None:
    """Holdout PR-AUC of ``candidate`` and ``champion`` on the same rows and labels, or None.

    Uses the comparison recorded when one of them was trained with the other as champion, or the
    holdout figures of both when their holdouts are the same period and rows; otherwise (db models)
    both are scored again on the holdout of the platform's data as it is now.
    """
    ct, ht = candidate.tags or {}, champion.tags or {}
    if ct.get("compared_with") == str(champion.version) and _f(ct.get("champion_holdout_pr_auc")) is not None:
        return {"candidate_pr_auc": _f(ct.get("holdout_pr_auc")),
                "champion_pr_auc": _f(ct.get("champion_holdout_pr_auc")),
                "holdout": ct.get("holdout_period") or "", "how": f"v{candidate.version}'s holdout"}
    if ht.get("compared_with") == str(candidate.version) and _f(ht.get("champion_holdout_pr_auc")) is not None:
        return {"candidate_pr_auc": _f(ht.get("champion_holdout_pr_auc")),
                "champion_pr_auc": _f(ht.get("holdout_pr_auc")),
                "holdout": ht.get("holdout_period") or "", "how": f"v{champion.version}'s holdout"}
    same = (ct.get("holdout_period") and ct.get("holdout_period") == ht.get("holdout_period")
            and ct.get("holdout_rows") == ht.get("holdout_rows"))
    if same and _f(ct.get("holdout_pr_auc")) is not None and _f(ht.get("holdout_pr_auc")) is not None:
        return {"candidate_pr_auc": _f(ct.get("holdout_pr_auc")), "champion_pr_auc": _f(ht.get("holdout_pr_auc")),
                "holdout": ct.get("holdout_period") or "", "how": "the same holdout"}
    if engine is None or ct.get("source") != "db":
        return None
    from ml.train import db_dataset, score_version

    horizon = tracking.version_horizon(ct) or 7
    ds = db_dataset(engine, horizon_days=horizon)
    X, y = ds.X[ds.hold], ds.y[ds.hold]
    a, _ = score_version(model_name, candidate, X, y)
    b, _ = score_version(model_name, champion, X, y)
    if a is None or b is None:
        return None
    return {"candidate_pr_auc": a["pr_auc"], "champion_pr_auc": b["pr_auc"],
            "holdout": str(ds.params.get("holdout_period")), "how": "both scored on today's holdout"}


def promote(engine: sa.Engine, scope: Scope, version: int | str, *, reason: str,
            model_name: str = tracking.MODEL_DB, store: tracking.Store | None = None,
            force: bool = False) -> dict:
    """Make ``version`` of ``model_name`` the champion as ``scope``'s user; returns what was recorded.

    Raises AccessDenied (role lacks ``manage_models``), tracking.RegistryError (no reason, unknown
    version) and PromotionRefused (other horizon, clearly worse) unless ``force``.
    """
    from mlflow.exceptions import MlflowException

    from ml.train import horizon_mismatch

    access.require(scope, access.MANAGE_MODELS)
    reason = (reason or "").strip()
    if not reason:
        raise tracking.RegistryError("give a reason for the promotion")
    client = tracking.use_store(store or tracking.resolve_store())
    try:
        candidate = client.get_model_version(model_name, str(version))
    except MlflowException:
        raise tracking.RegistryError(f"{model_name} has no version {version}") from None
    before = tracking.champion_version(client, model_name)
    warnings: list[str] = []
    figures: dict = {}
    if before is not None and str(before.version) != str(candidate.version):
        why = horizon_mismatch(before.tags or {}, tracking.version_horizon(candidate.tags or {}))
        if why:
            warnings.append(f"v{candidate.version}: {why}")
        else:
            cmp_ = compare(engine, model_name, candidate, before)
            if cmp_ is not None:
                figures = cmp_
                a, b = cmp_["candidate_pr_auc"], cmp_["champion_pr_auc"]
                if a is not None and b is not None and a < b - WORSE_MARGIN:
                    warnings.append(f"v{candidate.version} is clearly worse than champion v{before.version} on "
                                    f"{cmp_['how']} ({cmp_['holdout']}): PR-AUC {a:.3f} against {b:.3f}")
    if warnings and not force:
        raise PromotionRefused("; ".join(warnings) + ". Promote it anyway with --force (the reason is recorded)")
    detail = {"forced": bool(warnings), "warnings": warnings, **figures}
    tracking.promote(client, model_name, candidate.version, by=scope.username,
                     reason=f"manual{' (forced)' if warnings else ''}: {reason}", detail=detail)
    previous = str(before.version) if before is not None else None
    with engine.begin() as conn:
        audit.record(conn, scope, "promote_model", entity="model", entity_id=f"{model_name}:{candidate.version}",
                     detail={"reason": reason, "previous": previous, **detail})
    return {"model": model_name, "version": str(candidate.version), "previous": previous, "by": scope.username,
            "reason": reason, "warnings": warnings}
