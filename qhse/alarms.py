"""Acting on alarms: acknowledge (who, when), with the access rules and the audit trail.

An alarm is raised, updated and cleared by the ingestion rules; people acknowledge it.
Acknowledging is allowed for roles holding ``ack_alarms`` on the alarm's site, once,
and only while the alarm is not cleared.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.queries import alarms as aq
from db.queries import audit
from db.queries.scope import Scope
from qhse import access


class AlarmError(ValueError):
    """The alarm cannot be acknowledged (unknown, already acknowledged, cleared)."""


def acknowledge(engine: sa.Engine, scope: Scope, alarm_id: int, *, note: str | None = None,
                at: dt.datetime | None = None) -> dict:
    """Acknowledge one alarm; returns its new state.  Raises AccessDenied or AlarmError."""
    if not access.can(scope, access.ACK_ALARMS):
        raise access.AccessDenied(f"role {scope.role!r} may not acknowledge alarms")
    at = at or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        row = aq.alarm_state(conn, int(alarm_id), lock=True)
        if row is None or not scope.allows_site(row["site_id"]):
            # The same answer for "missing" and "not yours": no hint about other plants' alarms.
            raise AlarmError(f"no alarm #{alarm_id}")
        if row["cleared_at"] is not None:
            raise AlarmError(f"alarm #{alarm_id} is already cleared")
        if row["acknowledged_at"] is not None:
            raise AlarmError(f"alarm #{alarm_id} was already acknowledged")
        aq.set_acknowledged(conn, int(alarm_id), by=scope.username, at=at)
        audit.record(conn, scope, "acknowledge_alarm", entity="alarm", entity_id=alarm_id,
                     detail={"note": note} if note else {})
    return {"id": int(alarm_id), "status": "acknowledged", "acknowledged_by": scope.username, "acknowledged_at": at}
