"""Risk-based allocation of emergency resources per plant: the inputs read from the database,
the rules (area risk index, distribution, gaps) in :mod:`qhse.domain.resources`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from db.queries.resources import area_risk_inputs, latest_activity
from qhse.domain.access import SiteScope
from qhse.domain.performance import PerformanceConfig
from qhse.domain.resources import recommend_from_inputs
from qhse.services.performance import default_config


@dataclass
class Recommendation:
    as_of: dt.datetime
    window_days: int
    areas: list[dict[str, Any]]  # one per area: risk index and components
    rows: list[dict[str, Any]]  # one per area and kind: stocked, recommended, gap
    summary: list[dict[str, Any]]  # one per site and kind: stocked, recommended, shortage, surplus


def recommend(engine: sa.Engine, *, scope: SiteScope = None, as_of: dt.datetime | None = None,
              config: PerformanceConfig | None = None) -> Recommendation:
    """Risk index per area and the recommended distribution of each resource kind per plant.

    ``as_of`` defaults to the newest hazard or alarm recorded (or now)."""
    cfg = (config or default_config()).resources
    if as_of is None:
        as_of = latest_activity(engine) or dt.datetime.now(dt.UTC)
    inputs = area_risk_inputs(engine, as_of=as_of, window_days=cfg.window_days, scope=scope)
    areas, rows, summary = recommend_from_inputs(inputs, cfg)
    return Recommendation(as_of=as_of, window_days=cfg.window_days, areas=areas, rows=rows, summary=summary)
