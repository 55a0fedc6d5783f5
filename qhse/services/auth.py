"""Users and passwords: argon2id hashes, login checks, the demo accounts."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from db.queries import users as uq
from qhse.domain.access import GROUP_ROLES, ROLE_PERMISSIONS, SYSTEM, Scope
from qhse.services.access import scope_for_user

if TYPE_CHECKING:
    from qhse.settings import Settings

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters

MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
LOCALES = ("en", "zh")


class AuthError(Exception):
    """Bad input to a user command (unknown role, short password, duplicate name...)."""


class LoginFailed(Exception):
    """Wrong username or password, or the account is disabled (one message for all)."""


class LoginThrottled(LoginFailed):
    """Too many failed sign-ins for this account or from this client: wait ``retry_after_s``."""

    def __init__(self, retry_after_s: float, message: str = "too many failed sign-ins; try again later"):
        self.retry_after_s = max(1, int(retry_after_s + 0.999))
        super().__init__(f"{message} (in {self.retry_after_s} s)")


def _check_grant(actor: Scope, all_sites: bool, site_ids: list[int], codes: dict[str, int] | None = None) -> None:
    """An administrator may hand out only what it holds: its own sites, every site only if it has every site."""
    if actor.all_sites:
        return
    if all_sites:
        raise AuthError("only an administrator with every site may grant every site")
    outside = [i for i in site_ids if not actor.allows_site(i)]
    if outside:
        names = [c for c, i in (codes or {}).items() if i in outside] or [str(i) for i in outside]
        raise AuthError(f"site(s) {', '.join(sorted(names))} are outside your sites")


def _check_target(actor: Scope, user: uq.UserRow) -> None:
    """A site-scoped administrator may change only accounts limited to sites it shares with them."""
    if actor.all_sites:
        return
    if user.all_sites or not any(actor.allows_site(s) for s in user.site_ids):
        raise AuthError(f"user {user.username!r} is outside your sites")


def _existing(engine: sa.Engine, user_id: int) -> uq.UserRow:
    user = uq.get_by_id(engine, user_id)
    if user is None:
        raise AuthError(f"no user with id {user_id}")
    return user


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Each argon2 check takes 64 MiB and a core for a while: at most N run at once per process, the
# others queue (QHSE_PASSWORD_HASH_CONCURRENCY), so a burst of sign-ins cannot exhaust memory.
_hash_slots: threading.BoundedSemaphore | None = None
_hash_slots_n = 0
_hash_slots_lock = threading.Lock()
HASH_QUEUE_TIMEOUT_S = 20.0


def _slots() -> threading.BoundedSemaphore:
    global _hash_slots, _hash_slots_n
    from qhse.settings import get_settings

    n = get_settings().password_hash_concurrency
    with _hash_slots_lock:
        if _hash_slots is None or n != _hash_slots_n:
            _hash_slots, _hash_slots_n = threading.BoundedSemaphore(n), n
        return _hash_slots


def _bounded_verify(password_hash: str, password: str) -> bool:
    slots = _slots()
    if not slots.acquire(timeout=HASH_QUEUE_TIMEOUT_S):
        raise LoginThrottled(5, "the sign-in service is busy")
    try:
        return verify_password(password_hash, password)
    finally:
        slots.release()


def add_user(engine: sa.Engine, *, username: str, password: str, role: str, display_name: str | None = None,
             locale: str = "en", site_codes: list[str] | None = None, all_sites: bool | None = None,
             actor: Scope = SYSTEM) -> int:
    """Create a user.  Group roles default to every site; other roles need at least one site."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise AuthError("username: 2-80 characters, lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLE_PERMISSIONS:
        raise AuthError(f"unknown role {role!r}; choose one of {', '.join(ROLE_PERMISSIONS)}")
    if locale not in LOCALES:
        raise AuthError(f"unknown locale {locale!r}; choose one of {', '.join(LOCALES)}")
    site_codes = [c.strip() for c in (site_codes or []) if c.strip()]
    if all_sites is None:  # a site-scoped administrator cannot hand out every site, so no such default
        all_sites = role in GROUP_ROLES and not site_codes and actor.all_sites
    with engine.connect() as conn:
        ids = uq.site_ids_for_codes(conn, site_codes) if site_codes else {}
    missing = [c for c in site_codes if c not in ids]
    if missing:
        raise AuthError(f"unknown site code(s): {', '.join(missing)}")
    if not all_sites and not ids:
        raise AuthError(f"role {role} needs --site CODE (one or more) or --all-sites")
    _check_grant(actor, bool(all_sites), list(ids.values()), codes=ids)
    if uq.get_by_username(engine, username) is not None:
        raise AuthError(f"user {username!r} already exists")
    return uq.insert(engine, actor, username=username, display_name=display_name or username,
                     password_hash=hash_password(password), role=role, locale=locale, all_sites=bool(all_sites),
                     site_ids=list(ids.values()))


def set_password(engine: sa.Engine, username: str, password: str, actor: Scope = SYSTEM) -> None:
    user = uq.get_by_username(engine, username)
    if user is None:
        raise AuthError(f"no user {username!r}")
    if actor.user_id != user.id:
        _check_target(actor, user)
    uq.update(engine, actor, user.id, action="user_password", password_hash=hash_password(password))
    uq.revoke_sessions(engine, user.id, reason="password_change")


def set_locale(engine: sa.Engine, scope: Scope, locale: str) -> None:
    if locale not in LOCALES:
        raise AuthError(f"unknown locale {locale!r}")
    if scope.user_id is None:
        raise AuthError("no user to change")
    uq.update(engine, scope, scope.user_id, action="user_locale", locale=locale)


def set_active(engine: sa.Engine, actor: Scope, user_id: int, active: bool) -> None:
    if actor.user_id == user_id and not active:
        raise AuthError("you cannot disable your own account")
    _check_target(actor, _existing(engine, user_id))
    uq.update(engine, actor, user_id, action="user_enable" if active else "user_disable", active=active)
    if not active:
        uq.revoke_sessions(engine, user_id, reason="disabled")


def set_role_and_sites(engine: sa.Engine, actor: Scope, user_id: int, *, role: str, all_sites: bool,
                       site_ids: list[int]) -> None:
    if role not in ROLE_PERMISSIONS:
        raise AuthError(f"unknown role {role!r}")
    if not all_sites and not site_ids:
        raise AuthError("choose at least one site, or every site")
    target = _existing(engine, user_id)
    _check_target(actor, target)
    _check_grant(actor, all_sites, site_ids)
    if not all_sites and not actor.all_sites:
        # Sites of the user that the actor cannot see stay as they are (the actor may neither see nor drop them).
        site_ids = sorted(set(site_ids) | {s for s in target.site_ids if not actor.allows_site(s)})
    uq.update(engine, actor, user_id, action="user_role", role=role, all_sites=all_sites,
              site_ids=[] if all_sites else site_ids)


def backoff_s(failures: int, *, allowed: int, base_s: float, max_s: float) -> float:
    """Seconds to wait after ``failures`` failed attempts: none up to ``allowed``, then base, 2x base, 4x... capped."""
    if failures < allowed:
        return 0.0
    factor: int = 2 ** min(failures - allowed, 40)
    return min(max_s, base_s * factor)


def _throttle_decision(counts: uq.AttemptCounts, settings: Settings) -> float:
    """Seconds left before another attempt is allowed (0: go ahead)."""
    wait = 0.0
    for failures, last_at, allowed in ((counts.account_failures, counts.account_last_at, settings.login_max_failures),
                                       (counts.client_failures, counts.client_last_at,
                                        4 * settings.login_max_failures)):
        b = backoff_s(failures, allowed=allowed, base_s=settings.login_backoff_s, max_s=settings.login_backoff_max_s)
        if b and last_at is not None:
            wait = max(wait, b - (counts.now - last_at).total_seconds())
    return wait


def authenticate(engine: sa.Engine, username: str, password: str, *, client: str = "local") -> uq.UserRow:
    """The user if the password matches; raises LoginFailed otherwise.  Every outcome is audited.

    Throttled per account and per client (``client``: the caller's address): after
    ``QHSE_LOGIN_MAX_FAILURES`` failures within ``QHSE_LOGIN_WINDOW_S`` (4x that per client) each
    further attempt must wait an exponentially growing back-off, refused with
    :class:`LoginThrottled` without checking the password.  The counts live in PostgreSQL, so
    they hold across dashboard processes.  Password checks run under a bounded semaphore.
    """
    from qhse.settings import get_settings

    settings = get_settings()
    name = (username or "").strip().lower()[:80]
    client = (client or "unknown")[:100]
    wait: list[float] = [0.0]

    def decide(counts: uq.AttemptCounts) -> bool:
        wait[0] = _throttle_decision(counts, settings)
        return wait[0] <= 0

    attempt = uq.begin_attempt(engine, name, client, settings.login_window_s, decide)
    if attempt is None:
        user = uq.get_by_username(engine, name) if name else None
        if user is not None:
            uq.record_login(engine, user, ok=False, reason="throttled")
        else:
            uq.record_unknown_login(engine, name, reason="throttled")
        raise LoginThrottled(wait[0])
    ok = False
    try:
        user = uq.get_by_username(engine, name) if name else None
        if user is None:
            # Spend the same time as a real check so a missing user is not revealed by timing.
            _bounded_verify(_DUMMY_HASH, password or "")
            uq.record_unknown_login(engine, name)
            raise LoginFailed("wrong username or password")
        if not _bounded_verify(user.password_hash, password or ""):
            uq.record_login(engine, user, ok=False, reason="bad password")
            raise LoginFailed("wrong username or password")
        if not user.active:
            uq.record_login(engine, user, ok=False, reason="disabled")
            raise LoginFailed("this account is disabled")
        ok = True
    finally:
        uq.end_attempt(engine, attempt, ok)
    if _hasher.check_needs_rehash(user.password_hash):
        uq.update(engine, scope_for_user(user), user.id, action="user_rehash", password_hash=_hasher.hash(password))
    uq.record_login(engine, user, ok=True)
    return user


# -- dashboard sessions -----------------------------------------------------------------------
SESSION_COOKIE = "qhse_session"
CODE_TTL_S = 60


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(engine: sa.Engine, user: uq.UserRow, *, client: str | None = None,
                  user_agent: str | None = None) -> tuple[int, str]:
    """Open a server-side session for a signed-in user; returns (session id, one-time code).

    The code (valid ``CODE_TTL_S`` seconds, once, from the same client) is exchanged by the
    browser at ``/auth/session`` for the session cookie; only digests are stored."""
    from qhse.settings import get_settings

    s = get_settings()
    code = secrets.token_urlsafe(32)
    sid = uq.insert_session(engine, user_id=user.id, code_hash=_digest(code), code_ttl_s=CODE_TTL_S,
                            absolute_s=s.session_absolute_s, idle_s=s.session_idle_s, client=client,
                            user_agent=user_agent)
    return sid, code


def redeem_code(engine: sa.Engine, code: str, *, client: str | None = None) -> str | None:
    """The session token (the cookie value) for a valid one-time code, or None."""
    if not code or len(code) > 200:
        return None
    token = secrets.token_urlsafe(32)
    sid = uq.redeem_session_code(engine, _digest(code), _digest(token), client)
    return token if sid is not None else None


def session_from_token(engine: sa.Engine, token: str | None) -> tuple[int, uq.UserRow] | None:
    """(session id, user) for a live session cookie, or None (unknown, revoked, idle, expired, disabled)."""
    if not token or len(token) > 200:
        return None
    hit = uq.touch_session(engine, token_hash=_digest(token))
    if hit is None:
        return None
    user = uq.get_by_id(engine, hit[1])
    return (hit[0], user) if user is not None and user.active else None


def session_alive(engine: sa.Engine, session_id: int) -> bool:
    """Whether a session may still be used (checked on every dashboard run; marks it seen)."""
    return uq.touch_session(engine, session_id=session_id) is not None


def end_session(engine: sa.Engine, *, session_id: int | None = None, token: str | None = None,
                reason: str = "sign_out") -> None:
    if session_id is None and not token:
        return
    uid = uq.revoke_session(engine, reason=reason, session_id=session_id,
                            token_hash=_digest(token) if token else None)
    user = uq.get_by_id(engine, uid) if uid is not None else None
    if user is not None:
        uq.record_session_end(engine, user, reason)


_DUMMY_HASH = _hasher.hash("not-a-real-password")


# -- demo accounts ------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    display_name: str
    sites: tuple[str, ...]  # empty: every site
    locale: str = "en"


DEMO_USERS = (
    DemoUser("admin", "admin", "Platform administrator", ()),
    DemoUser("group.manager", "group_manager", "Group HSE director", ()),
    DemoUser("plant.manager", "plant_manager", "HSE manager, Shenzhen Electronics", ("SZ-ELEC",)),
    DemoUser("plant.head", "plant_head", "Plant head, South China", ("SZ-ELEC", "SZ-PREC")),
    DemoUser("data.scientist", "data_scientist", "Reliability data scientist", ()),
    DemoUser("security", "security", "Security officer, Suzhou", ("SU-MACH",)),
    DemoUser("inspector", "inspector", "Safety inspector, Dongguan", ("SZ-PREC",), "zh"),
    DemoUser("worker", "worker", "Operator, Shenzhen Electronics", ("SZ-ELEC",), "zh"),
)


def ensure_demo_users(engine: sa.Engine, passwords: Mapping[str, str] | None = None,
                      reset: Iterable[str] | None = None) -> list[tuple[DemoUser, str | None]]:
    """One account per role (created if missing, enabled if disabled); returns (user, password) pairs.

    Without ``passwords`` every account gets a new random password.  With ``passwords`` (username ->
    password, e.g. the demo's kept ones) a new account, or one named in ``reset``, gets its password from
    there; any other keeps the password it has, and its pair holds None when that is no longer the given
    one (changed since, e.g. with ``qhse user passwd NAME``)."""
    out: list[tuple[DemoUser, str | None]] = []
    reset = set(reset or ())
    for d in DEMO_USERS:
        password = passwords[d.username] if passwords else secrets.token_urlsafe(9)
        shown: str | None = password
        existing = uq.get_by_username(engine, d.username)
        if existing is None:
            add_user(engine, username=d.username, password=password, role=d.role, display_name=d.display_name,
                     locale=d.locale, site_codes=list(d.sites), all_sites=not d.sites)
        else:
            if not passwords or d.username in reset:
                set_password(engine, d.username, password)
            elif not verify_password(existing.password_hash, password):
                shown = None
            if not existing.active:
                uq.update(engine, SYSTEM, existing.id, action="user_enable", active=True)
        out.append((d, shown))
    return out
