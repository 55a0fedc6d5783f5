"""Site scope and reporting-period helpers shared by the KPI, scorecard and resource queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo


def site_list(scope) -> list[int] | None:
    """The caller's site scope as a list of ids (None: every site).

    Accepts None, an iterable of ids, or a scope object with a ``site_ids`` attribute
    (``qhse.domain.access.Scope``)."""
    if scope is None:
        return None
    if hasattr(scope, "site_ids") and not isinstance(scope, (list, tuple, set, frozenset)):
        ids = scope.site_ids
        return None if ids is None else sorted({int(s) for s in ids})
    if isinstance(scope, Iterable):
        return sorted({int(s) for s in scope})
    raise TypeError(f"site scope must be None, a list of site ids or a Scope (got {type(scope).__name__})")


def scope_params(scope) -> dict:
    """Bind parameters for ``(:all_sites OR <col> = ANY(:sites))``."""
    ids = site_list(scope)
    return {"all_sites": ids is None, "sites": ids or []}


def scope_sql(column: str) -> str:
    return f"(:all_sites OR {column} = ANY(:sites))"


def month_start(d: dt.date) -> dt.date:
    return dt.date(d.year, d.month, 1)


def add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months in [start, end)."""
    out, d = [], month_start(start)
    while d < end:
        out.append(d)
        d = add_months(d, 1)
    return out


def local_midnight(d: dt.date, tz: str) -> dt.datetime:
    """Midnight at the start of local day ``d`` in ``tz``, as an aware datetime."""
    return dt.datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz))


def default_tz() -> str:
    from qhse.settings import get_settings

    return get_settings().timezone
