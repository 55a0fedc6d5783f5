"""The alarm rule: when a reading (or its rate of change) raises, keeps open or clears an alarm.

Rules are rows of ``alarm_rule`` (per sensor kind, optionally per site, or for one sensor);
this module decides, reading by reading, what they say.  Storage (the ``alarm`` table,
``NOTIFY``, MQTT) is ``ingestion/alarms.py``, which calls these functions.

* ``threshold``: value ``>`` or ``<`` ``threshold``; with ``duration_s`` the condition must
  hold that long (every reading in between beyond the threshold) before the alarm raises
  (:func:`held_long_enough`);
* ``rate``: rate of change in units per minute, the least-squares slope over a window of
  ``max(duration_s, 60)`` seconds (:func:`slope_per_min`), evaluated only once the window
  is at least half full and holds three readings (:func:`advance_window`);
* clear with hysteresis: an open alarm clears only once the value (or rate) is back past
  ``clear_threshold`` (``threshold`` when unset, and never on the wrong side of it:
  :attr:`Rule.clear_at`); between the two it stays open and is updated
  (:func:`clears`), its peak being the most extreme value seen (:func:`new_peak`).

:func:`run` applies them to a sensor's readings in order (the consumer's inner loop).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from qhse.vocab import AlarmOp, AlarmRuleKind, values

RULE_KINDS = values(AlarmRuleKind)
OPS = values(AlarmOp)
_GT, _THRESHOLD, _RATE = AlarmOp.GT.value, AlarmRuleKind.THRESHOLD.value, AlarmRuleKind.RATE.value
MIN_WINDOW_S = 60
MIN_RATE_POINTS = 3


class SensorLike(Protocol):
    id: int
    kind: str
    site_id: int | None


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    sensor_kind: str | None
    sensor_id: int | None
    site_id: int | None
    kind: str  # threshold | rate
    op: str  # > | <
    threshold: float
    clear_threshold: float | None
    duration_s: int
    severity: str

    @property
    def gt(self) -> bool:
        return self.op == _GT

    @property
    def clear_at(self) -> float:
        """Hysteresis bound, never on the wrong side of the threshold."""
        c = self.threshold if self.clear_threshold is None else self.clear_threshold
        return min(c, self.threshold) if self.gt else max(c, self.threshold)

    @property
    def window_us(self) -> int:
        """Length of a rate rule's fitting window, in microseconds."""
        return int(max(self.duration_s, MIN_WINDOW_S) * 1_000_000)

    @property
    def hold_us(self) -> int:
        """How long a threshold condition must hold before raising (0: at once)."""
        return self.duration_s * 1_000_000 if self.kind == _THRESHOLD else 0

    @property
    def unit_suffix(self) -> str:
        return "/min" if self.kind == _RATE else ""

    def applies_to(self, s: SensorLike) -> bool:
        if self.sensor_id is not None:
            return self.sensor_id == s.id
        return self.sensor_kind == s.kind and (self.site_id is None or self.site_id == s.site_id)


def exceeds(rule: Rule, x: float) -> bool:
    """The raise condition: beyond the threshold (strictly)."""
    return x > rule.threshold if rule.gt else x < rule.threshold


def clears(rule: Rule, x: float) -> bool:
    """An open alarm clears once the value is back at or past the clear bound."""
    return x <= rule.clear_at if rule.gt else x >= rule.clear_at


def held_long_enough(rule: Rule, since_us: int, us: int) -> bool:
    """A threshold condition held continuously from ``since_us`` is long enough at ``us``."""
    return us - since_us >= rule.hold_us


def new_peak(peak: float | None, x: float, gt: bool) -> float:
    """The most extreme value of an open alarm: the highest for ``>`` rules, the lowest for ``<``."""
    if peak is None or (x > peak if gt else x < peak):
        return x
    return peak


def slope_per_min(points: Sequence[tuple[int, float]]) -> float:
    """Least-squares slope of (µs, value) points, in units per minute.

    A fit over the whole window, not the difference of two readings: sensor noise at a
    high sampling rate would otherwise look like a fast rise.
    """
    n = len(points)
    t0 = points[0][0]
    mt = sum(p[0] - t0 for p in points) / n
    mv = sum(p[1] for p in points) / n
    sxx = sum((p[0] - t0 - mt) ** 2 for p in points)
    if sxx == 0:
        return 0.0
    sxy = sum((p[0] - t0 - mt) * (p[1] - mv) for p in points)
    return sxy / sxx * 60e6


def advance_window(window: deque[tuple[int, float]], us: int, x: float, window_us: int) -> float | None:
    """Add a reading to a rate rule's window (dropping readings older than the window);
    the rate per minute, or None while fewer than three readings or under half a window."""
    while window and window[0][0] < us - window_us:
        window.popleft()
    if not window or us > window[-1][0]:
        window.append((us, x))
    if len(window) < MIN_RATE_POINTS or us - window[0][0] < window_us // 2:
        return None
    return slope_per_min(window)


class OpenAlarmLike(Protocol):
    """The running state of an open alarm that :func:`run` updates in place."""

    n: int  # updates since last written
    last_value: float
    last_us: int
    peak: float | None


def run(rule: Rule, series: Iterable[tuple[int, float | None]], *, alarm: OpenAlarmLike | None,
        held_from: int | None, held_since: Callable[[int], int],
        on_first_update: Callable[[OpenAlarmLike], None],
        on_clear: Callable[[OpenAlarmLike, int, float], None],
        on_raise: Callable[[int, float], OpenAlarmLike]) -> tuple[OpenAlarmLike | None, int | None]:
    """Apply ``rule`` to one sensor's readings (µs, value), in time order.

    ``alarm``: the open alarm of this rule and sensor before the first reading (or None);
    ``held_from``: since when the raise condition has held (a pending hold), or None.
    For each reading: an open alarm clears once the value is back past the clear bound
    (``on_clear``), else it is updated in place: one more update, the last value and time,
    the peak (the most extreme value: :func:`new_peak`); ``on_first_update`` is called
    when its pending update count leaves 0.  With no alarm open, a value beyond the
    threshold raises one (``on_raise`` returns it), for a rule with a duration only once
    the condition has held that long; a hold is (re)checked with ``held_since(us)`` (the
    start of the unbroken run of readings beyond the threshold up to ``us``) when it
    starts and when it looks long enough.  A value back within the threshold resets the
    hold.  ``None`` values (a rate not yet computable) are skipped.  Returns the open
    alarm and the pending hold at the end.

    The comparisons are written out in the loop (no call per reading): it runs for every
    reading the consumer stores.
    """
    gt, thr, clr, hold = rule.gt, rule.threshold, rule.clear_at, rule.hold_us
    for us, x in series:
        if x is None:
            continue
        if alarm is not None:
            if (x <= clr) if gt else (x >= clr):
                on_clear(alarm, us, x)
                alarm, held_from = None, None
                continue
            if alarm.n == 0:
                on_first_update(alarm)
            alarm.n += 1
            alarm.last_value = x
            if us > alarm.last_us:
                alarm.last_us = us
            p = alarm.peak
            if p is None or (x > p if gt else x < p):
                alarm.peak = x
            continue
        if not ((x > thr) if gt else (x < thr)):
            held_from = None
            continue
        if hold:
            if held_from is None or us - held_from >= hold:
                held_from = held_since(us)
            if us - held_from < hold:
                continue
        alarm, held_from = on_raise(us, x), None
    return alarm, held_from


def raise_message(rule: Rule, sensor_code: str, unit: str, x: float) -> str:
    held = f" for {rule.duration_s} s" if rule.duration_s and rule.kind == _THRESHOLD else ""
    return f"{rule.name}: {x:.4g} {unit}{rule.unit_suffix} {rule.op} {rule.threshold:g}{held} at {sensor_code}"


def clear_message(rule: Rule, sensor_code: str, unit: str, x: float) -> str:
    return f"{rule.name}: back to {x:.4g} {unit}{rule.unit_suffix} at {sensor_code}"
