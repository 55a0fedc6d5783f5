"""Audit log: every write, every read of sensitive data, every login."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.models import AuditLog, UserAccount, UserSiteScope
from qhse.domain.access import Scope

from .scope import site_filter


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


def _visible(scope: Scope):
    """Rows a site-limited caller may read: about its sites, or by/about accounts limited to its sites.

    A row counts as the caller's when its detail names a site in scope (``site_id``), or when
    the acting account, or the account it is about, is limited to sites of which one is in
    scope.  Rows by every-site accounts or the system that name no site stay hidden.
    """
    if scope.all_sites:
        return sa.true()
    a, u, s = AuditLog.__table__, UserAccount.__table__, UserSiteScope.__table__
    ids = scope.site_ids or ()
    local_users = (sa.select(s.c.user_id).join(u, u.c.id == s.c.user_id)
                   .where(u.c.all_sites.is_(False), site_filter(scope, s.c.site_id)))
    local_ids_text = (sa.select(sa.cast(s.c.user_id, sa.Text)).join(u, u.c.id == s.c.user_id)
                      .where(u.c.all_sites.is_(False), site_filter(scope, s.c.site_id)))
    site_of_row = a.c.detail["site_id"].astext
    return sa.or_(
        site_of_row.in_([str(i) for i in ids]) if ids else sa.false(),
        a.c.user_id.in_(local_users),
        sa.and_(a.c.entity == "user_account", a.c.entity_id.in_(local_ids_text)),
    )


def recent(engine: sa.Engine, scope: Scope, *, limit: int = 200, action: str | None = None,
           username: str | None = None, sensitive_only: bool = False,
           since: dt.datetime | None = None) -> pd.DataFrame:
    """Latest audit rows (newest first) that ``scope`` may read (see :func:`_visible`); callers check the role."""
    a = AuditLog.__table__
    q = sa.select(a.c.id, a.c.at, a.c.username, a.c.action, a.c.entity, a.c.entity_id, a.c.sensitive, a.c.detail)
    q = q.where(_visible(scope))
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
    q = (sa.select(a.c.action, sa.func.count().label("n")).where(_visible(scope))
         .group_by(a.c.action).order_by(sa.desc("n")))
    if since is not None:
        q = q.where(a.c.at >= since)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=["action", "n"])
