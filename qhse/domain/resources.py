"""Risk-based allocation of emergency resources (gas detectors, breathing apparatus,
extinguishers, spill kits...).

1. Each area gets a risk index (0..100) from its risk class and, over a look-back window,
   its hazards weighted by severity, its alarms weighted by severity, the failure
   probability predicted for its machines and its confirmed PPE violations.  Each count
   component is scaled by the largest value among the plant's areas; weights are set in
   ``qhse/domain/performance.yaml``.
2. For each plant and kind of resource, the units the plant holds (never fewer than the
   sum of the areas' minimums) are shared out: every area that needs the kind first gets
   its configured minimum, the rest goes in proportion to risk (largest remainders).
   Risk components are scaled within each plant, so a plant's figures do not depend on
   which other plants the caller may see.  An
   area with a higher risk index never gets fewer units than one with a lower index and the
   same minimum, and no area gets fewer than its minimum.
3. Recommended minus stocked is the gap (> 0: shortage, < 0: surplus to move elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from qhse.domain.performance import ResourceKindCfg, ResourcesCfg

COMPONENTS = ("risk_class", "hazards", "alarms", "predicted_failures", "ppe_violations")


def raw_components(area: Mapping[str, Any], cfg: ResourcesCfg) -> dict[str, float]:
    """Unscaled risk components of one area."""
    hz = area.get("hazards_by_severity") or {}
    al = area.get("alarms_by_severity") or {}
    return {
        "risk_class": float(cfg.risk_class_score.get(area["risk_class"], 0.0)),
        "hazards": float(sum(cfg.hazard_severity_weights.get(k, 0) * n for k, n in hz.items())),
        "alarms": float(sum(cfg.alarm_severity_weights.get(k, 0) * n for k, n in al.items())),
        "predicted_failures": float(area.get("predicted_failures") or 0.0),
        "ppe_violations": float(area.get("ppe_violations") or 0),
    }


def risk_indices(areas: Sequence[Mapping[str, Any]], cfg: ResourcesCfg) -> dict[object, dict[str, Any]]:
    """area_id -> {"index": 0..100, "components": scaled 0..1 values, "contributions": each
    component's points of the index} for the areas given."""
    raw = {a["area_id"]: raw_components(a, cfg) for a in areas}
    peak = {c: max((r[c] for r in raw.values()), default=0.0) for c in COMPONENTS if c != "risk_class"}
    weights = cfg.weights.model_dump()
    wsum = sum(weights.values())
    out = {}
    for aid, r in raw.items():
        scaled = {"risk_class": r["risk_class"]}
        for c, pk in peak.items():
            scaled[c] = r[c] / pk if pk > 0 else 0.0
        contrib = {c: 100.0 * weights[c] * scaled[c] / wsum for c in COMPONENTS}
        out[aid] = {"index": sum(contrib.values()), "components": scaled, "contributions": contrib, "raw": r}
    return out


def eligible(area: Mapping[str, Any], kind: ResourceKindCfg) -> bool:
    """Does this area need this kind of resource at all?"""
    if kind.gas_areas_only and not area.get("is_gas_area"):
        return False
    if kind.area_kinds is not None and area.get("kind") not in kind.area_kinds:
        return False
    return True


def allocate(total: int, risks: Mapping[object, float], minimums: Mapping[object, int]) -> dict[object, int]:
    """Share ``total`` units among areas: each gets its minimum, the rest in proportion to risk.

    The pool is never smaller than the sum of the minimums.  Shares are rounded by largest
    remainder, ties going to the higher risk, so a higher-risk area never gets fewer units
    than a lower-risk one with the same minimum.  Zero total risk: shared evenly."""
    if not risks:
        return {}
    if total < 0:
        raise ValueError("total cannot be negative")
    if any(v < 0 for v in risks.values()) or any(v < 0 for v in minimums.values()):
        raise ValueError("risks and minimums cannot be negative")
    ids = list(risks)
    mins = {i: int(minimums.get(i, 0)) for i in ids}
    pool = max(int(total), sum(mins.values()))
    rest = pool - sum(mins.values())
    weight_sum = sum(risks.values())
    weights = {i: (risks[i] / weight_sum if weight_sum > 0 else 1.0 / len(ids)) for i in ids}
    exact = {i: rest * weights[i] for i in ids}
    base = {i: math.floor(exact[i] + 1e-9) for i in ids}
    left = rest - sum(base.values())
    order = sorted(ids, key=lambda i: (-(exact[i] - base[i]), -risks[i], str(i)))
    for i in order[:left]:
        base[i] += 1
    return {i: mins[i] + base[i] for i in ids}


Rows = list[dict[str, Any]]


def recommend_from_inputs(inputs: Sequence[Mapping[str, Any]], cfg: ResourcesCfg) -> tuple[Rows, Rows, Rows]:
    """Area rows with risk, allocation rows and per-site summary."""
    risk: dict[object, dict[str, Any]] = {}
    for site in {a["site_id"] for a in inputs}:
        risk.update(risk_indices([a for a in inputs if a["site_id"] == site], cfg))
    areas = []
    for a in inputs:
        r = risk[a["area_id"]]
        areas.append(dict(area_id=a["area_id"], site_id=a["site_id"], site_code=a.get("site_code"), code=a.get("code"),
                          name=a.get("name"), kind=a.get("kind"), risk_class=a["risk_class"],
                          is_gas_area=bool(a.get("is_gas_area")), risk_index=r["index"],
                          **{f"c_{c}": v for c, v in r["components"].items()},
                          **{f"points_{c}": v for c, v in r["contributions"].items()},
                          hazards=a.get("hazards", 0), ppe_violations=a.get("ppe_violations", 0),
                          predicted_failures=a.get("predicted_failures", 0.0)))
    rows, summary = [], []
    sites = sorted({a["site_id"] for a in inputs})
    for site in sites:
        site_areas = [a for a in inputs if a["site_id"] == site]
        for kind_name, kind in cfg.kinds.items():
            stocked = {a["area_id"]: int((a.get("stocked") or {}).get(kind_name, 0)) for a in site_areas}
            need = [a for a in site_areas if eligible(a, kind)]
            alloc = allocate(sum(stocked.values()), {a["area_id"]: risk[a["area_id"]]["index"] for a in need},
                             {a["area_id"]: kind.minimum for a in need})
            shortage = surplus = 0
            for a in site_areas:
                rec = alloc.get(a["area_id"], 0)
                gap = rec - stocked[a["area_id"]]
                shortage += max(gap, 0)
                surplus += max(-gap, 0)
                if rec or stocked[a["area_id"]]:
                    rows.append(dict(site_id=site, site_code=a.get("site_code"), area_id=a["area_id"],
                                     area=a.get("name"), area_code=a.get("code"), resource=kind_name,
                                     risk_index=risk[a["area_id"]]["index"], risk_class=a["risk_class"],
                                     needed=a["area_id"] in alloc, minimum=kind.minimum if a["area_id"] in alloc else 0,
                                     stocked=stocked[a["area_id"]], recommended=rec, gap=gap))
            summary.append(dict(site_id=site, site_code=site_areas[0].get("site_code"), resource=kind_name,
                                stocked=sum(stocked.values()), recommended=sum(alloc.values()),
                                shortage=shortage, surplus=surplus,
                                to_buy=max(0, sum(alloc.values()) - sum(stocked.values()))))
    return areas, rows, summary
