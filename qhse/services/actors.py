"""Who makes a change: a platform user (from the user table) or a labelled system actor.

Every write of the hazard loop, emergencies, inspections, contractors and alarms names
its actor with a :class:`~qhse.domain.access.Scope`: the dashboard passes the signed-in
user's scope; the command line resolves ``--as USERNAME`` against ``user_account``
(:func:`resolve_user`: unknown or disabled users are refused and the role must hold the
command's permission); jobs act as ``system:<name>`` (:func:`system`).  Free text is
refused (:func:`require`), so a forged name cannot reach ``audit_log``.
"""

from __future__ import annotations

import dataclasses
import re

import sqlalchemy as sa

from qhse.domain.access import SYSTEM, Scope

SYSTEM_RE = re.compile(r"^system(:[a-z0-9][a-z0-9_.-]{0,60})?$")
TOKEN_PREFIX = "token:"  # an HTTP API token (qhse.services.api_tokens): a role and sites, no user id
TOKEN_RE = re.compile(r"^token:[a-z0-9][a-z0-9_.-]{0,59}$")


class ActorError(ValueError):
    """The named actor is not a usable platform user (unknown, disabled, lacking the permission)."""


def system(name: str = "") -> Scope:
    """A system actor such as ``system:worker`` (no user id; acts on every site)."""
    label = "system" if not name else (name if name.startswith("system:") else f"system:{name}")
    if not SYSTEM_RE.match(label):
        raise ActorError(f"bad system actor name {name!r} (use lower-case letters, digits, '.', '_' or '-')")
    return dataclasses.replace(SYSTEM, username=label)


def is_system(scope: Scope) -> bool:
    return scope.user_id is None and bool(SYSTEM_RE.match(scope.username or ""))


def require(actor: object) -> Scope:
    """``actor`` as a Scope: a platform user (with its id) or a ``system:`` actor; else ActorError."""
    if isinstance(actor, Scope):
        if actor.user_id is None and not is_system(actor) and not TOKEN_RE.match(actor.username or ""):
            raise ActorError(f"actor {actor.username!r} is neither a platform user nor a system actor")
        return actor
    if isinstance(actor, str) and SYSTEM_RE.match(actor.strip()):
        return system(actor.strip())
    raise ActorError("who makes the change must be a platform user (signed in, or --as USERNAME) "
                     f"or a system actor such as system:worker, not free text ({str(actor)[:40]!r})")


def resolve_user(engine: sa.Engine, username: str, permission: str | None = None) -> Scope:
    """The Scope of the active platform user ``username``; ActorError when unknown, disabled or
    when their role lacks ``permission`` (see :mod:`qhse.domain.access`)."""
    from db.queries.users import get_by_username
    from qhse.domain import access
    from qhse.services.access import scope_for_user

    name = (username or "").strip().lower()
    if not name:
        raise ActorError("name the platform user to act as (--as USERNAME)")
    if name.startswith("system"):
        raise ActorError("--as takes a platform user name; system actors are for the job runner only")
    user = get_by_username(engine, name)
    if user is None:
        raise ActorError(f"unknown user {name!r} (see 'qhse user list')")
    if not user.active:
        raise ActorError(f"user {name!r} is disabled")
    scope = scope_for_user(user)
    if permission is not None and not access.can(scope, permission):
        raise ActorError(f"user {name!r} (role {user.role}) may not {permission.replace('_', ' ')}")
    return scope
