"""The overview page's figures: the safety KPIs of a period next to the previous period (the tiles:
:mod:`qhse.domain.overview`).

KPI formulas come from :mod:`qhse.domain.kpi` and their counts from :mod:`db.queries.kpi`; the
operational counts (overdue actions, open alarms, PPE violations) from
:mod:`db.queries.overview`.  Rates need hours worked, which are recorded per site and
department, not per area: when areas are selected, rates are not available and only
counts and shares are shown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa

from db.queries import kpi as kq
from db.queries import overview as oq
from qhse.domain import kpi
from qhse.domain.access import Scope
from qhse.domain.overview import kpi_tiles, operational_tile


def _narrow(scope: Scope, site_ids: Iterable[int] | None) -> Scope:
    return dataclasses.replace(scope, site_ids=scope.sites(site_ids))


def _counts(engine: sa.Engine, scope: Scope, start: dt.date, end: dt.date, area_ids: Collection[int] | None,
            tz: str | None) -> kpi.KpiCounts:
    if area_ids:
        rows = kq.kpi_counts(engine, start=start, end=end, by="area", scope=scope, tz=tz)
        rows = [r for r in rows if r["key"] in set(area_ids)]
        c = kpi.rollup(kpi.KpiCounts.from_mapping(r) for r in rows)
        c.hours_known = False
        return c
    rows = kq.kpi_counts(engine, start=start, end=end, by="group", scope=scope, tz=tz)
    return kpi.rollup(kpi.KpiCounts.from_mapping(r) for r in rows)


def overview(engine: sa.Engine, scope: Scope, *, start_month: dt.date, end_month: dt.date,
             prev_start_month: dt.date, site_ids: Iterable[int] | None = None,
             area_ids: Collection[int] | None = None, tz: str | None = None,
             now: dt.datetime | None = None) -> dict[str, Any]:
    """Tiles (current vs previous period), the monthly trend and the per-site table."""
    sc = _narrow(scope, site_ids)
    areas = oq.areas_of(engine, sc, area_ids) if area_ids else None
    if area_ids and not areas:
        areas = [-1]  # asked for areas outside the scope: nothing
    cur = _counts(engine, sc, start_month, end_month, areas, tz)
    prev = _counts(engine, sc, prev_start_month, start_month, areas, tz)
    kc, kp = kpi.compute(cur), kpi.compute(prev)
    tiles = kpi_tiles(kc, kp)

    tzname = tz or kq.default_tz()
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tzname)

    def t(d: dt.date) -> dt.datetime:
        return dt.datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(dt.UTC)

    now = now or dt.datetime.now(dt.UTC)
    t_end, t_start, t_prev = min(t(end_month), now), t(start_month), t(prev_start_month)
    ops = [
        ("overdue_actions", "Overdue actions", "at period end", False,
         "corrective actions past due and not completed",
         oq.overdue_actions(engine, sc, at=t_end, area_ids=areas),
         oq.overdue_actions(engine, sc, at=min(t_start, now), area_ids=areas)),
        ("open_alarms", "Open alarms", "at period end", False, "alarms raised and not cleared",
         oq.open_alarms(engine, sc, at=t_end, area_ids=areas)["total"],
         oq.open_alarms(engine, sc, at=min(t_start, now), area_ids=areas)["total"]),
        ("ppe_violations", "PPE violations", "confirmed", False, "confirmed PPE violations from the cameras",
         oq.ppe_violations(engine, sc, start=t_start, end=t_end, area_ids=areas)["confirmed"],
         oq.ppe_violations(engine, sc, start=t_prev, end=t_start, area_ids=areas)["confirmed"]),
    ]
    tiles += [operational_tile(code, label, unit, hib, desc, c, p) for code, label, unit, hib, desc, c, p in ops]

    trend_rows = kq.kpi_counts(engine, start=prev_start_month, end=end_month, by="month", scope=sc, tz=tz) \
        if not areas else []
    trend = pd.DataFrame([{"month": r["month"], **kpi.compute(kpi.KpiCounts.from_mapping(r))} for r in trend_rows])
    site_rows = kq.kpi_counts(engine, start=start_month, end=end_month, by="site", scope=sc, tz=tz) \
        if not areas else []
    by_site = pd.DataFrame([{"site": r.get("code"), "name": r["label"], "hours": r["hours"],
                             "recordable": r["recordable"], "hazards_reported": r["hazards_reported"],
                             **kpi.compute(kpi.KpiCounts.from_mapping(r))} for r in site_rows])
    return {"tiles": tiles, "trend": trend, "by_site": by_site,
            "counts": dataclasses.asdict(cur), "awaiting_review": oq.ppe_violations(
                engine, sc, start=t_start, end=t_end, area_ids=areas)["new"]}
