"""Service levels: response due times, working calendars and the escalation ladder.

Rules (one place, unit-tested in ``tests/test_sla.py``):

* **Response SLA.**  A hazard report must be answered (assigned to an owner team) within
  the policy's ``response_hours``: by default 24 h for normal and low, 8 h for high and
  4 h for severe reports.  Policies live in ``sla_policy`` and may be set per site and
  per category; the most specific matching row wins (site + category, then site, then
  category, then the group-wide row, then the built-in default).
* **Working calendar.**  When the winning policy has ``use_calendar`` and the site
  defines ``settings["calendar"]`` (``{"workdays": [0..6], "start": "08:00",
  "end": "20:00", "holidays": ["2026-10-01", ...]}`` in the site's time zone; Monday is
  0), SLA hours count only working time.  Otherwise they are clock hours.
* **Rectification deadline.**  A corrective action is due ``rectify_hours`` after it is
  created: by default 24 h severe, 72 h high, 120 h normal, 168 h low; a site may set
  ``settings["sla"]["rectify_hours"]`` per severity.  The same calendar rule applies.
* **Escalation.**  An action still open past its due time escalates one level per
  *full* SLA period (the policy's response hours) elapsed since it fell due:
  owner (0) -> area manager (1) -> plant manager (2) -> group (3).  Escalation is
  idempotent: one ``action_escalation`` row per (action, level), and notifications are
  queued only by the transaction that inserted that row.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from db import models as m

log = logging.getLogger("qhse.services.sla")

UTC = dt.UTC
SEVERITIES = ("low", "normal", "high", "severe")
DEFAULT_RESPONSE_HOURS = {"low": 24.0, "normal": 24.0, "high": 8.0, "severe": 4.0}
DEFAULT_RECTIFY_HOURS = {"low": 168.0, "normal": 120.0, "high": 72.0, "severe": 24.0}
ESCALATION_ROLES = ("owner", "area_manager", "plant_manager", "group")
MAX_LEVEL = len(ESCALATION_ROLES) - 1


class SlaError(ValueError):
    """A bad SLA or calendar configuration, described in one line."""


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
    def from_settings(cls, cfg: dict, timezone: str) -> WorkingCalendar:
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


def site_calendar(site: m.Site) -> WorkingCalendar | None:
    cfg = (site.settings or {}).get("calendar")
    if not cfg:
        return None
    return WorkingCalendar.from_settings(cfg, site.timezone or "UTC")


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


def _rectify_hours(site: m.Site, severity: str) -> float:
    cfg = ((site.settings or {}).get("sla") or {}).get("rectify_hours") or {}
    v = cfg.get(severity, DEFAULT_RECTIFY_HOURS[severity])
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise SlaError(f"site {site.code}: sla.rectify_hours.{severity} must be a number of hours") from None
    if v <= 0:
        raise SlaError(f"site {site.code}: sla.rectify_hours.{severity} must be positive")
    return v


def resolve_policy(session: Session, site: m.Site, category: str, severity: str) -> Policy:
    """The most specific ``sla_policy`` row for (site, category, severity), else the default."""
    if severity not in SEVERITIES:
        raise SlaError(f"unknown severity {severity!r} (use one of {', '.join(SEVERITIES)})")
    P = m.SlaPolicy
    rows = session.scalars(
        sa.select(P).where(
            P.severity == severity,
            sa.or_(P.site_id.is_(None), P.site_id == site.id),
            sa.or_(P.category.is_(None), P.category == category),
        )
    ).all()
    rows = sorted(rows, key=lambda p: (p.site_id is not None, p.category is not None, -p.id), reverse=True)
    if rows:
        best = rows[0]
        hours = float(best.response_hours)
        if hours <= 0:
            raise SlaError(f"sla_policy #{best.id}: response_hours must be positive")
        cal = site_calendar(site) if best.use_calendar else None
        source = f"sla_policy #{best.id}"
    else:
        hours, cal, source = DEFAULT_RESPONSE_HOURS[severity], None, "default"
    return Policy(severity=severity, response_hours=hours, rectify_hours=_rectify_hours(site, severity),
                  calendar=cal, source=source)


class PolicyCache:
    """Policies looked up once per (site, category, severity) within one job run."""

    def __init__(self, session: Session):
        self.session = session
        self._sites: dict[int, m.Site] = {}
        self._policies: dict[tuple[int, str, str], Policy] = {}

    def site(self, site_id: int) -> m.Site:
        if site_id not in self._sites:
            self._sites[site_id] = self.session.get(m.Site, site_id)
        return self._sites[site_id]

    def policy(self, site_id: int, category: str, severity: str) -> Policy:
        key = (site_id, category, severity)
        if key not in self._policies:
            self._policies[key] = resolve_policy(self.session, self.site(site_id), category, severity)
        return self._policies[key]


# ---------------------------------------------------------------------------- escalation
@dataclass
class EscalationResult:
    checked: int = 0
    escalations: int = 0  # new action_escalation rows
    notifications: int = 0
    by_level: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lv = ", ".join(f"L{k}: {v}" for k, v in sorted(self.by_level.items())) or "none"
        out = f"{self.checked} overdue actions checked, {self.escalations} escalations ({lv}), " \
              f"{self.notifications} notifications queued"
        if self.errors:
            out += f"; {len(self.errors)} skipped: " + "; ".join(self.errors[:3])
        return out


def escalate_overdue(session: Session, now: dt.datetime | None = None) -> EscalationResult:
    """Raise every overdue open action to the level its lateness calls for.

    Safe to run from several processes at once: rows being escalated elsewhere are
    skipped (``SKIP LOCKED``), each (action, level) is inserted once, and notifications
    are queued only for rows this call inserted.  The caller commits.
    """
    from qhse.services import notify

    now = now or dt.datetime.now(UTC)
    A, H = m.CorrectiveAction, m.HazardReport
    rows = session.execute(
        sa.select(A, H)
        .join(H, H.id == A.hazard_id)
        .where(A.status.in_(("open", "in_progress")), A.due_at < now, A.escalation_level < MAX_LEVEL)
        .order_by(A.due_at, A.id)
        .with_for_update(of=A, skip_locked=True)
    ).all()
    res = EscalationResult(checked=len(rows))
    cache = PolicyCache(session)
    routing: dict = {}
    todo = []  # (action, hazard, policy, target level)
    for action, hazard in rows:
        try:
            policy = cache.policy(hazard.site_id, hazard.category, hazard.severity)
        except SlaError as exc:
            res.errors.append(f"action #{action.id}: {exc}")
            log.warning("escalation of action #%s skipped: %s", action.id, exc)
            continue
        target = policy.escalation_level(action.due_at, now)
        if target > action.escalation_level:
            todo.append((action, hazard, policy, target))
    # The escalation rows in bulk; only the rows this call inserted are notified.
    steps = [dict(action_id=a.id, level=lv, escalated_at=now, notified=ESCALATION_ROLES[lv])
             for a, _, _, target in todo for lv in range(a.escalation_level + 1, target + 1)]
    inserted: set[tuple[int, int]] = set()
    E = m.ActionEscalation.__table__
    for i in range(0, len(steps), 1000):
        inserted.update(tuple(r) for r in session.execute(
            pg_insert(E).values(steps[i:i + 1000]).on_conflict_do_nothing(index_elements=["action_id", "level"])
            .returning(E.c.action_id, E.c.level)).all())
    for action, hazard, policy, target in todo:
        for level in range(action.escalation_level + 1, target + 1):
            if (action.id, level) not in inserted:
                continue
            role = ESCALATION_ROLES[level]
            res.escalations += 1
            res.by_level[level] = res.by_level.get(level, 0) + 1
            late_h = policy.elapsed_hours(action.due_at, now)
            subject = f"[{role.replace('_', ' ')}] overdue action #{action.id}: {hazard.title}"
            body = (f"Corrective action #{action.id} for hazard #{hazard.id} ({hazard.severity}, {hazard.category}) "
                    f"was due {action.due_at:%Y-%m-%d %H:%M} UTC and is {late_h:.1f} h overdue "
                    f"({'working' if policy.calendar else 'clock'} hours; SLA period {policy.response_hours:g} h).\n"
                    f"Escalated to level {level} ({role.replace('_', ' ')}).\nAction: {action.description}")
            res.notifications += notify.notify_role(
                session, site_id=hazard.site_id, role=role, subject=subject, body=body,
                ref=f"action:{action.id}:level:{level}", action=action, hazard=hazard, now=now, cache=routing)
        action.escalation_level = max(action.escalation_level, target)
        action.last_escalated_at = now
    session.flush()
    return res
