"""Reviewing PPE events: confirm, dismiss or mark as false positive (who, when, why; audited).

* ``confirmed``: a real violation (counts in KPIs and risk; exported as training data);
* ``dismissed``: real detection but not a violation to act on (e.g. authorised visitor);
* ``false_positive``: the detector was wrong (exported as a negative example).

Only events still ``new`` can be reviewed, by roles holding ``review_vision`` on the site.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.queries import audit
from db.queries import vision as vq
from qhse.domain import access
from qhse.domain.access import Scope

DECISIONS = ("confirmed", "dismissed", "false_positive")


class ReviewError(ValueError):
    """The event cannot be reviewed (unknown, already reviewed, bad decision)."""


def review(engine: sa.Engine, scope: Scope, event_id: int, decision: str, *, note: str | None = None,
           at: dt.datetime | None = None) -> None:
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; use one of {', '.join(DECISIONS)}")
    if not access.can(scope, access.REVIEW_VISION):
        raise access.AccessDenied(f"role {scope.role!r} may not review camera events")
    at = at or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        row = vq.event_state(conn, int(event_id), lock=True)
        if row is None or not scope.allows_site(row["site_id"]):
            raise ReviewError(f"no camera event #{event_id}")
        if row["review_status"] != "new":
            raise ReviewError(f"event #{event_id} was already reviewed ({row['review_status'].replace('_', ' ')})")
        vq.set_review(conn, int(event_id), status=decision, user_id=scope.user_id, at=at, note=(note or None))
        audit.record(conn, scope, "review_vision_event", entity="vision_event", entity_id=event_id,
                     detail={"decision": decision, **({"note": note} if note else {})})
