"""Safety health index per department (and site) and month, and the monthly ranking, from the
month's hazard counts; the index itself (dimensions, weights, ranking) is :mod:`qhse.domain.health_index`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from db.queries._sites import add_months, month_start
from db.queries.health import health_counts
from qhse.domain.access import SiteScope
from qhse.domain.health_index import health_index, inputs_from_counts, ranking
from qhse.domain.performance import PerformanceConfig
from qhse.services.performance import default_config


def health_ranking(engine: sa.Engine, *, month: dt.date, by: str = "department", scope: SiteScope = None,
                   config: PerformanceConfig | None = None, as_of: dt.datetime | None = None,
                   tz: str | None = None) -> list[dict[str, Any]]:
    """The month's health index per unit, its rank, and the change versus the previous month."""
    cfg = (config or default_config()).health_index
    month = month_start(month)
    prev = add_months(month, -1)
    rows = health_counts(engine, start=prev, end=add_months(month, 1), by=by, scope=scope, as_of=as_of, tz=tz)
    cur = {r["unit_id"]: r for r in rows if r["month"] == month}
    before = {r["unit_id"]: r for r in rows if r["month"] == prev}
    return ranking(cur, before, month, cfg)


def health_trend(engine: sa.Engine, *, month: dt.date, months: int = 12, by: str = "department",
                 scope: SiteScope = None, config: PerformanceConfig | None = None,
                 tz: str | None = None) -> list[dict[str, Any]]:
    """Index per unit and month for the ``months`` months ending with ``month`` (for charts)."""
    cfg = (config or default_config()).health_index
    end = add_months(month_start(month), 1)
    rows = health_counts(engine, start=add_months(end, -months), end=end, by=by, scope=scope, tz=tz)
    out = []
    for r in rows:
        i, _ = health_index(inputs_from_counts(r), cfg)
        out.append(dict(unit_id=r["unit_id"], unit=r["unit"], site_code=r["site_code"], month=r["month"], index=i))
    return out
