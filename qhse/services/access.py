"""Access applied to stored things: the Scope of a user row, and the sensitive columns of a table.

The policy itself (roles, permissions, :class:`~qhse.domain.access.Scope`, masking) is
:mod:`qhse.domain.access`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from qhse.domain.access import Scope, scope_for

__all__ = ["scope_for_user", "sensitive_columns"]


class UserLike(Protocol):
    """What a Scope is made from: a ``db.queries.users.UserRow`` or anything with the same attributes."""

    @property
    def id(self) -> int | None: ...
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def all_sites(self) -> bool: ...
    @property
    def site_ids(self) -> Iterable[int]: ...


def scope_for_user(user: UserLike) -> Scope:
    """Scope from a ``db.queries.users.UserRow`` (or anything with the same attributes)."""
    return scope_for(user_id=user.id, username=user.username, role=user.role, all_sites=user.all_sites,
                     site_ids=user.site_ids)


def sensitive_columns(table: Any) -> list[str]:
    """Names of the columns of a SQLAlchemy table (or model) marked sensitive (``info={'sensitive': True}``)."""
    t = getattr(table, "__table__", table)
    return [c.name for c in t.columns if c.info.get("sensitive")]
