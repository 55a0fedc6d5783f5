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

:func:`decide` puts these together for one reading.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

RULE_KINDS = ("threshold", "rate")
OPS = (">", "<")
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
        return self.op == ">"

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
        return self.duration_s * 1_000_000 if self.kind == "threshold" else 0

    @property
    def unit_suffix(self) -> str:
        return "/min" if self.kind == "rate" else ""

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


def advance_window(window: deque, us: int, x: float, window_us: int) -> float | None:
    """Add a reading to a rate rule's window (dropping readings older than the window);
    the rate per minute, or None while fewer than three readings or under half a window."""
    while window and window[0][0] < us - window_us:
        window.popleft()
    if not window or us > window[-1][0]:
        window.append((us, x))
    if len(window) < MIN_RATE_POINTS or us - window[0][0] < window_us // 2:
        return None
    return slope_per_min(window)


class Decision(enum.Enum):
    NOTHING = "nothing"  # not beyond the threshold: no alarm, any pending hold is reset
    UPDATE = "update"  # an open alarm stays open (value between threshold and clear bound, or beyond)
    CLEAR = "clear"  # an open alarm is back past its clear bound
    HOLD = "hold"  # beyond the threshold, but not yet for the rule's duration
    RAISE = "raise"  # a new alarm


def decide(rule: Rule, x: float, *, is_open: bool, held_since_us: int | None = None, us: int = 0) -> Decision:
    """What one reading means for one rule and sensor.

    ``held_since_us``: since when the raise condition has held (for rules with a duration);
    None means "just now".
    """
    if is_open:
        return Decision.CLEAR if clears(rule, x) else Decision.UPDATE
    if not exceeds(rule, x):
        return Decision.NOTHING
    if rule.hold_us and not held_long_enough(rule, us if held_since_us is None else held_since_us, us):
        return Decision.HOLD
    return Decision.RAISE


def raise_message(rule: Rule, sensor_code: str, unit: str, x: float) -> str:
    held = f" for {rule.duration_s} s" if rule.duration_s and rule.kind == "threshold" else ""
    return f"{rule.name}: {x:.4g} {unit}{rule.unit_suffix} {rule.op} {rule.threshold:g}{held} at {sensor_code}"


def clear_message(rule: Rule, sensor_code: str, unit: str, x: float) -> str:
    return f"{rule.name}: back to {x:.4g} {unit}{rule.unit_suffix} at {sensor_code}"
