"""Acting on alarms: acknowledge and clear by hand, with the access rules and the audit trail.

An alarm is raised, updated and cleared by the ingestion rules; people acknowledge it and
may clear it by hand (a faulty sensor, say).  Both go through :func:`act`: the actor is a
platform user holding ``ack_alarms`` on the alarm's site (or a ``system:`` actor, see
:mod:`qhse.services.actors`; free text is refused); in one transaction the alarm row is locked and
updated, an ``audit_log`` row with the user id is written and ``NOTIFY qhse_alarms`` is
sent (delivered when the transaction commits).  An alarm is acknowledged once and only
while not cleared; a cleared alarm cannot be cleared again.  The dashboard and the CLI
call the same function.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from db.queries import alarms as aq
from db.queries import audit
from qhse.domain import access
from qhse.domain.access import Scope
from qhse.services import actors

CHANNEL = "qhse_alarms"  # the same channel as ingestion.alarms.CHANNEL
ACTIONS = {"acknowledge": ("acknowledge_alarm", "acknowledged"), "clear": ("clear_alarm", "cleared")}


class AlarmError(ValueError):
    """The alarm cannot be acted on (unknown, already acknowledged, cleared) or the actor is not a user."""


def act(engine: sa.Engine, actor: Scope | str, alarm_id: int, action: str, *, note: str | None = None,
        at: dt.datetime | None = None) -> dict[str, Any]:
    """Acknowledge or clear one alarm as ``actor``; returns its new state.

    Raises :class:`~qhse.services.access.AccessDenied` when the actor's role lacks ``ack_alarms`` and
    :class:`AlarmError` otherwise (free-text actor, unknown alarm or one of another site,
    wrong state)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown alarm action {action!r}")
    try:
        who = actors.require(actor)
    except actors.ActorError as exc:
        raise AlarmError(str(exc)) from None
    if not actors.is_system(who) and not access.can(who, access.ACK_ALARMS):
        raise access.AccessDenied(f"role {who.role!r} may not {action} alarms")
    audit_action, status = ACTIONS[action]
    at = at or dt.datetime.now(dt.UTC)
    note = (note or "").strip() or None
    by = who.username[:80]
    with engine.begin() as conn:
        row = aq.alarm_state(conn, int(alarm_id), lock=True)
        if row is None or not who.allows_site(row["site_id"]):
            # The same answer for "missing" and "not yours": no hint about other plants' alarms.
            raise AlarmError(f"no alarm #{alarm_id}")
        if row["cleared_at"] is not None:
            raise AlarmError(f"alarm #{alarm_id} is already cleared ({row['cleared_at']:%Y-%m-%d %H:%M:%S %Z})")
        if action == "acknowledge":
            if row["acknowledged_at"] is not None:
                raise AlarmError(f"alarm #{alarm_id} was already acknowledged")
            aq.set_acknowledged(conn, int(alarm_id), by=by, at=at)
        else:
            conn.execute(sa.text(
                "UPDATE alarm SET status = 'cleared', cleared_at = :t, updated_at = GREATEST(updated_at, :t), "
                "acknowledged_at = coalesce(acknowledged_at, :t), acknowledged_by = coalesce(acknowledged_by, :b), "
                "message = coalesce(message, '') || :m WHERE id = :i"),
                {"t": at, "b": by, "i": int(alarm_id), "m": f" [cleared by hand by {by}{': ' + note if note else ''}]"})
        audit.record(conn, who, audit_action, entity="alarm", entity_id=int(alarm_id),
                     detail={"site_id": row["site_id"], **({"note": note} if note else {})})
        conn.execute(sa.text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": json.dumps(
            {"event": status, "alarm_id": int(alarm_id), "status": status, "by": by})})
    out = {"id": int(alarm_id), "status": status, "by": by, "at": at}
    if action == "acknowledge":
        out.update(acknowledged_by=by, acknowledged_at=at)
    return out


def acknowledge(engine: sa.Engine, actor: Scope | str, alarm_id: int, *, note: str | None = None,
                at: dt.datetime | None = None) -> dict[str, Any]:
    """Acknowledge one alarm (see :func:`act`)."""
    return act(engine, actor, alarm_id, "acknowledge", note=note, at=at)


def clear(engine: sa.Engine, actor: Scope | str, alarm_id: int, *, note: str | None = None,
          at: dt.datetime | None = None) -> dict[str, Any]:
    """Clear one alarm by hand; an unacknowledged one is acknowledged too (see :func:`act`)."""
    return act(engine, actor, alarm_id, "clear", note=note, at=at)
