"""The caller's scope applied in SQL: ``site_filter(scope, column, requested)``.

A :class:`~qhse.domain.access.Scope` says which sites a caller may see and whether
sensitive person fields may be read; the access policy (:mod:`qhse.domain.access`)
decides what goes into it.  The query layer only applies it, so a page cannot widen it:
``site_filter`` returns the intersection of what was asked for and what is allowed, and
a query with an empty intersection returns no row.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from qhse.domain.access import Scope


def site_filter(scope: Scope, column, requested: Iterable[int] | None = None):
    """A WHERE clause on ``column`` (a site id column) for ``scope`` and the request."""
    ids = scope.sites(requested)
    if ids is None:
        return sa.true()
    if not ids:
        return sa.false()
    return column.in_(ids)
