"""API tokens: created by an admin, shown once, stored hashed, scoped like a user, expiring, revocable.

A token carries a role and a list of sites (or every site), exactly like a user account, and
turns into a :class:`~qhse.domain.access.Scope` named ``token:<name>`` (no user id): every
query of the HTTP API runs under it and every write is audited with that name.  Only the
SHA-256 digest of the secret is stored; the secret itself (``qhse_<prefix>_<random>``) is
returned once by :func:`create`.  :func:`authenticate` refuses unknown, revoked and expired
tokens and records the time of use (``last_used_at``, at most once a minute per token).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from db.models import ApiToken, Site
from db.queries import audit
from qhse.domain import access
from qhse.domain.access import Scope
from qhse.services import actors

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")
PREFIX = "qhse_"
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_used_at is written at most this often per token


class TokenError(ValueError):
    """A token cannot be created or revoked as asked (bad name, role, site, unknown token)."""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    role: str
    sites: tuple[str, ...] | None  # site codes; None: every site
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= dt.datetime.now(dt.UTC):
            return "expired"
        return "active"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def token_scope(name: str, role: str, all_sites: bool, site_ids: Iterable[int] | None) -> Scope:
    """The Scope a token's requests run under (``token:<name>``, no user id)."""
    return access.scope_for(user_id=None, username=f"{actors.TOKEN_PREFIX}{name}", role=role,
                            all_sites=all_sites, site_ids=site_ids or ())


def _admin(actor: Scope) -> Scope:
    who = actors.require(actor)
    if not actors.is_system(who):
        access.require(who, access.MANAGE_USERS)
    return who


def create(engine: sa.Engine, actor: Scope, *, name: str, role: str, sites: list[str] | None,
           expires_days: float | None = None, now: dt.datetime | None = None) -> tuple[str, TokenInfo]:
    """Create a token; returns ``(secret, info)``.  ``sites``: site codes, or None for every site."""
    who = _admin(actor)
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        raise TokenError(f"bad token name {name!r} (lower-case letters, digits, '.', '_' or '-'; at most 60)")
    if role not in access.ROLES:
        raise TokenError(f"unknown role {role!r} (one of {', '.join(access.ROLES)})")
    if sites is not None and not sites:
        raise TokenError("name at least one site (--site CODE), or give every site (--all-sites)")
    if expires_days is not None and not (0 < expires_days <= 3650):
        raise TokenError("--expires-days must lie in (0, 3650]")
    now = now or dt.datetime.now(dt.UTC)
    secret = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if conn.scalar(sa.select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise TokenError(f"a token named {name!r} exists already")
        site_ids: list[int] = []
        if sites is not None:
            codes = sorted({c.strip().upper() for c in sites if c.strip()})
            found = dict(conn.execute(sa.select(Site.code, Site.id).where(Site.code.in_(codes))).all())
            missing = [c for c in codes if c not in found]
            if missing:
                raise TokenError(f"no site with code {', '.join(missing)}")
            site_ids = sorted(found.values())
        expires = now + dt.timedelta(days=expires_days) if expires_days else None
        tid = conn.scalar(sa.insert(ApiToken).values(
            name=name, token_hash=digest(secret), prefix=secret[:12], role=role, all_sites=sites is None,
            site_ids=site_ids, created_by=who.user_id, created_at=now, expires_at=expires).returning(ApiToken.id))
        audit.record(conn, who, "create_api_token", entity="api_token", entity_id=tid,
                     detail={"name": name, "role": role, "sites": sites and sorted(sites),
                             "expires_at": expires.isoformat() if expires else None})
    return secret, get(engine, name)


def _info(conn: sa.Connection, rows: Sequence[sa.Row[Any]]) -> list[TokenInfo]:
    codes = dict(conn.execute(sa.select(Site.id, Site.code)).all())
    return [TokenInfo(id=r.id, name=r.name, prefix=r.prefix, role=r.role,
                      sites=None if r.all_sites else tuple(codes.get(i, str(i)) for i in r.site_ids),
                      created_at=r.created_at, expires_at=r.expires_at, revoked_at=r.revoked_at,
                      last_used_at=r.last_used_at) for r in rows]


def list_tokens(engine: sa.Engine) -> list[TokenInfo]:
    t = ApiToken.__table__
    with engine.connect() as conn:
        return _info(conn, conn.execute(sa.select(t).order_by(t.c.name)).all())


def get(engine: sa.Engine, name: str) -> TokenInfo:
    t = ApiToken.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.name == name)).all()
        if not rows:
            raise TokenError(f"no API token named {name!r}")
        return _info(conn, rows)[0]


def revoke(engine: sa.Engine, actor: Scope, name: str, *, now: dt.datetime | None = None) -> TokenInfo:
    who = _admin(actor)
    now = now or dt.datetime.now(dt.UTC)
    t = ApiToken.__table__
    with engine.begin() as conn:
        row = conn.execute(sa.select(t.c.id, t.c.revoked_at).where(t.c.name == name).with_for_update()).first()
        if row is None:
            raise TokenError(f"no API token named {name!r}")
        if row.revoked_at is None:
            conn.execute(sa.update(t).where(t.c.id == row.id).values(revoked_at=now))
            audit.record(conn, who, "revoke_api_token", entity="api_token", entity_id=row.id, detail={"name": name})
    return get(engine, name)


def authenticate(engine: sa.Engine, secret: str, *, now: dt.datetime | None = None) -> Scope | None:
    """The Scope of a valid token (None: unknown, revoked or expired); records its use."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    now = now or dt.datetime.now(dt.UTC)
    t = ApiToken.__table__
    with engine.begin() as conn:
        row = conn.execute(sa.select(t.c.id, t.c.name, t.c.role, t.c.all_sites, t.c.site_ids, t.c.expires_at,
                                     t.c.revoked_at, t.c.last_used_at)
                           .where(t.c.token_hash == digest(secret))).first()
        if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            conn.execute(sa.update(t).where(t.c.id == row.id).values(last_used_at=now))
    return token_scope(row.name, row.role, row.all_sites, row.site_ids)


__all__ = ["TokenError", "TokenInfo", "authenticate", "create", "get", "list_tokens", "revoke", "token_scope"]
