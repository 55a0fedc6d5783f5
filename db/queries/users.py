"""User accounts and their site scope (reads and plain writes; hashing lives in qhse.auth)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.models import Site, UserAccount, UserSiteScope

from . import audit
from .scope import Scope


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    password_hash: str
    role: str
    locale: str
    all_sites: bool
    active: bool
    site_ids: tuple[int, ...]
    last_login_at: dt.datetime | None = None


def _load(conn: sa.Connection, where) -> UserRow | None:
    u = UserAccount.__table__
    row = conn.execute(sa.select(u).where(where)).mappings().first()
    if row is None:
        return None
    s = UserSiteScope.__table__
    sites = tuple(sorted(conn.execute(sa.select(s.c.site_id).where(s.c.user_id == row["id"])).scalars()))
    return UserRow(id=row["id"], username=row["username"], display_name=row["display_name"],
                   password_hash=row["password_hash"], role=row["role"], locale=row["locale"],
                   all_sites=row["all_sites"], active=row["active"], site_ids=sites,
                   last_login_at=row["last_login_at"])


def get_by_username(engine: sa.Engine, username: str) -> UserRow | None:
    with engine.connect() as conn:
        return _load(conn, sa.func.lower(UserAccount.__table__.c.username) == username.strip().lower())


def get_by_id(engine: sa.Engine, user_id: int) -> UserRow | None:
    with engine.connect() as conn:
        return _load(conn, UserAccount.__table__.c.id == user_id)


def site_ids_for_codes(conn: sa.Connection, codes: list[str]) -> dict[str, int]:
    s = Site.__table__
    rows = conn.execute(sa.select(s.c.code, s.c.id).where(s.c.code.in_(codes))).all()
    return {c: i for c, i in rows}


def insert(engine: sa.Engine, actor: Scope, *, username: str, display_name: str, password_hash: str, role: str,
           locale: str, all_sites: bool, site_ids: list[int]) -> int:
    u, s = UserAccount.__table__, UserSiteScope.__table__
    with engine.begin() as conn:
        uid = conn.execute(sa.insert(u).values(username=username, display_name=display_name,
                                               password_hash=password_hash, role=role, locale=locale,
                                               all_sites=all_sites, active=True).returning(u.c.id)).scalar_one()
        if site_ids:
            conn.execute(sa.insert(s), [dict(user_id=uid, site_id=sid) for sid in sorted(set(site_ids))])
        audit.record(conn, actor, "user_add", entity="user_account", entity_id=uid,
                     detail={"username": username, "role": role, "all_sites": all_sites, "site_ids": sorted(set(site_ids))})
    return uid


def update(engine: sa.Engine, actor: Scope, user_id: int, *, action: str, site_ids: list[int] | None = None,
           **values) -> None:
    """Update columns of one user (and optionally replace its sites); audited as ``action``."""
    u, s = UserAccount.__table__, UserSiteScope.__table__
    with engine.begin() as conn:
        if values:
            conn.execute(sa.update(u).where(u.c.id == user_id).values(**values))
        if site_ids is not None:
            conn.execute(sa.delete(s).where(s.c.user_id == user_id))
            if site_ids:
                conn.execute(sa.insert(s), [dict(user_id=user_id, site_id=sid) for sid in sorted(set(site_ids))])
        shown = {k: v for k, v in values.items() if k != "password_hash"}
        if "password_hash" in values:
            shown["password"] = "changed"
        if site_ids is not None:
            shown["site_ids"] = sorted(set(site_ids))
        audit.record(conn, actor, action, entity="user_account", entity_id=user_id, detail=shown)


def record_login(engine: sa.Engine, user: UserRow, ok: bool, reason: str | None = None) -> None:
    u = UserAccount.__table__
    with engine.begin() as conn:
        if ok:
            conn.execute(sa.update(u).where(u.c.id == user.id).values(last_login_at=sa.func.now()))
        conn.execute(sa.insert(audit.AuditLog).values(
            user_id=user.id, username=user.username, action="login" if ok else "login_failed",
            entity="user_account", entity_id=str(user.id), sensitive=False,
            detail={} if ok else {"reason": reason or "bad password"}))


def record_unknown_login(engine: sa.Engine, username: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(audit.AuditLog).values(
            user_id=None, username=username[:80], action="login_failed", entity="user_account",
            entity_id=None, sensitive=False, detail={"reason": "unknown user"}))


def list_users(engine: sa.Engine, scope: Scope) -> pd.DataFrame:
    """Every account; a caller limited to some sites sees the accounts that share one of them."""
    u, s, site = UserAccount.__table__, UserSiteScope.__table__, Site.__table__
    sites = (sa.select(sa.func.string_agg(site.c.code, aggregate_order_by(sa.literal_column("', '"), site.c.code)))
             .select_from(s.join(site, site.c.id == s.c.site_id))
             .where(s.c.user_id == u.c.id).scalar_subquery())
    q = (sa.select(u.c.id, u.c.username, u.c.display_name, u.c.role, u.c.locale, u.c.all_sites,
                   sites.label("sites"), u.c.active, u.c.last_login_at, u.c.created_at)
         .order_by(u.c.username))
    if not scope.all_sites:
        q = q.where(u.c.id.in_(sa.select(s.c.user_id).where(scope.site_filter(s.c.site_id))))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "username", "display_name", "role", "locale", "all_sites", "sites",
                                     "active", "last_login_at", "created_at"])
