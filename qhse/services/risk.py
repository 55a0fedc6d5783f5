"""Risk picture for the period chosen on the page: the hazard register on the 5x5 matrix and the
site x area risk heat map; the rules (matrix classes, area risk index) are :mod:`qhse.domain.risk`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa

from db.queries import resources as rq
from db.queries import risk as riskq
from qhse.domain.access import Scope
from qhse.domain.risk import heatmap, matrix
from qhse.services.performance import default_config


def area_heatmap(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime,
                 site_ids: Iterable[int] | None = None, area_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """One row per area in scope: its risk index over [start, end) and the components behind it."""
    cfg = default_config().resources
    sc = dataclasses.replace(scope, site_ids=scope.sites(site_ids))
    days = max(1, round((end - start).total_seconds() / 86400))
    inputs = rq.area_risk_inputs(engine, as_of=end, window_days=days, scope=sc)
    if area_ids:
        keep = set(area_ids)
        inputs = [a for a in inputs if a["area_id"] in keep]
    return heatmap(inputs, cfg)


def hazard_matrix(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime,
                  site_ids: Iterable[int] | None = None, area_ids: Iterable[int] | None = None,
                  open_only: bool = False) -> dict[str, Any]:
    reg = riskq.hazard_register(engine, scope, start=start, end=end, site_ids=site_ids, area_ids=area_ids,
                                open_only=open_only)
    counts, classes = matrix(reg)
    return {"register": reg, "counts": counts, "classes": classes}
