"""Safety health index per department (and site) and month, and the monthly ranking.

Four dimensions, each scored 0..100 (100 = healthiest):

* hazard density: hazards reported per area and month; 100 at none, 0 at
  ``density_at_zero`` or more;
* rectification rate: % of the month's hazards rectified by the month's end;
* repeat rate: 100 - % of the month's hazards that repeat an earlier one;
* severity mix: 100 x (1 - mean severity weight) of the month's hazards.

The index is the weighted mean of the dimensions that have data (weights configurable in
``qhse/domain/performance.yaml``); a month without hazards is scored on density alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qhse.domain.performance import HealthIndexCfg

DIMENSIONS = ("hazard_density", "rectification_rate", "repeat_rate", "severity_mix")


@dataclass(frozen=True)
class HealthInputs:
    hazards: int
    areas: int
    rectified: int = 0
    repeats: int = 0
    severity: Mapping[str, int] | None = None  # count per severity
    months: int = 1


def dimension_scores(inp: HealthInputs, cfg: HealthIndexCfg) -> dict[str, float | None]:
    """Each dimension's 0..100 score (None where it has no data)."""
    out: dict[str, float | None] = dict.fromkeys(DIMENSIONS)
    if inp.areas > 0 and inp.months > 0:
        density = inp.hazards / (inp.areas * inp.months)
        out["hazard_density"] = 100.0 * max(0.0, 1.0 - density / cfg.density_at_zero)
    if inp.hazards > 0:
        out["rectification_rate"] = 100.0 * inp.rectified / inp.hazards
        out["repeat_rate"] = 100.0 * (1.0 - inp.repeats / inp.hazards)
        sev = inp.severity or {}
        n = sum(sev.values())
        if n > 0:
            mean_w = sum(cfg.severity_weights[k] * v for k, v in sev.items()) / n
            out["severity_mix"] = 100.0 * (1.0 - mean_w)
    return out


def combine(scores: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """Weighted mean of the available dimension scores (weights renormalised over them)."""
    num = den = 0.0
    for d in DIMENSIONS:
        v, w = scores.get(d), float(weights.get(d, 0.0))
        if v is None or w <= 0:
            continue
        num += w * v
        den += w
    return None if den == 0 else num / den


def health_index(inp: HealthInputs, cfg: HealthIndexCfg) -> tuple[float | None, dict[str, float | None]]:
    scores = dimension_scores(inp, cfg)
    return combine(scores, cfg.weights.model_dump()), scores


def rank(values: Mapping[object, float | None]) -> dict[object, int | None]:
    """Competition ranking, highest value first (1, 2, 2, 4); units without a value get None."""
    ordered = sorted((v, k) for k, v in values.items() if v is not None)
    ordered.reverse()
    out: dict[object, int | None] = dict.fromkeys(values)
    for k, v in values.items():
        if v is not None:
            out[k] = 1 + sum(1 for x, _ in ordered if x > v + 1e-9)
    return out


def inputs_from_counts(r: dict[str, Any]) -> HealthInputs:
    """The inputs of one unit and month from its counts (``db.queries.health.health_counts`` rows)."""
    return HealthInputs(hazards=r["hazards"], areas=r["areas"], rectified=r["rectified"], repeats=r["repeats"],
                        severity={"low": r["sev_low"], "normal": r["sev_normal"], "high": r["sev_high"],
                                  "severe": r["sev_severe"]})


def ranking(current: Mapping[object, dict[str, Any]], previous: Mapping[object, dict[str, Any]], month: dt.date,
            cfg: HealthIndexCfg) -> list[dict[str, Any]]:
    """The month's index per unit (``current``: unit id -> counts row), its rank, and the change
    versus the previous month (``previous``), best first."""
    idx_now, idx_prev, dims = {}, {}, {}
    for uid, r in current.items():
        idx_now[uid], dims[uid] = health_index(inputs_from_counts(r), cfg)
    for uid, r in previous.items():
        idx_prev[uid], _ = health_index(inputs_from_counts(r), cfg)
    rk_now, rk_prev = rank(idx_now), rank(idx_prev)
    out = []
    for uid, r in current.items():
        i, p = idx_now[uid], idx_prev.get(uid)
        now_rank, prev_rank = rk_now[uid], rk_prev.get(uid)
        out.append(dict(unit_id=uid, unit=r["unit"], site_id=r["site_id"], site_code=r["site_code"], stage=r["stage"],
                        month=month, hazards=r["hazards"], areas=r["areas"], index=i, rank=rk_now[uid],
                        previous_index=p, change=None if i is None or p is None else i - p,
                        previous_rank=rk_prev.get(uid),
                        rank_change=None if now_rank is None or prev_rank is None else prev_rank - now_rank,
                        **{f"score_{d}": v for d, v in dims[uid].items()}))
    out.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, x["unit"]))
    return out
