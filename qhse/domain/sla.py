"""The SLA rule: response and rectification due times, working calendars, the escalation
ladder and the states of the SLA board.  Pure: the policy rows and site settings are
passed in (``qhse/services/sla.py`` reads them and applies the result).

* **Response SLA.**  A hazard report must be answered (assigned to an owner team) within
  the policy's ``response_hours``: by default 24 h for normal and low, 8 h for high and
  4 h for severe reports.  Policies may be set per site and per category; the most
  specific matching row wins (site + category, then site, then category, then the
  group-wide row, then the built-in default): :func:`most_specific`.
* **Working calendar.**  When the winning policy has ``use_calendar`` and the site
  defines ``settings["calendar"]`` (``{"workdays": [0..6], "start": "08:00",
  "end": "20:00", "holidays": ["2026-10-01", ...]}`` in the site's time zone; Monday is
  0), SLA hours count only working time (:class:`WorkingCalendar`).  Otherwise they are
  clock hours.
* **Rectification deadline.**  A corrective action is due ``rectify_hours`` after it is
  created: by default 24 h severe, 72 h high, 120 h normal, 168 h low; a site may set
  ``settings["sla"]["rectify_hours"]`` per severity (:func:`rectify_hours`).  The same
  calendar rule applies.
* **Escalation.**  An action still open past its due time escalates one level per
  *full* SLA period (the policy's response hours) elapsed since it fell due
  (:func:`escalation_level`): owner (0) -> area manager (1) -> plant manager (2) ->
  group (3) (:data:`ESCALATION_ROLES`, the one spelling of the ladder; :func:`ladder_label`
  for display).
* **Board states.**  An item on an SLA clock is ``escalated`` (level 1-3), ``overdue``
  (past due, not escalated), ``due_soon`` (due within the look-ahead) or ``on_time``
  (:func:`board_state`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qhse.vocab import EscalationLevel, HazardSeverity, values

UTC = dt.UTC
SEVERITIES = values(HazardSeverity)
_S = HazardSeverity
DEFAULT_RESPONSE_HOURS: dict[str, float] = {_S.LOW: 24.0, _S.NORMAL: 24.0, _S.HIGH: 8.0, _S.SEVERE: 4.0}
DEFAULT_RECTIFY_HOURS: dict[str, float] = {_S.LOW: 168.0, _S.NORMAL: 120.0, _S.HIGH: 72.0, _S.SEVERE: 24.0}
ESCALATION_ROLES = values(EscalationLevel)  # index = escalation level
MAX_LEVEL = len(ESCALATION_ROLES) - 1
BOARD_STATES = ("escalated", "overdue", "due_soon", "on_time")


class SlaError(ValueError):
    """A bad SLA or calendar configuration, described in one line."""


def ladder_label(level: int) -> str:
    """The escalation rung of ``level`` in words: ``owner``, ``area manager``, ``plant manager``, ``group``."""
    return EscalationLevel.at(int(level)).label


# ------------------------------------------------------------------------------ calendar
def _parse_hhmm(value: str, what: str) -> dt.timedelta:
    try:
        hh, mm = str(value).split(":")
        h, mi = int(hh), int(mm)
    except ValueError:
        raise SlaError(f"calendar {what} {value!r} is not HH:MM") from None
    if not (0 <= mi < 60 and (0 <= h < 24 or (h == 24 and mi == 0))):
        raise SlaError(f"calendar {what} {value!r} is not a time of day")
    return dt.timedelta(hours=h, minutes=mi)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working hours of a site: the same window on each working day, minus holidays."""

    tz: ZoneInfo
    workdays: frozenset[int]
    start: dt.timedelta  # offset from local midnight
    end: dt.timedelta
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, cfg: dict[str, Any], timezone: str) -> WorkingCalendar:
        if not isinstance(cfg, dict):
            raise SlaError("calendar must be an object with workdays, start and end")
        unknown = set(cfg) - {"workdays", "start", "end", "holidays"}
        if unknown:
            raise SlaError(f"calendar: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SlaError(f"unknown time zone {timezone!r}") from None
        days = cfg.get("workdays", [0, 1, 2, 3, 4])
        if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise SlaError("calendar workdays must be a non-empty list of weekday numbers 0 (Monday) .. 6 (Sunday)")
        start = _parse_hhmm(cfg.get("start", "08:00"), "start")
        end = _parse_hhmm(cfg.get("end", "17:00"), "end")
        if end <= start:
            raise SlaError("calendar end must be later than start")
        hols = set()
        for h in cfg.get("holidays", []) or []:
            try:
                hols.add(dt.date.fromisoformat(str(h)))
            except ValueError:
                raise SlaError(f"calendar holiday {h!r} is not a date (YYYY-MM-DD)") from None
        return cls(tz=tz, workdays=frozenset(days), start=start, end=end, holidays=frozenset(hols))

    def _window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        if day.weekday() not in self.workdays or day in self.holidays:
            return None
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)
        # Wall-clock arithmetic: combine() then add, so DST days keep their local hours.
        lo = (midnight + self.start).astimezone(self.tz)
        hi = (midnight + self.end).astimezone(self.tz)
        return lo, hi

    def add(self, t: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` of working time after ``t``."""
        remaining = dt.timedelta(hours=hours)
        cur = t.astimezone(self.tz)
        day = cur.date()
        for _ in range(3700):  # ten years of days: a valid calendar always finishes long before
            win = self._window(day)
            if win:
                lo, hi = win
                if cur < lo:
                    cur = lo
                if cur < hi:
                    avail = hi - cur
                    if remaining <= avail:
                        return (cur + remaining).astimezone(UTC)
                    remaining -= avail
            day += dt.timedelta(days=1)
            cur = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)
        raise SlaError("calendar has no working time in the next ten years (all days holidays?)")

    def working_seconds(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working seconds in [a, b) (0 when b <= a)."""
        if b <= a:
            return 0.0
        a, b = a.astimezone(self.tz), b.astimezone(self.tz)
        total = 0.0
        day = a.date()
        while day <= b.date():
            win = self._window(day)
            if win:
                lo, hi = max(win[0], a), min(win[1], b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += dt.timedelta(days=1)
        return total


def calendar_from_settings(settings: dict[str, Any] | None, timezone: str | None) -> WorkingCalendar | None:
    """A site's working calendar from its settings (None: the site keeps clock hours)."""
    cfg = (settings or {}).get("calendar")
    if not cfg:
        return None
    return WorkingCalendar.from_settings(cfg, timezone or "UTC")


# ------------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Policy:
    """The SLA that applies to one hazard: response hours and the clock it runs on."""

    severity: str
    response_hours: float
    rectify_hours: float
    calendar: WorkingCalendar | None
    source: str  # which policy row (or "default") decided

    def add(self, t: dt.datetime, hours: float) -> dt.datetime:
        return self.calendar.add(t, hours) if self.calendar else t + dt.timedelta(hours=hours)

    def response_due(self, reported_at: dt.datetime) -> dt.datetime:
        return self.add(reported_at, self.response_hours)

    def rectify_due(self, created_at: dt.datetime) -> dt.datetime:
        return self.add(created_at, self.rectify_hours)

    def elapsed_hours(self, a: dt.datetime, b: dt.datetime) -> float:
        if self.calendar:
            return self.calendar.working_seconds(a, b) / 3600.0
        return max(0.0, (b - a).total_seconds() / 3600.0)

    def escalation_level(self, due_at: dt.datetime, now: dt.datetime) -> int:
        return escalation_level(self.elapsed_hours(due_at, now), self.response_hours)


def escalation_level(hours_past_due: float, period_hours: float) -> int:
    """Level reached after ``hours_past_due``: one per full SLA period, at most 3 (group)."""
    if period_hours <= 0:
        raise SlaError("SLA period must be positive")
    if hours_past_due <= 0:
        return 0
    # A small tolerance so that exactly N periods (computed in floating point) counts as N.
    return min(MAX_LEVEL, int(math.floor(hours_past_due / period_hours + 1e-9)))


def rectify_hours(settings: dict[str, Any] | None, severity: str, site_code: str = "?") -> float:
    """Hours to rectify an action of ``severity``: the site's ``sla.rectify_hours`` or the default."""
    cfg = ((settings or {}).get("sla") or {}).get("rectify_hours") or {}
    v = cfg.get(severity, DEFAULT_RECTIFY_HOURS[severity])
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise SlaError(f"site {site_code}: sla.rectify_hours.{severity} must be a number of hours") from None
    if v <= 0:
        raise SlaError(f"site {site_code}: sla.rectify_hours.{severity} must be positive")
    return v


def check_severity(severity: str) -> None:
    if severity not in SEVERITIES:
        raise SlaError(f"unknown severity {severity!r} (use one of {', '.join(SEVERITIES)})")


class PolicyRow(Protocol):
    """What the rule reads of an ``sla_policy`` row (read-only, so a mapped row or a plain record fits)."""

    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> int | None: ...
    @property
    def category(self) -> str | None: ...


P = TypeVar("P", bound=PolicyRow)


def most_specific(rows: Sequence[P]) -> P | None:
    """The winning policy among rows that match (site, category, severity): site and category
    named beat site named beat category named beat group-wide; then the newest row."""
    ranked = sorted(rows, key=lambda p: (p.site_id is not None, p.category is not None, -p.id), reverse=True)
    return ranked[0] if ranked else None


def response_hours(row_hours: float, row_id: int) -> float:
    hours = float(row_hours)
    if hours <= 0:
        raise SlaError(f"sla_policy #{row_id}: response_hours must be positive")
    return hours


def escalation_steps(current: int, target: int) -> list[tuple[int, str]]:
    """The rungs an action climbs from ``current`` to ``target``: (level, role) each."""
    return [(lv, EscalationLevel.at(lv).value) for lv in range(current + 1, target + 1)]


def escalation_message(*, role: str, level: int, action_id: int, action_description: str, hazard_id: int,
                       hazard_title: str, severity: str, category: str, due_at: dt.datetime, late_hours: float,
                       working_hours: bool, period_hours: float) -> tuple[str, str]:
    """Subject and body of an escalation notice."""
    who = role.replace("_", " ")
    subject = f"[{who}] overdue action #{action_id}: {hazard_title}"
    body = (f"Corrective action #{action_id} for hazard #{hazard_id} ({severity}, {category}) "
            f"was due {due_at:%Y-%m-%d %H:%M} UTC and is {late_hours:.1f} h overdue "
            f"({'working' if working_hours else 'clock'} hours; SLA period {period_hours:g} h).\n"
            f"Escalated to level {level} ({who}).\nAction: {action_description}")
    return subject, body


def board_state(escalation_level: int, due_at: dt.datetime, now: dt.datetime, due_soon_hours: float = 24.0) -> str:
    """Where an item on an SLA clock stands (one of :data:`BOARD_STATES`)."""
    if escalation_level > 0:
        return "escalated"
    if due_at < now:
        return "overdue"
    if due_at < now + dt.timedelta(hours=due_soon_hours):
        return "due_soon"
    return "on_time"
