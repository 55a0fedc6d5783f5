"""Audit log: every write, every read of sensitive data, every login."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.models import AuditLog

from .scope import Scope


def record(conn: sa.Connection, scope: Scope | None, action: str, *, entity: str | None = None,
           entity_id: object = None, sensitive: bool = False, detail: dict | None = None,
           username: str | None = None) -> None:
    """Append one audit row inside the caller's transaction (so it commits with the change)."""
    conn.execute(sa.insert(AuditLog).values(
        user_id=scope.user_id if scope else None,
        username=username or (scope.username if scope else None),
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        sensitive=sensitive,
        detail=detail or {},
    ))


def recent(engine: sa.Engine, scope: Scope, *, limit: int = 200, action: str | None = None,
           username: str | None = None, sensitive_only: bool = False,
           since: dt.datetime | None = None) -> pd.DataFrame:
    """Latest audit rows (newest first).  The audit log is not site-bound: callers check the role."""
    a = AuditLog.__table__
    q = sa.select(a.c.id, a.c.at, a.c.username, a.c.action, a.c.entity, a.c.entity_id, a.c.sensitive, a.c.detail)
    if action:
        q = q.where(a.c.action == action)
    if username:
        q = q.where(a.c.username == username)
    if sensitive_only:
        q = q.where(a.c.sensitive.is_(True))
    if since is not None:
        q = q.where(a.c.at >= since)
    q = q.order_by(a.c.at.desc(), a.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "at", "username", "action", "entity", "entity_id", "sensitive", "detail"])


def action_counts(engine: sa.Engine, scope: Scope, *, since: dt.datetime | None = None) -> pd.DataFrame:
    a = AuditLog.__table__
    q = sa.select(a.c.action, sa.func.count().label("n")).group_by(a.c.action).order_by(sa.desc("n"))
    if since is not None:
        q = q.where(a.c.at >= since)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=["action", "n"])
