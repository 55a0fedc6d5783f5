"""Incentive points for valid hazard reports.

A report earns points when it is accepted (assigned to an owner team) and loses them if
it is later rejected.  Default: 5 low, 10 normal, 15 high, 20 severe; a site may set
``settings["incentive_points"] = {"low": 5, "normal": 10, "high": 15, "severe": 20}``
(whole numbers from 0 to 100).
"""

from __future__ import annotations

from db import models as m

DEFAULT_POINTS = {"low": 5, "normal": 10, "high": 15, "severe": 20}


class IncentiveError(ValueError):
    pass


def points_table(site: m.Site) -> dict[str, int]:
    cfg = (site.settings or {}).get("incentive_points") or {}
    if not isinstance(cfg, dict):
        raise IncentiveError(f"site {site.code}: incentive_points must be an object keyed by severity")
    out = dict(DEFAULT_POINTS)
    for sev, v in cfg.items():
        if sev not in DEFAULT_POINTS:
            raise IncentiveError(f"site {site.code}: incentive_points: unknown severity {sev!r}")
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100:
            raise IncentiveError(f"site {site.code}: incentive_points.{sev} must be a whole number 0..100")
        out[sev] = v
    return out


def points_for(site: m.Site, severity: str) -> int:
    return points_table(site)[severity]
