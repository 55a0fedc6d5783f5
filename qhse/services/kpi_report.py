"""KPI tables from the database: counts from ``db.queries.kpi``, formulas from ``qhse.domain.kpi``,
rows, comparison and total line from ``qhse.domain.kpi_report``.

A report covers ``months`` whole months ending with ``month`` (inclusive), groups units by
site, region, department, area or month, and compares each unit with the previous period
of the same length (for a monthly table: with the month before).  The total line is the
group figure computed from summed counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from db.queries._sites import add_months, month_start
from db.queries.kpi import kpi_counts, latest_month_with_data
from qhse.domain.access import SiteScope
from qhse.domain.kpi_report import KpiReport, attach_previous, report_window, row_from_counts, total_row
from qhse.domain.performance import PerformanceConfig
from qhse.services.performance import default_config


def default_month(engine: sa.Engine, scope: SiteScope = None, today: dt.date | None = None) -> dt.date:
    """The last complete month that has data (the month before the current one at most)."""
    today = today or dt.date.today()
    last_complete = add_months(month_start(today), -1)
    latest = latest_month_with_data(engine, scope)
    return last_complete if latest is None else min(latest, last_complete)


def kpi_report(engine: sa.Engine, *, month: dt.date, months: int = 1, by: str = "site", scope: SiteScope = None,
               parent: tuple[str, int] | None = None, config: PerformanceConfig | None = None,
               as_of: dt.datetime | None = None, tz: str | None = None) -> KpiReport:
    """KPIs for the ``months`` months ending with ``month``, one row per unit of ``by``."""
    start, end = report_window(month, months)
    cfg = config or default_config()
    sev = cfg.kpi.severity.convention()
    kw: dict[str, Any] = dict(scope=scope, include_contractors=cfg.kpi.include_contractors, as_of=as_of, tz=tz,
                              parent=parent)
    if by == "month":
        raw = kpi_counts(engine, start=add_months(start, -1), end=end, by="month", **kw)
        all_rows = [row_from_counts(r, sev) for r in raw]
        for prev, cur in zip(all_rows, all_rows[1:], strict=False):
            attach_previous(cur, prev.values)
        rows = all_rows[1:]
    else:
        rows = [row_from_counts(r, sev) for r in kpi_counts(engine, start=start, end=end, by=by, **kw)]
        prev_rows = {r["key"]: row_from_counts(r, sev).values
                     for r in kpi_counts(engine, start=add_months(start, -months), end=start, by=by, **kw)}
        for r in rows:
            attach_previous(r, prev_rows.get(r.key))
    total_now = kpi_counts(engine, start=start, end=end, by="group", **kw)
    total_prev = kpi_counts(engine, start=add_months(start, -months), end=start, by="group", **kw)
    total = total_row(total_now[0] if total_now else None, sev)
    attach_previous(total, row_from_counts(total_prev[0], sev).values if total_prev else None)
    return KpiReport(start=start, end=end, by=by, rows=rows, total=total)


__all__ = ["kpi_report", "default_month"]
