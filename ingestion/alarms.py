"""Alarm rules evaluated on the reading stream, and the alarm life cycle.

Rules live in ``alarm_rule`` (per sensor kind, optionally per site, or for one sensor).
What a rule says about a reading (threshold, hold duration, rate of change, hysteresis)
is :mod:`qhse.domain.alarm_rules`; this module feeds it the readings, keeps the
per-sensor state (pending holds, rate windows, the open alarms) and writes the results.

One open alarm per rule and sensor, enforced by the database (partial unique index):
a repeated excursion updates the open alarm (last value, peak, update count) instead of
raising another.  Raises and clears are sent with ``NOTIFY qhse_alarms`` in the same
transaction as the readings, and published on MQTT ``<root>/<site>/alarms`` by the consumer
after commit.  Operators acknowledge (``open`` -> ``acknowledged``) and clear by hand.

Several consumers may evaluate one sensor's readings (shared subscription): duration
conditions are verified against the stored readings before an alarm raises, the open
alarm set is re-read every few seconds, and the unique index settles any race.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from qhse.domain.alarm_rules import Rule, advance_window, clear_message, raise_message, run

from .registry import SensorInfo, SensorRegistry

log = logging.getLogger(__name__)

CHANNEL = "qhse_alarms"
UTC = dt.UTC


def _dt(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1e6, UTC)


def _us(t: dt.datetime) -> int:
    return int(round(t.timestamp() * 1e6))


@dataclass(slots=True)
class OpenAlarm:
    id: int
    rule_id: int
    sensor_id: int
    status: str
    # Updates accumulated during a batch, written once at its end.
    n: int = 0
    last_value: float = 0.0
    last_us: int = 0
    peak: float | None = None


@dataclass(slots=True)
class AlarmEvent:
    event: str  # raised | updated | cleared
    alarm_id: int
    rule: Rule
    sensor: SensorInfo
    value: float
    ts_us: int
    status: str
    message: str = ""

    def as_dict(self) -> dict:
        unit = self.sensor.unit + self.rule.unit_suffix
        return {
            "event": self.event, "alarm_id": self.alarm_id, "status": self.status,
            "rule_id": self.rule.id, "rule": self.rule.name, "severity": self.rule.severity,
            "site": self.sensor.site, "area": self.sensor.area, "asset": self.sensor.asset,
            "sensor": self.sensor.code, "sensor_id": self.sensor.id, "kind": self.sensor.kind,
            "value": self.value, "unit": unit, "ts": self.ts_us // 1000,
            "time": _dt(self.ts_us).isoformat(timespec="milliseconds"), "message": self.message,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"))


_RULES_SQL = ("SELECT id, name, sensor_kind, sensor_id, site_id, kind, op, threshold, clear_threshold, duration_s, "
              "severity FROM alarm_rule WHERE enabled ORDER BY id")
_OPEN_SQL = "SELECT id, rule_id, sensor_id, status FROM alarm WHERE cleared_at IS NULL"
_RAISE_SQL = """
INSERT INTO alarm (rule_id, sensor_id, site_id, area_id, severity, status, raised_at, updated_at,
                   first_value, last_value, peak_value, update_count, message)
VALUES (%(rule)s, %(sensor)s, %(site)s, %(area)s, %(severity)s, 'open', %(t)s, %(t)s, %(x)s, %(x)s, %(x)s, 1, %(msg)s)
ON CONFLICT (rule_id, sensor_id) WHERE cleared_at IS NULL DO UPDATE SET
    last_value = EXCLUDED.last_value,
    updated_at = GREATEST(alarm.updated_at, EXCLUDED.updated_at),
    update_count = alarm.update_count + 1,
    peak_value = CASE WHEN %(gt)s THEN GREATEST(alarm.peak_value, EXCLUDED.peak_value)
                      ELSE LEAST(alarm.peak_value, EXCLUDED.peak_value) END
RETURNING id, (xmax = 0) AS inserted, status
"""
_UPDATE_SQL = """
UPDATE alarm SET last_value = %(x)s, updated_at = GREATEST(updated_at, %(t)s), update_count = update_count + %(n)s,
    peak_value = CASE WHEN %(gt)s THEN GREATEST(peak_value, %(peak)s) ELSE LEAST(peak_value, %(peak)s) END
WHERE id = %(id)s AND cleared_at IS NULL
RETURNING status
"""
_CLEAR_SQL = """
UPDATE alarm SET cleared_at = %(t)s, status = 'cleared', updated_at = GREATEST(updated_at, %(t)s),
    last_value = %(x)s, update_count = update_count + 1
WHERE id = %(id)s AND cleared_at IS NULL
RETURNING id
"""
_HELD_SQL = """
SELECT min(ts) FROM sensor_reading
WHERE sensor_id = %(s)s AND ts <= %(t)s AND ts > coalesce(
    (SELECT max(ts) FROM sensor_reading WHERE sensor_id = %(s)s AND ts <= %(t)s AND ts > %(lb)s
       AND NOT (CASE WHEN %(gt)s THEN value > %(thr)s ELSE value < %(thr)s END)), %(lb)s)
"""
_WINDOW_SQL = ("SELECT (extract(epoch FROM ts) * 1000000)::bigint, value FROM sensor_reading "
               "WHERE sensor_id = %s AND ts >= %s AND ts < %s ORDER BY ts")


class AlarmEngine:
    """Evaluates the enabled rules on each batch of new readings (inside its transaction)."""

    def __init__(self, registry: SensorRegistry, *, rules_ttl_s: float = 30.0, open_ttl_s: float = 2.0):
        self.registry = registry
        self.rules: list[Rule] = []
        self.rules_ttl_s, self.open_ttl_s = rules_ttl_s, open_ttl_s
        self._rules_at = self._open_at = -1e18
        self._rules_version = 0
        self.open: dict[tuple[int, int], OpenAlarm] = {}
        self.pending: dict[tuple[int, int], int] = {}  # (rule, sensor) -> condition held since (µs)
        self.windows: dict[tuple[int, int], deque] = {}  # rate rules: recent (µs, value)
        self._per_sensor: dict[int, list[Rule]] = {}
        self._cache_key = (-1, -1)
        self._rule_sensor_ids = np.empty(0, dtype=np.int64)

    # -- state from the database -------------------------------------------------------------
    def refresh(self, conn, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._rules_at >= self.rules_ttl_s:
            rows = conn.execute(_RULES_SQL).fetchall()
            rules = [Rule(r[0], r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]),
                          None if r[8] is None else float(r[8]), int(r[9] or 0), r[10]) for r in rows]
            if rules != self.rules:
                self.rules = rules
                self._rules_version += 1
            self._rules_at = now
        if force or now - self._open_at >= self.open_ttl_s:
            rows = conn.execute(_OPEN_SQL).fetchall()
            self.open = {(r[1], r[2]): OpenAlarm(r[0], r[1], r[2], r[3]) for r in rows}
            self._open_at = now

    def _index(self) -> None:
        key = (self._rules_version, self.registry.version)
        if key == self._cache_key:
            return
        per: dict[int, list[Rule]] = {}
        for s in self.registry.by_id.values():
            rs = [r for r in self.rules if r.applies_to(s)]
            if rs:
                per[s.id] = rs
        self._per_sensor = per
        self._rule_sensor_ids = np.array(sorted(per), dtype=np.int64)
        self._cache_key = key

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, conn, sensor_id: np.ndarray, ts_us: np.ndarray, value: np.ndarray) -> list[AlarmEvent]:
        """Apply the rules to new readings; writes alarm rows and NOTIFYs in ``conn``'s transaction."""
        if not self.rules or len(ts_us) == 0:
            return []
        self._index()
        if len(self._rule_sensor_ids) == 0:
            return []
        mask = np.isin(sensor_id, self._rule_sensor_ids)
        if not mask.any():
            return []
        idx = np.flatnonzero(mask)
        sid, t, v = sensor_id[idx].astype(np.int64), ts_us[idx], value[idx]
        order = np.lexsort((t, sid))
        sid, t, v = sid[order], t[order], v[order]
        bounds = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1], True])
        events: list[AlarmEvent] = []
        touched: list[tuple[OpenAlarm, Rule, SensorInfo]] = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            s = int(sid[a])
            info = self.registry.by_id.get(s)
            if info is None:
                continue
            ts_l, v_l = t[a:b].tolist(), v[a:b].tolist()
            for rule in self._per_sensor.get(s, ()):
                if rule.kind == "rate":
                    series = self._rates(conn, rule, s, ts_l, v_l)
                else:
                    series = zip(ts_l, v_l, strict=True)
                self._run(conn, rule, info, series, events, touched)
        for oa, rule, info in touched:
            self._flush(conn, oa, rule, info, events)
        with conn.cursor() as cur:
            for e in events:
                cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, e.to_json()))
        return events

    def _run(self, conn, rule: Rule, info: SensorInfo, series, events: list[AlarmEvent],
             touched: list) -> None:
        """Apply one rule to one sensor's readings (qhse.domain.alarm_rules.run), writing as it goes."""
        key = (rule.id, info.id)

        def clear(oa: OpenAlarm, us: int, x: float) -> None:
            self._flush(conn, oa, rule, info, events)
            self._clear(conn, oa, rule, info, us, x, events)
            self.open.pop(key, None)

        def raise_(us: int, x: float) -> OpenAlarm:
            oa = self.open[key] = self._raise(conn, rule, info, us, x, events)
            return oa

        # A hold is verified against the stored readings (another consumer may have seen part of it).
        _, held = run(rule, series, alarm=self.open.get(key), held_from=self.pending.get(key),
                      held_since=lambda us: self._held_since(conn, rule, info.id, us),
                      on_first_update=lambda oa: touched.append((oa, rule, info)), on_clear=clear, on_raise=raise_)
        if held is None:
            self.pending.pop(key, None)
        else:
            self.pending[key] = held

    def _held_since(self, conn, rule: Rule, sensor_id: int, us: int) -> int:
        lb = us - rule.duration_s * 1_000_000 - 3_600_000_000
        row = conn.execute(_HELD_SQL, {"s": sensor_id, "t": _dt(us), "lb": _dt(lb), "gt": rule.gt,
                                       "thr": rule.threshold}).fetchone()
        return _us(row[0]) if row and row[0] is not None else us

    def _rates(self, conn, rule: Rule, sensor_id: int, ts_l: list[int], v_l: list[float]):
        """Yield (µs, rate per minute or None) for each reading."""
        key = (rule.id, sensor_id)
        win = rule.window_us
        dq = self.windows.get(key)
        if dq is None:
            rows = conn.execute(_WINDOW_SQL, (sensor_id, _dt(ts_l[0] - win), _dt(ts_l[0]))).fetchall()
            dq = deque((int(r[0]), float(r[1])) for r in rows)
            self.windows[key] = dq
        for us, x in zip(ts_l, v_l, strict=True):
            yield us, advance_window(dq, us, x, win)

    # -- alarm rows ------------------------------------------------------------------------------
    def _raise(self, conn, rule: Rule, info: SensorInfo, us: int, x: float, events: list) -> OpenAlarm:
        msg = raise_message(rule, info.code, info.unit, x)
        row = conn.execute(_RAISE_SQL, {"rule": rule.id, "sensor": info.id, "site": info.site_id, "area": info.area_id,
                                        "severity": rule.severity, "t": _dt(us), "x": x, "msg": msg,
                                        "gt": rule.gt}).fetchone()
        oa = OpenAlarm(row[0], rule.id, info.id, row[2])
        if row[1]:
            events.append(AlarmEvent("raised", oa.id, rule, info, x, us, "open", msg))
        return oa

    def _flush(self, conn, oa: OpenAlarm, rule: Rule, info: SensorInfo, events: list) -> None:
        if oa.n == 0:
            return
        row = conn.execute(_UPDATE_SQL, {"x": oa.last_value, "t": _dt(oa.last_us), "n": oa.n, "gt": rule.gt,
                                         "peak": oa.peak, "id": oa.id}).fetchone()
        if row is None:  # cleared by hand meanwhile: the next excursion raises a new alarm
            self.open.pop((oa.rule_id, oa.sensor_id), None)
        else:
            oa.status = row[0]
            events.append(AlarmEvent("updated", oa.id, rule, info, oa.last_value, oa.last_us, row[0]))
        oa.n, oa.peak = 0, None

    def _clear(self, conn, oa: OpenAlarm, rule: Rule, info: SensorInfo, us: int, x: float, events: list) -> None:
        row = conn.execute(_CLEAR_SQL, {"t": _dt(us), "x": x, "id": oa.id}).fetchone()
        if row is not None:
            events.append(AlarmEvent("cleared", oa.id, rule, info, x, us, "cleared",
                                     clear_message(rule, info.code, info.unit, x)))


# ---------------------------------------------------------------------------------------------
# Operator actions: list (acknowledging and clearing by hand are qhse.services.alarms.act: permission,
# update, audit with the user id and NOTIFY in one transaction).
# ---------------------------------------------------------------------------------------------


class AlarmActionError(Exception):
    """An operator action that cannot be done (unknown alarm, wrong state); one-line message."""


@dataclass
class AlarmRow:
    id: int
    status: str
    severity: str
    rule: str
    site: str
    area: str
    sensor: str
    unit: str
    raised_at: dt.datetime
    updated_at: dt.datetime
    first_value: float
    last_value: float
    peak_value: float
    update_count: int
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    cleared_at: dt.datetime | None
    message: str | None = field(default=None)


_LIST_SQL = """
SELECT a.id, a.status, a.severity, r.name, st.code, ar.code, s.code, s.unit, a.raised_at, a.updated_at,
       a.first_value, a.last_value, a.peak_value, a.update_count, a.acknowledged_by, a.acknowledged_at,
       a.cleared_at, a.message
FROM alarm a
JOIN alarm_rule r ON r.id = a.rule_id
JOIN sensor s ON s.id = a.sensor_id
JOIN site st ON st.id = a.site_id
JOIN area ar ON ar.id = a.area_id
WHERE (:open_only = false OR a.cleared_at IS NULL)
  AND (CAST(:site AS text) IS NULL OR st.code = :site)
  AND (CAST(:severity AS text) IS NULL OR a.severity = :severity)
ORDER BY a.raised_at DESC, a.id DESC
LIMIT :limit
"""


def list_alarms(conn: sa.Connection, *, open_only: bool = True, site: str | None = None,
                severity: str | None = None, limit: int = 50) -> list[AlarmRow]:
    rows = conn.execute(sa.text(_LIST_SQL), {"open_only": open_only, "site": site, "severity": severity,
                                             "limit": limit}).fetchall()
    return [AlarmRow(*r) for r in rows]


def notify(conn: sa.Connection, event: str, alarm_id: int, status: str, by: str) -> None:
    """``NOTIFY qhse_alarms`` about an operator action (sent when the transaction commits)."""
    payload = json.dumps({"event": event, "alarm_id": alarm_id, "status": status, "by": by})
    conn.execute(sa.text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})

