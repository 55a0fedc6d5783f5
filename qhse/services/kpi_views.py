"""What the Scorecards, Site comparison and Resources pages show, ready to draw.

Each function takes ``(engine, scope, ...)`` like every dashboard read: ``scope`` is the
caller's :class:`qhse.domain.access.Scope`; the sites a page asks for (``site_ids``) are
narrowed to it here, and the queries below apply the result, so a page can never widen
what a user sees.  Results are plain DataFrames and dicts (cacheable).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

import pandas as pd
import sqlalchemy as sa

from db.queries import scorecards as sq
from db.queries._sites import month_start
from qhse.domain.access import SiteScope
from qhse.domain.kpi import KPIS
from qhse.domain.resources import COMPONENTS
from qhse.services.health_index import health_ranking
from qhse.services.resources import recommend
from qhse.services.site_comparison import comparison, hierarchy


def _sites(scope: SiteScope, site_ids: Iterable[int] | None) -> list[int] | None:
    """Requested sites narrowed to the scope (None: every site the scope allows)."""
    if scope is None:
        return None if site_ids is None else sorted({int(s) for s in site_ids})
    ids = scope.sites(site_ids) if hasattr(scope, "sites") else site_ids
    return None if ids is None else sorted(ids)


# ------------------------------------------------------------------------------ scorecards
def scorecard_months(engine: sa.Engine, scope: SiteScope) -> list[dt.date]:
    """Months that have scores the caller may see, newest first."""
    return sq.score_months(engine, _sites(scope, None))


def scorecard_table(engine: sa.Engine, scope: SiteScope, *, month: dt.date, site_ids: Iterable[int] | None = None,
                    level: str | None = None, stage: str | None = None) -> pd.DataFrame:
    """The month's scores (one row per indicator and unit) with previous rating and plan flag."""
    rows = sq.scores(engine, month=month_start(month), scope=_sites(scope, site_ids), level=level, stage=stage)
    cols = ["id", "unit_type", "unit_id", "unit", "site_code", "code", "version", "name", "name_zh", "level", "stage",
            "value", "value_unit", "target", "excellent_at", "qualified_at", "higher_is_better", "rating",
            "previous_rating", "previous_value", "needs_plan", "manual", "manual_entry_by", "manual_evidence",
            "evidence_rows", "numerator", "denominator", "formula", "source"]
    return pd.DataFrame(rows, columns=cols)


def rating_counts(engine: sa.Engine, scope: SiteScope, *, month: dt.date, site_ids: Iterable[int] | None = None,
                  level: str | None = None, stage: str | None = None) -> dict[str, int]:
    """How many of the month's scores (of a level and stage) got each rating, and how many are flagged."""
    out = {"excellent": 0, "qualified": 0, "needs_improvement": 0, "not_available": 0, "flagged": 0}
    for r in sq.scores(engine, month=month_start(month), scope=_sites(scope, site_ids), level=level, stage=stage):
        out[r["rating"]] += 1
        out["flagged"] += bool(r["needs_plan"])
    return out


def score_detail(engine: sa.Engine, scope: SiteScope, score_id: int, months: int = 12) -> dict[str, Any]:
    """One score with its evidence rows (a DataFrame per table) and the unit's history for
    the indicator.  Raises ``db.queries.scorecards.EvidenceNotVisible`` outside the scope."""
    ev = sq.score_evidence(engine, _sites(scope, None), int(score_id))
    hist = sq.score_history(engine, code=ev["code"], unit_type=ev["unit_type"], unit_id=ev["unit_id"],
                            scope=_sites(scope, None), months=months, until=ev["period"])
    tables = {name: pd.DataFrame(rows).drop(columns=["site_id"], errors="ignore")
              for name, rows in ev["tables"].items()}
    head = {k: v for k, v in ev.items() if k != "tables"}
    return {"score": head, "tables": tables, "history": pd.DataFrame(
        hist, columns=["period", "value", "rating", "needs_plan", "version", "excellent_at", "qualified_at", "target"])}


def manual_entry_targets(engine: sa.Engine, scope: SiteScope, *, month: dt.date,
                         site_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Manual-check indicators and the units they apply to in the month (with any entry made)."""
    df = scorecard_table(engine, scope, month=month, site_ids=site_ids)
    return df[df["manual"].astype(bool)].reset_index(drop=True) if not df.empty else df


def enter_manual_score(engine: sa.Engine, scope: SiteScope, *, score_id: int, value: float, checked_by: str,
                       evidence: str) -> dict[str, Any]:
    """Record a manual-check result for the unit and month of an existing placeholder score."""
    from qhse.domain.scorecards import Unit
    from qhse.services.scorecards import record_manual_entry

    ev = sq.score_evidence(engine, _sites(scope, None), int(score_id))
    unit = Unit(ev["unit_type"], int(ev["unit_id"]), ev["site_id"])
    return record_manual_entry(engine, code=ev["code"], unit=unit, month=ev["period"], value=value,
                               entered_by=checked_by, evidence=evidence, scope=scope)


# -------------------------------------------------------------------------- site comparison
def comparison_view(engine: sa.Engine, scope: SiteScope, *, month: dt.date, months: int = 1, level: str = "site",
                    region_id: int | None = None, site_id: int | None = None,
                    site_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """KPIs side by side for regions, plants or one plant's areas, with benchmarks, the
    total from summed counts, the plants' health ranking and their local indicators."""
    sites = _sites(scope, site_ids)
    if site_id is not None and sites is not None and site_id not in sites:
        return {"rows": pd.DataFrame(), "benchmarks": pd.DataFrame(), "total": {}, "local": pd.DataFrame(),
                "health": pd.DataFrame(), "period": ""}
    # An area comparison without site_id reaches the query with ("site", None), as it always has.
    parent = cast("tuple[str, int] | None",
                  ("site", site_id) if level == "area" else (("region", region_id) if region_id is not None else None))
    c = comparison(engine, month=month_start(month), months=months, level=level, parent=parent, scope=sites)
    bench = pd.DataFrame([{"code": k, **v} for k, v in c.benchmarks.items()])
    local = pd.DataFrame(c.local_indicators)
    if not local.empty:
        local["value"] = pd.to_numeric(local["value"], errors="coerce")
    health = pd.DataFrame()
    if level in ("site", "region"):
        health = pd.DataFrame(health_ranking(engine, month=month_start(month), by="site", scope=sites))
    rows = pd.DataFrame(c.rows)
    if not rows.empty:
        rows["hours"] = pd.to_numeric(rows["hours"], errors="coerce").round(0)
        for k in KPIS:  # a value that cannot be computed is missing (NaN), never the text "None"
            for col in (k.code, f"{k.code}_previous"):
                if col in rows:
                    rows[col] = pd.to_numeric(rows[col], errors="coerce")
        short = rows["code"] if "code" in rows else pd.Series([None] * len(rows))
        rows["label"] = [s if isinstance(s, str) and s else u for s, u in zip(short, rows["unit"], strict=False)]
    return {"rows": rows, "benchmarks": bench, "total": c.total,
            "local": local, "health": health, "period": c.report.period_label}


def department_health(engine: sa.Engine, scope: SiteScope, *, month: dt.date,
                      site_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Safety health index per department for the month, ranked, with the change vs last month."""
    return pd.DataFrame(health_ranking(engine, month=month_start(month), by="department",
                                       scope=_sites(scope, site_ids)))


def drill_hierarchy(engine: sa.Engine, scope: SiteScope) -> list[dict[str, Any]]:
    return hierarchy(engine, _sites(scope, None))


def kpi_legend() -> pd.DataFrame:
    return pd.DataFrame([dict(code=k.code, label=k.label, short=k.short, kind=k.kind, unit=k.unit,
                              higher_is_better=k.higher_is_better, formula=k.description) for k in KPIS])


# -------------------------------------------------------------------------------- resources
def resources_view(engine: sa.Engine, scope: SiteScope, *, site_ids: Iterable[int] | None = None,
                   area_ids: Iterable[int] | None = None, as_of: dt.datetime | None = None) -> dict[str, Any]:
    """Area risk indices and the recommended distribution of each resource kind vs stock.

    The distribution is computed per plant over all its areas; ``area_ids`` only narrows
    the area rows shown."""
    rec = recommend(engine, scope=_sites(scope, site_ids), as_of=as_of)
    areas, rows = pd.DataFrame(rec.areas), pd.DataFrame(rec.rows)
    if area_ids:
        keep = {int(a) for a in area_ids}
        areas = areas[areas["area_id"].isin(keep)].reset_index(drop=True) if not areas.empty else areas
        rows = rows[rows["area_id"].isin(keep)].reset_index(drop=True) if not rows.empty else rows
    return {"as_of": rec.as_of, "window_days": rec.window_days, "areas": areas, "rows": rows,
            "summary": pd.DataFrame(rec.summary), "components": list(COMPONENTS)}

