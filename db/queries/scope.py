"""The caller's data scope, passed into every read query.

A ``Scope`` says which sites a caller may see and whether sensitive person fields may be
read.  The access policy (``qhse.services.access``) decides what goes into it; the query layer
only applies it, so a page cannot widen it: ``scope.site_filter(column, requested)``
returns the intersection of what was asked for and what is allowed, and a query with an
empty intersection returns no row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa


MASK = "••••"  # what a masked sensitive value reads as


@dataclass(frozen=True)
class Scope:
    """Who is asking and what they may see.  Frozen and hashable (usable as a cache key)."""

    user_id: int | None
    username: str
    role: str
    site_ids: tuple[int, ...] | None  # None: every site
    sensitive: bool = False  # may read sensitive person fields (health)

    @property
    def all_sites(self) -> bool:
        return self.site_ids is None

    def allows_site(self, site_id: int | None) -> bool:
        return self.site_ids is None or (site_id is not None and site_id in self.site_ids)

    def sites(self, requested: Iterable[int] | None = None) -> tuple[int, ...] | None:
        """Site ids to query: the requested ones that are allowed (None: no restriction at all)."""
        if requested is None:
            return self.site_ids
        req = tuple(sorted({int(s) for s in requested}))
        if self.site_ids is None:
            return req
        allowed = set(self.site_ids)
        return tuple(s for s in req if s in allowed)

    def site_filter(self, column, requested: Iterable[int] | None = None):
        """A WHERE clause on ``column`` (a site id column) for this scope and request."""
        ids = self.sites(requested)
        if ids is None:
            return sa.true()
        if not ids:
            return sa.false()
        return column.in_(ids)

    def describe(self) -> str:
        where = "all sites" if self.site_ids is None else f"sites {list(self.site_ids)}"
        return f"{self.username} ({self.role}, {where})"


# Internal jobs and the CLI act on every site.
SYSTEM = Scope(user_id=None, username="system", role="admin", site_ids=None, sensitive=False)
