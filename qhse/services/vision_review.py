"""Reviewing PPE events: confirm, dismiss or mark as false positive (who, when, why; audited).

The verdicts and who may give them are :mod:`qhse.domain.vision_review`; here the event is
locked, the verdict stored and the audit row written in one transaction.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.queries import audit
from db.queries import vision as vq
from qhse.domain.access import Scope
from qhse.domain.vision_review import check_decision, check_review


def review(engine: sa.Engine, scope: Scope, event_id: int, decision: str, *, note: str | None = None,
           at: dt.datetime | None = None) -> None:
    check_decision(decision, scope)
    at = at or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        row = vq.event_state(conn, int(event_id), lock=True)
        check_review(event_id, row["site_id"] if row else None, row["review_status"] if row else None, scope)
        vq.set_review(conn, int(event_id), status=decision, user_id=scope.user_id, at=at, note=(note or None))
        audit.record(conn, scope, "review_vision_event", entity="vision_event", entity_id=event_id,
                     detail={"decision": decision, **({"note": note} if note else {})})
