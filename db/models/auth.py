"""Dashboard sign-in state: server-side sessions and sign-in attempts (``qhse.services.auth`` uses them)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, created_at_col


class UserSession(Base):
    """One signed-in browser.  Only SHA-256 digests of the cookie token and of the one-time
    sign-in code are stored; a stolen table gives no usable cookie."""

    __tablename__ = "user_session"
    __table_args__ = (sa.Index("ix_user_session_user_id_active", "user_id", postgresql_where=sa.text(
        "revoked_at IS NULL")),)
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)  # set when the code is redeemed
    code_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)  # one-time, cleared on use
    code_expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_col()
    last_seen_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    expires_at: Mapped[dt.datetime]  # absolute end, whatever the activity
    idle_timeout_s: Mapped[int]
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))
    client: Mapped[str | None] = mapped_column(sa.String(100))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))


class LoginAttempt(Base):
    """Sign-in attempts, for per-account and per-client throttling shared by every dashboard process.

    ``ok`` is NULL while the password check runs, so attempts made in parallel count at once."""

    __tablename__ = "login_attempt"
    __table_args__ = (sa.Index("ix_login_attempt_username_at", "username", "at"),
                      sa.Index("ix_login_attempt_client_at", "client", "at"))
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = created_at_col()
    username: Mapped[str] = mapped_column(sa.String(80))
    client: Mapped[str] = mapped_column(sa.String(100))
    ok: Mapped[bool | None]


class ApiToken(Base):
    """A credential for the HTTP API, created by an admin.  It carries a role and sites like a user
    account; only the SHA-256 digest of the secret is stored (the secret is shown once)."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))  # the first characters of the secret, to recognise it
    role: Mapped[str] = mapped_column(sa.String(40))
    all_sites: Mapped[bool] = mapped_column(default=False)
    site_ids: Mapped[list[int]] = mapped_column(ARRAY(sa.Integer), default=list)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = created_at_col()
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
