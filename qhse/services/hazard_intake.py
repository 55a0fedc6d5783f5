"""Hazard reports from people: access check, photo check and storage, the workflow, audit.

The one front door for a hazard reported by a platform user, from the dashboard (the signed-in
user) and from ``qhse hazard report --as USERNAME``: their role must hold ``report_hazard`` and
the site must be theirs; a photo is checked and stripped of its metadata (qhse.services.uploads)
before it is stored; the report, its audit row and the area manager's notice are written in one
transaction.  The state machine itself is :mod:`qhse.services.workflow`.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from db.engine import session_scope
from qhse.domain import access
from qhse.domain.access import Scope
from qhse.services import workflow
from qhse.services.uploads import store_photo, validate_photo


def photo_folder() -> Path:
    from qhse.settings import get_settings

    return get_settings().ensure_data_dir() / "uploads" / "hazards"


def report(engine: sa.Engine, scope: Scope, *, site_id: int, area_id: int, category: str, title: str,
           severity: str = "normal", description: str | None = None, likelihood: int = 3, consequence: int = 3,
           asset_id: int | None = None, reporter_person_id: int | None = None,
           photo: bytes | None = None, photo_name: str = "", folder: Path | None = None) -> int:
    """File a hazard report for ``scope``'s user; returns its id.

    Raises AccessDenied (role or site), UploadError (bad photo, qhse.domain.uploads) or WorkflowError
    (qhse.domain.workflow) (bad field); in every case nothing is stored.
    """
    access.require(scope, access.REPORT_HAZARD, site_id=site_id)
    checked = validate_photo(photo, photo_name) if photo is not None else None
    path = store_photo(photo, checked, folder or photo_folder()) if checked and photo is not None else None
    try:
        with session_scope(engine) as s:
            h = workflow.report_hazard(
                s, site_id=int(site_id), area_id=int(area_id), category=category, title=title, severity=severity,
                description=description or None, likelihood=int(likelihood), consequence=int(consequence),
                asset_id=int(asset_id) if asset_id is not None else None, reporter_person_id=reporter_person_id,
                source="worker", reporter_user_id=scope.user_id, photo_path=str(path) if path else None,
                actor=scope)  # audited by the workflow with the user's id, in this transaction
            return int(h.id)
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise


__all__ = ["report"]
