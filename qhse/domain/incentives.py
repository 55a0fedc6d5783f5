"""Incentive points for valid hazard reports.

A report earns points when it is accepted (assigned to an owner team) and loses them if
it is later rejected.  Default: 5 low, 10 normal, 15 high, 20 severe; a site may set
``settings["incentive_points"] = {"low": 5, "normal": 10, "high": 15, "severe": 20}``
(whole numbers from 0 to 100).
"""

from __future__ import annotations

from typing import Any

from qhse.vocab import HazardSeverity

_S = HazardSeverity
DEFAULT_POINTS: dict[str, int] = {_S.LOW.value: 5, _S.NORMAL.value: 10, _S.HIGH.value: 15, _S.SEVERE.value: 20}
MAX_POINTS = 100


class IncentiveError(ValueError):
    pass


def points_table(settings: dict[str, Any] | None, site_code: str = "?") -> dict[str, int]:
    """Points per severity for a site, from its settings (``incentive_points``) over the defaults."""
    cfg = (settings or {}).get("incentive_points") or {}
    if not isinstance(cfg, dict):
        raise IncentiveError(f"site {site_code}: incentive_points must be an object keyed by severity")
    out = dict(DEFAULT_POINTS)
    for sev, v in cfg.items():
        if sev not in DEFAULT_POINTS:
            raise IncentiveError(f"site {site_code}: incentive_points: unknown severity {sev!r}")
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_POINTS:
            raise IncentiveError(f"site {site_code}: incentive_points.{sev} must be a whole number 0..{MAX_POINTS}")
        out[sev] = v
    return out


def points_for(settings: dict[str, Any] | None, severity: str, site_code: str = "?") -> int:
    return points_table(settings, site_code)[severity]
