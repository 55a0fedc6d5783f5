"""Promoting a failure-model version to champion: the one front door (dashboard and ``qhse ml promote``).

The actor is a platform user's Scope (``--as USERNAME`` on the command line, the signed-in user on
the dashboard).  Their role must hold ``manage_models`` (qhse.domain.access) and they must give a
reason; the registry then records the champion alias and who/when/why on the version (MLflow tags),
and an ``audit_log`` row ``promote_model`` names the user, the reason and the version replaced.
Nothing is changed when the permission or the reason is missing or the version does not exist.
"""

from __future__ import annotations

import sqlalchemy as sa

from db.queries import audit
from ml import tracking
from qhse.domain import access
from qhse.domain.access import Scope


def promote(engine: sa.Engine, scope: Scope, version: int | str, *, reason: str,
            model_name: str = tracking.MODEL_DB, store: tracking.Store | None = None) -> dict:
    """Make ``version`` of ``model_name`` the champion as ``scope``'s user; returns what was recorded.

    Raises AccessDenied (role lacks ``manage_models``) and tracking.RegistryError (no reason, unknown version).
    """
    access.require(scope, access.MANAGE_MODELS)
    reason = (reason or "").strip()
    if not reason:
        raise tracking.RegistryError("give a reason for the promotion")
    client = tracking.use_store(store or tracking.resolve_store())
    before = tracking.champion_version(client, model_name)
    tracking.promote(client, model_name, version, by=scope.username, reason=f"manual: {reason}")
    previous = str(before.version) if before is not None else None
    with engine.begin() as conn:
        audit.record(conn, scope, "promote_model", entity="model", entity_id=f"{model_name}:{version}",
                     detail={"reason": reason, "previous": previous})
    return {"model": model_name, "version": str(version), "previous": previous, "by": scope.username,
            "reason": reason}
