"""Inspection rules: how often a route is inspected, when each round is due, when it counts
as missed, and what a checklist and its answers must look like.  Pure;
``qhse/services/inspections.py`` schedules, flags and records them (reading the written
answers of the command line is :mod:`qhse.domain.inspection_answers`).

* **Frequency.**  A route's ``frequency_days`` wins; otherwise the area's risk class
  decides: A daily, B every 2 days, C twice a week (every 3.5 days), overridable per site
  with ``settings["inspections"]["frequency_days"] = {"A": 1, "B": 2, "C": 3.5}``
  (:func:`frequency_days`).  Slots are laid on a fixed grid that starts on Monday
  2024-01-01 (site time), so a 3.5-day route falls on Mondays and Thursdays, a 2-day
  route on alternate days, and re-running the scheduler never shifts them
  (:func:`slot_times`).  Each slot is due at ``settings["inspections"]["due_time"]``
  (default 09:00 site time).
* **Misses.**  A scheduled inspection not done ``grace_hours`` after its due time
  (default 12, ``settings["inspections"]["grace_hours"]``) is missed (:func:`is_missed`).
* **Checklists** are lists of items ``{"key", "label", "required", "type": bool | number
  | text}`` with optional ``min`` / ``max`` (number), ``category`` and ``severity``.
  Results must answer every required item with the right type; unknown keys are refused.
  A ``false`` answer, a number outside ``[min, max]`` and every explicit finding becomes
  a hazard report (:func:`check_results`, :func:`check_findings`, :func:`item_category`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

from qhse.vocab import HazardSeverity, RiskClass, values

UTC = dt.UTC
SEVERITIES = values(HazardSeverity)
DEFAULT_FREQUENCY_DAYS = {RiskClass.A.value: 1.0, RiskClass.B.value: 2.0, RiskClass.C.value: 3.5}
MIN_FREQUENCY_DAYS, MAX_FREQUENCY_DAYS = 0.04, 366  # one hour .. one year
GRID_ANCHOR = dt.date(2024, 1, 1)  # a Monday
DEFAULT_DUE_TIME = "09:00"
DEFAULT_GRACE_HOURS = 12.0
ITEM_TYPES = ("bool", "number", "text")
ITEM_FIELDS = {"key", "label", "required", "type", "min", "max", "category", "severity"}
FINDING_FIELDS = {"title", "category", "severity", "description", "asset_id"}
# Category of the hazard a failed item raises, for checklist items that do not name one.
KEY_CATEGORIES = {"exits_clear": "fire", "extinguishers_ok": "fire", "ppe_worn": "ppe", "housekeeping": "housekeeping",
                  "guards_in_place": "machine_guarding", "cabinets_closed": "electrical", "labels_ok": "chemical",
                  "ventilation_ok": "ventilation", "spill_kit_ok": "chemical", "lockout_ok": "lockout"}


class InspectionError(ValueError):
    """Bad inspection input or configuration, in one line."""


# -------------------------------------------------------------------------- configuration
def site_config(settings: dict[str, Any] | None, site_code: str = "?") -> dict[str, Any]:
    cfg = (settings or {}).get("inspections") or {}
    if not isinstance(cfg, dict):
        raise InspectionError(f"site {site_code}: settings.inspections must be an object")
    return cfg


def frequency_days(route_frequency: float | None, risk_class: str, settings: dict[str, Any] | None, *,
                   site_code: str = "?", area_code: str = "?", route_name: str = "?") -> float:
    """Days between two inspections of a route: its own frequency, else its area's risk class."""
    if route_frequency is not None:
        f = float(route_frequency)
    else:
        table = {**DEFAULT_FREQUENCY_DAYS, **(site_config(settings, site_code).get("frequency_days") or {})}
        if risk_class not in table:
            raise InspectionError(f"area {area_code}: no inspection frequency for risk class {risk_class!r}")
        f = float(table[risk_class])
    if not (MIN_FREQUENCY_DAYS <= f <= MAX_FREQUENCY_DAYS):
        raise InspectionError(f"route {route_name!r}: frequency {f:g} days is out of range (1 hour .. 1 year)")
    return f


def check_frequency(frequency: float | None) -> None:
    if frequency is not None and not (MIN_FREQUENCY_DAYS <= float(frequency) <= MAX_FREQUENCY_DAYS):
        raise InspectionError(f"frequency_days must be between {MIN_FREQUENCY_DAYS} and {MAX_FREQUENCY_DAYS}")


def due_time(settings: dict[str, Any] | None, site_code: str = "?") -> dt.time:
    raw = str(site_config(settings, site_code).get("due_time", DEFAULT_DUE_TIME))
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise InspectionError(f"site {site_code}: inspections.due_time {raw!r} is not HH:MM") from None


def grace_hours(settings: dict[str, Any] | None, site_code: str = "?") -> float:
    v = site_config(settings, site_code).get("grace_hours", DEFAULT_GRACE_HOURS)
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InspectionError(f"site {site_code}: inspections.grace_hours must be a number") from None
    if v < 0:
        raise InspectionError(f"site {site_code}: inspections.grace_hours cannot be negative")
    return v


def schedule_start(now: dt.datetime, tz: ZoneInfo, latest_due: dt.datetime | None) -> dt.datetime:
    """Where a route's new slots start: local midnight today, or just after its latest inspection."""
    start_local = dt.datetime.combine(now.astimezone(tz).date(), dt.time(0), tzinfo=tz).astimezone(UTC)
    return max(start_local, latest_due + dt.timedelta(seconds=1)) if latest_due else start_local


def slot_times(every_days: float, start: dt.datetime, end: dt.datetime, tz: ZoneInfo,
               due_time: dt.time) -> list[dt.datetime]:
    """Due times of the grid slots in [start, end) for a route inspected every ``every_days``.

    Slot k starts ``k * every_days`` days after the grid anchor; it is due on the day that
    slot starts, at ``due_time``.  Returned in UTC, ascending, without duplicates.
    """
    if every_days >= 1:
        d0 = start.astimezone(tz).date() - dt.timedelta(days=1)
        d1 = end.astimezone(tz).date() + dt.timedelta(days=1)
        k0 = math.floor((d0 - GRID_ANCHOR).days / every_days)
        k1 = math.ceil((d1 - GRID_ANCHOR).days / every_days)
        out: list[dt.datetime] = []
        for k in range(k0, k1 + 1):
            day = GRID_ANCHOR + dt.timedelta(days=math.floor(k * every_days + 1e-9))
            t = dt.datetime.combine(day, due_time, tzinfo=tz).astimezone(UTC)
            if start <= t < end and (not out or out[-1] != t):
                out.append(t)
        return out
    # More than once a day: slots on the grid from local midnight of the anchor.
    origin = dt.datetime.combine(GRID_ANCHOR, dt.time(0), tzinfo=tz).astimezone(UTC)
    step = dt.timedelta(days=every_days)
    k = math.ceil((start - origin) / step)
    out = []
    t = origin + k * step
    while t < end:
        out.append(t)
        t += step
    return out


def is_missed(due_at: dt.datetime, grace_h: float, now: dt.datetime) -> bool:
    """A scheduled inspection is missed once ``grace_h`` hours past its due time."""
    return due_at + dt.timedelta(hours=grace_h) <= now


def missed_notice(*, route_name: str, inspection_id: int, due_at: dt.datetime, grace_h: float) -> tuple[str, str]:
    subject = f"Missed inspection: {route_name} (due {due_at:%Y-%m-%d %H:%M} UTC)"
    body = (f"Inspection #{inspection_id} of route {route_name!r} was due {due_at:%Y-%m-%d %H:%M} UTC "
            f"and was not done within {grace_h:g} h.")
    return subject, body


# ------------------------------------------------------------------------------ checklists
def validate_checklist(checklist: list[Any]) -> list[dict[str, Any]]:
    if not isinstance(checklist, list) or not checklist:
        raise InspectionError("a checklist is a non-empty list of items")
    keys = set()
    for i, it in enumerate(checklist):
        if not isinstance(it, dict) or not isinstance(it.get("key"), str) or not it.get("key"):
            raise InspectionError(f"checklist item {i + 1} needs a key")
        if it["key"] in keys:
            raise InspectionError(f"checklist key {it['key']!r} appears twice")
        keys.add(it["key"])
        if it.get("type", "bool") not in ITEM_TYPES:
            raise InspectionError(f"checklist item {it['key']!r}: type must be one of {', '.join(ITEM_TYPES)}")
        if it.get("severity") is not None and it["severity"] not in SEVERITIES:
            raise InspectionError(f"checklist item {it['key']!r}: unknown severity {it['severity']!r}")
        unknown = set(it) - ITEM_FIELDS
        if unknown:
            raise InspectionError(f"checklist item {it['key']!r}: unknown field(s) {', '.join(sorted(unknown))}")
    return checklist


def check_results(checklist: list[dict[str, Any]], results: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate answers against the checklist; return the failed items (findings)."""
    if not isinstance(results, dict):
        raise InspectionError("results must be an object keyed by checklist item")
    items = {it["key"]: it for it in checklist}
    unknown = sorted(set(results) - set(items))
    if unknown:
        raise InspectionError(f"unknown checklist item(s): {', '.join(unknown)} (known: {', '.join(items)})")
    missing = [f"{it.get('label', k)} ({k})" for k, it in items.items()
               if it.get("required", False) and (results.get(k) is None or results.get(k) == "")]
    if missing:
        raise InspectionError("missing required item(s): " + ", ".join(missing))
    failed = []
    for k, v in results.items():
        it = items[k]
        typ = it.get("type", "bool")
        if v is None:
            continue
        if typ == "bool":
            if not isinstance(v, bool):
                raise InspectionError(f"{k}: expected yes/no (true or false), got {v!r}")
            if v is False:
                failed.append({**it, "value": v})
        elif typ == "number":
            if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not math.isfinite(v)):
                raise InspectionError(f"{k}: expected a number, got {v!r}")
            lo, hi = it.get("min"), it.get("max")
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                failed.append({**it, "value": v})
        elif not isinstance(v, str):
            raise InspectionError(f"{k}: expected text, got {v!r}")
    return failed


def check_findings(findings: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Explicit findings: each needs a title; severity and fields are checked."""
    out = []
    for f in findings or []:
        if not isinstance(f, dict) or not str(f.get("title", "")).strip():
            raise InspectionError("each finding needs a title")
        sev = f.get("severity", "normal")
        if sev not in SEVERITIES:
            raise InspectionError(f"finding {f['title']!r}: unknown severity {sev!r}")
        unknown = set(f) - FINDING_FIELDS
        if unknown:
            raise InspectionError(f"finding {f['title']!r}: unknown field(s) {', '.join(sorted(unknown))}")
        out.append(f)
    return out


def item_category(item: dict[str, Any]) -> str:
    """The hazard category a failed checklist item raises."""
    return item.get("category") or KEY_CATEGORIES.get(item["key"], "general")
