"""Risk picture rules: the 5x5 likelihood x consequence matrix and the per-area risk heat map rows.

Matrix classes (score = likelihood x consequence, both 1..5), the common 5x5 banding:

* 1-4 low, 5-9 medium, 10-16 high, 20-25 extreme.

The combined area risk index (0..100: risk class, hazards by severity, alarms by severity,
predicted failures, confirmed PPE violations) is the one of :mod:`qhse.domain.resources`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from qhse.domain.performance import ResourcesCfg
from qhse.domain.resources import risk_indices

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


HEATMAP_COLUMNS = ["area_id", "site_id", "site", "area", "code", "risk_class", "index", "hazards", "severe_hazards",
                   "alarms", "critical_alarms", "predicted_failures", "ppe_violations"]


def heatmap(inputs: Sequence[Mapping[str, Any]], cfg: ResourcesCfg) -> pd.DataFrame:
    """One row per area (``db.queries.resources.area_risk_inputs`` rows): its risk index and the
    components behind it, by site and highest index first."""
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
    df = pd.DataFrame(out, columns=HEATMAP_COLUMNS)
    return df.sort_values(["site", "index"], ascending=[True, False]).reset_index(drop=True)
