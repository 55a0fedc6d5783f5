"""Access applied to stored things: the Scope of a user row, and the sensitive columns of a table.

The policy itself (roles, permissions, :class:`~qhse.domain.access.Scope`, masking) is
:mod:`qhse.domain.access`.
"""

from __future__ import annotations

from qhse.domain.access import Scope, scope_for

__all__ = ["scope_for_user", "sensitive_columns"]


def scope_for_user(user) -> Scope:
    """Scope from a ``db.queries.users.UserRow`` (or anything with the same attributes)."""
    return scope_for(user_id=user.id, username=user.username, role=user.role, all_sites=user.all_sites,
                     site_ids=user.site_ids)


def sensitive_columns(table) -> list[str]:
    """Names of the columns of a SQLAlchemy table (or model) marked sensitive (``info={'sensitive': True}``)."""
    t = getattr(table, "__table__", table)
    return [c.name for c in t.columns if c.info.get("sensitive")]
