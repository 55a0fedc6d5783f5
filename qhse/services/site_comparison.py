"""Site comparison: the same KPIs side by side with the group median and best as benchmarks
(levels and benchmarks: :mod:`qhse.domain.site_comparison`).

Drill-down: group -> regions -> plants -> areas (``level`` and ``parent``).  Frequency rates
are normalised per hours worked, so plants of different size compare fairly; the total
line is computed from summed counts.  Plants' local indicators (``settings.local_indicators``)
are listed beside the common KPIs with their latest recorded result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from db.queries.kpi import scoped_sites
from db.queries.scorecards import local_indicator_scores
from qhse.domain.access import SiteScope
from qhse.domain.kpi_report import KpiReport
from qhse.domain.performance import PerformanceConfig
from qhse.domain.site_comparison import benchmarks, check_level
from qhse.services.health_index import health_ranking
from qhse.services.kpi_report import kpi_report


@dataclass
class Comparison:
    level: str
    parent: tuple[str, int] | None
    report: KpiReport
    rows: list[dict[str, Any]]  # one per unit: label, key, hours, each KPI value
    benchmarks: dict[str, dict[str, Any]]  # code -> {median, best, higher_is_better}
    total: dict[str, Any]
    local_indicators: list[dict[str, Any]]


def comparison(engine: sa.Engine, *, month: dt.date, months: int = 1, level: str = "site",
               parent: tuple[str, int] | None = None, scope: SiteScope = None, config: PerformanceConfig | None = None
               ) -> Comparison:
    """KPIs per region, plant or area (within ``parent``), with median and best benchmarks."""
    check_level(level, parent)
    rep = kpi_report(engine, month=month, months=months, by=level, scope=scope, parent=parent, config=config)
    rows = []
    health = {}
    if level == "site":
        health = {h["unit_id"]: h for h in health_ranking(engine, month=month, by="site", scope=scope,
                                                           config=config)}
    for r in rep.rows:
        rec = {"key": r.key, "unit": r.label, "hours": r.counts.hours if r.counts.hours_known else None,
               **{k: v for k, v in r.meta.items() if k in ("site_id", "region_id", "code", "risk_class")},
               **r.values}
        for code, ch in r.changes.items():
            rec[f"{code}_direction"] = ch.direction
            rec[f"{code}_previous"] = ch.previous
        if level == "site":
            h = health.get(r.key)
            rec["health_index"] = h["index"] if h else None
            rec["health_rank"] = h["rank"] if h else None
        rows.append(rec)
    bench = benchmarks(rows)
    total = {"unit": rep.total.label, "hours": rep.total.counts.hours, **rep.total.values}
    local = []
    if level in ("site", "region"):
        local = local_indicator_scores(engine, month=month, scope=scope)
        if parent and parent[0] == "region":
            in_region = {s["id"] for s in scoped_sites(engine, scope) if s["region_id"] == parent[1]}
            local = [x for x in local if x["site_id"] in in_region]
    elif parent:
        local = [x for x in local_indicator_scores(engine, month=month, scope=scope) if x["site_id"] == parent[1]]
    return Comparison(level=level, parent=parent, report=rep, rows=rows, benchmarks=bench, total=total,
                      local_indicators=local)


def hierarchy(engine: sa.Engine, scope: SiteScope = None) -> list[dict[str, Any]]:
    """Regions with their plants, as the caller may see them (for drill-down selectors)."""
    regions: dict[int, dict[str, Any]] = {}
    for s in scoped_sites(engine, scope):
        reg = regions.setdefault(s["region_id"], {"id": s["region_id"], "code": s["region_code"],
                                                  "name": s["region_name"], "sites": []})
        reg["sites"].append({"id": s["id"], "code": s["code"], "name": s["name"], "industry": s["industry"]})
    return list(regions.values())
