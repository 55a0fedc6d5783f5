"""User accounts and their site scope (reads and plain writes; hashing lives in qhse.services.auth)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.models import LoginAttempt, Site, UserAccount, UserSession, UserSiteScope
from qhse.domain.access import Scope

from . import audit
from .scope import site_filter


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
                     detail={"username": username, "role": role, "all_sites": all_sites,
                             "site_ids": sorted(set(site_ids))})
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


def record_session_end(engine: sa.Engine, user: UserRow, reason: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(audit.AuditLog).values(
            user_id=user.id, username=user.username, action="logout", entity="user_account",
            entity_id=str(user.id), sensitive=False, detail={"reason": reason}))


def record_unknown_login(engine: sa.Engine, username: str, reason: str = "unknown user") -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(audit.AuditLog).values(
            user_id=None, username=username[:80], action="login_failed", entity="user_account",
            entity_id=None, sensitive=False, detail={"reason": reason}))


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
        q = q.where(u.c.id.in_(sa.select(s.c.user_id).where(site_filter(scope, s.c.site_id))))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "username", "display_name", "role", "locale", "all_sites", "sites",
                                     "active", "last_login_at", "created_at"])


# -- sessions ------------------------------------------------------------------------------
def insert_session(engine: sa.Engine, *, user_id: int, code_hash: str, code_ttl_s: int, absolute_s: int,
                   idle_s: int, client: str | None, user_agent: str | None) -> int:
    t = UserSession.__table__
    now = sa.func.now()
    with engine.begin() as conn:
        # Ended sessions are kept a day for the record, then dropped.
        day_ago = now - dt.timedelta(days=1)
        conn.execute(sa.delete(t).where(sa.or_(t.c.expires_at < day_ago, t.c.revoked_at < day_ago)))
        return conn.execute(sa.insert(t).values(
            user_id=user_id, code_hash=code_hash, code_expires_at=now + dt.timedelta(seconds=code_ttl_s),
            expires_at=now + dt.timedelta(seconds=absolute_s), idle_timeout_s=idle_s,
            client=(client or "")[:100] or None, user_agent=(user_agent or "")[:300] or None,
        ).returning(t.c.id)).scalar_one()


def redeem_session_code(engine: sa.Engine, code_hash: str, token_hash: str, client: str | None) -> int | None:
    """Swap a valid one-time code for a token (once); the session id, or None."""
    t = UserSession.__table__
    cond = [t.c.code_hash == code_hash, t.c.code_expires_at > sa.func.now(), t.c.revoked_at.is_(None),
            t.c.token_hash.is_(None), t.c.expires_at > sa.func.now()]
    if client:
        cond.append(sa.or_(t.c.client.is_(None), t.c.client == client[:100]))
    with engine.begin() as conn:
        return conn.execute(sa.update(t).where(*cond).values(
            token_hash=token_hash, code_hash=None, code_expires_at=None, last_seen_at=sa.func.now())
            .returning(t.c.id)).scalar()


def _live(t):
    return sa.and_(t.c.revoked_at.is_(None), t.c.expires_at > sa.func.now(),
                   t.c.last_seen_at > sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, t.c.idle_timeout_s))


def touch_session(engine: sa.Engine, *, session_id: int | None = None, token_hash: str | None = None,
                  min_interval_s: int = 30) -> tuple[int, int] | None:
    """(session id, user id) of a live session (not revoked, not idle too long, not past its end),
    marking it seen; None otherwise.  The last-seen time is written at most every ``min_interval_s``."""
    t, u = UserSession.__table__, UserAccount.__table__
    where = t.c.id == session_id if session_id is not None else t.c.token_hash == token_hash
    with engine.begin() as conn:
        row = conn.execute(sa.select(t.c.id, t.c.user_id, t.c.last_seen_at < sa.func.now() - dt.timedelta(
            seconds=min_interval_s)).join(u, u.c.id == t.c.user_id)
            .where(where, _live(t), u.c.active.is_(True))).first()
        if row is None:
            return None
        if row[2]:
            conn.execute(sa.update(t).where(t.c.id == row[0]).values(last_seen_at=sa.func.now()))
        return int(row[0]), int(row[1])


def revoke_session(engine: sa.Engine, *, reason: str, session_id: int | None = None,
                   token_hash: str | None = None) -> int | None:
    """Revoke one session; returns its user id (None when there was no live session)."""
    t = UserSession.__table__
    where = t.c.id == session_id if session_id is not None else t.c.token_hash == token_hash
    with engine.begin() as conn:
        return conn.execute(sa.update(t).where(where, t.c.revoked_at.is_(None))
                            .values(revoked_at=sa.func.now(), revoked_reason=reason).returning(t.c.user_id)).scalar()


def revoke_sessions(engine: sa.Engine, user_id: int, reason: str, *, except_session: int | None = None) -> int:
    """Revoke every live session of a user (password change, disabled account); returns how many."""
    t = UserSession.__table__
    cond = [t.c.user_id == user_id, t.c.revoked_at.is_(None)]
    if except_session is not None:
        cond.append(t.c.id != except_session)
    with engine.begin() as conn:
        return conn.execute(sa.update(t).where(*cond).values(revoked_at=sa.func.now(), revoked_reason=reason)
                            ).rowcount


# -- sign-in throttling ----------------------------------------------------------------------
@dataclass(frozen=True)
class AttemptCounts:
    account_failures: int  # since the account's last success, within the window
    account_last_at: dt.datetime | None
    client_failures: int  # within the window
    client_last_at: dt.datetime | None
    now: dt.datetime


def begin_attempt(engine: sa.Engine, username: str, client: str, window_s: int, decide) -> int | None:
    """Count recent failures of ``username`` and ``client`` and, if ``decide(counts)`` allows it,
    record a pending attempt (counted as a failure until it ends); returns its id, or None when refused.

    Serialised per account and per client with transaction-scoped advisory locks, so parallel
    attempts (several dashboard processes, many browser tabs) see each other."""
    a = LoginAttempt.__table__
    since = sa.func.now() - dt.timedelta(seconds=window_s)
    failed = sa.or_(a.c.ok.is_(False), a.c.ok.is_(None))
    with engine.begin() as conn:
        for key in sorted({f"login-user:{username}", f"login-client:{client}"}):
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))
        last_ok = (sa.select(sa.func.max(a.c.at)).where(a.c.username == username, a.c.ok.is_(True))
                   .scalar_subquery())
        acc = conn.execute(sa.select(sa.func.count(), sa.func.max(a.c.at)).where(
            a.c.username == username, a.c.at > since, failed,
            sa.or_(last_ok.is_(None), a.c.at > last_ok))).one()
        cli = conn.execute(sa.select(sa.func.count(), sa.func.max(a.c.at)).where(
            a.c.client == client, a.c.at > since, failed)).one()
        now = conn.execute(sa.select(sa.func.now())).scalar_one()
        if not decide(AttemptCounts(int(acc[0]), acc[1], int(cli[0]), cli[1], now)):
            return None
        return conn.execute(sa.insert(a).values(username=username, client=client, ok=None)
                            .returning(a.c.id)).scalar_one()


def end_attempt(engine: sa.Engine, attempt_id: int, ok: bool) -> None:
    a = LoginAttempt.__table__
    with engine.begin() as conn:
        conn.execute(sa.update(a).where(a.c.id == attempt_id).values(ok=ok))
        if ok:  # keep the table small: a day of history is far more than any window
            conn.execute(sa.delete(a).where(a.c.at < sa.func.now() - dt.timedelta(days=1)))
