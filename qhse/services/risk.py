"""Risk picture: the 5x5 likelihood x consequence matrix and the site x area risk index.

Matrix classes (score = likelihood x consequence, both 1..5), the common 5x5 banding:

* 1-4 low, 5-9 medium, 10-16 high, 20-25 extreme.

The combined area risk index (0..100: risk class, hazards by severity, alarms by severity,
predicted failures, confirmed PPE violations) is the one defined in :mod:`qhse.services.resources`;
here it is computed for the period chosen on the page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.queries import resources as rq
from db.queries import risk as riskq
from db.queries.scope import Scope
from qhse.domain.performance import default_config
from qhse.services.resources import risk_indices

CLASSES = ("low", "medium", "high", "extreme")
CLASS_COLORS = {"low": "#b7e4c7", "medium": "#ffe066", "high": "#ffa94d", "extreme": "#ff6b6b"}


def classify(likelihood: int, consequence: int) -> str:
    if not (1 <= likelihood <= 5 and 1 <= consequence <= 5):
        raise ValueError("likelihood and consequence run from 1 to 5")
    score = likelihood * consequence
    if score <= 4:
        return "low"
    if score <= 9:
        return "medium"
    if score <= 16:
        return "high"
    return "extreme"


def matrix(register: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts, classes): 5x5 frames indexed by likelihood 5..1 (rows) and consequence 1..5 (columns)."""
    rows, cols = [5, 4, 3, 2, 1], [1, 2, 3, 4, 5]
    counts = pd.DataFrame(0, index=rows, columns=cols)
    if len(register):
        g = register.groupby(["likelihood", "consequence"]).size()
        for (lk, cq), n in g.items():
            counts.loc[int(lk), int(cq)] = int(n)
    classes = pd.DataFrame([[classify(r, c) for c in cols] for r in rows], index=rows, columns=cols)
    return counts, classes


def area_heatmap(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, site_ids=None,
                 area_ids=None) -> pd.DataFrame:
    """One row per area in scope: its risk index over [start, end) and the components behind it."""
    cfg = default_config().resources
    sc = dataclasses.replace(scope, site_ids=scope.sites(site_ids))
    days = max(1, round((end - start).total_seconds() / 86400))
    inputs = rq.area_risk_inputs(engine, as_of=end, window_days=days, scope=sc)
    if area_ids:
        keep = set(area_ids)
        inputs = [a for a in inputs if a["area_id"] in keep]
    idx = risk_indices(inputs, cfg)
    out = []
    for a in inputs:
        r = idx[a["area_id"]]
        hz = a.get("hazards_by_severity") or {}
        al = a.get("alarms_by_severity") or {}
        out.append({"area_id": a["area_id"], "site_id": a["site_id"], "site": a["site_code"], "area": a["name"],
                    "code": a["code"], "risk_class": a["risk_class"], "index": round(r["index"], 1),
                    "hazards": int(a["hazards"]), "severe_hazards": int(hz.get("severe", 0) + hz.get("high", 0)),
                    "alarms": int(sum(al.values())), "critical_alarms": int(al.get("critical", 0)),
                    "predicted_failures": float(a["predicted_failures"] or 0.0),
                    "ppe_violations": int(a["ppe_violations"] or 0)})
    df = pd.DataFrame(out, columns=["area_id", "site_id", "site", "area", "code", "risk_class", "index", "hazards",
                                    "severe_hazards", "alarms", "critical_alarms", "predicted_failures",
                                    "ppe_violations"])
    return df.sort_values(["site", "index"], ascending=[True, False]).reset_index(drop=True)


def hazard_matrix(engine: sa.Engine, scope: Scope, *, start: dt.datetime, end: dt.datetime, site_ids=None,
                  area_ids=None, open_only: bool = False) -> dict:
    reg = riskq.hazard_register(engine, scope, start=start, end=end, site_ids=site_ids, area_ids=area_ids,
                                open_only=open_only)
    counts, classes = matrix(reg)
    return {"register": reg, "counts": counts, "classes": classes}
