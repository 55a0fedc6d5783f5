"""The alarm rule (qhse.domain.alarm_rules) without a database or a broker."""

from __future__ import annotations

import random
from collections import deque

import pytest

from qhse.domain.alarm_rules import (
    Decision,
    Rule,
    advance_window,
    clears,
    decide,
    exceeds,
    new_peak,
    raise_message,
    slope_per_min,
)


def rule(kind="threshold", op=">", threshold=10.0, clear=None, duration_s=0, **kw) -> Rule:
    base = dict(id=1, name="high", sensor_kind="temp", sensor_id=None, site_id=None, kind=kind, op=op,
                threshold=threshold, clear_threshold=clear, duration_s=duration_s, severity="high")
    base.update(kw)
    return Rule(**base)


def test_threshold_is_strict_and_follows_the_operator():
    assert exceeds(rule(), 10.1) and not exceeds(rule(), 10.0)
    assert exceeds(rule(op="<"), 9.9) and not exceeds(rule(op="<"), 10.0)


def test_hysteresis_clear_bound_never_on_the_wrong_side():
    assert rule(clear=8.0).clear_at == 8.0
    assert rule(clear=12.0).clear_at == 10.0  # a clear bound above a '>' threshold is clamped to it
    assert rule(op="<", clear=12.0).clear_at == 12.0
    assert rule(op="<", clear=8.0).clear_at == 10.0
    r = rule(clear=8.0)
    assert decide(r, 9.0, is_open=True) is Decision.UPDATE  # between the bounds: stays open
    assert decide(r, 8.0, is_open=True) is Decision.CLEAR
    assert clears(r, 7.9) and not clears(r, 8.1)


def test_no_duration_raises_at_once_and_below_resets():
    r = rule()
    assert decide(r, 11.0, is_open=False, us=5) is Decision.RAISE
    assert decide(r, 9.0, is_open=False, us=5) is Decision.NOTHING


def test_duration_holds_until_the_condition_held_long_enough():
    r = rule(duration_s=30)
    assert decide(r, 11.0, is_open=False, held_since_us=None, us=100) is Decision.HOLD
    assert decide(r, 11.0, is_open=False, held_since_us=0, us=29_999_999) is Decision.HOLD
    assert decide(r, 11.0, is_open=False, held_since_us=0, us=30_000_000) is Decision.RAISE
    # a rate rule's duration is its window, not a hold
    assert decide(rule(kind="rate", duration_s=30), 11.0, is_open=False, us=1) is Decision.RAISE


def test_peak_is_the_most_extreme_value():
    assert new_peak(None, 5.0, True) == 5.0
    assert new_peak(5.0, 7.0, True) == 7.0 and new_peak(7.0, 6.0, True) == 7.0
    assert new_peak(5.0, 3.0, False) == 3.0 and new_peak(3.0, 4.0, False) == 3.0


def test_least_squares_slope_per_minute():
    pts = [(i * 1_000_000, 2.0 + 0.5 * i) for i in range(10)]  # 0.5 per second
    assert slope_per_min(pts) == pytest.approx(30.0)
    assert slope_per_min([(0, 1.0), (0, 2.0)]) == 0.0


def test_slope_ignores_noise_that_a_two_point_difference_would_see():
    rnd = random.Random(7)
    pts = [(i * 100_000, 20.0 + rnd.uniform(-0.5, 0.5)) for i in range(600)]  # 10 Hz, flat, noisy
    assert abs(slope_per_min(pts)) < 1.0
    assert max(abs(b[1] - a[1]) / 0.1 * 60 for a, b in zip(pts, pts[1:], strict=False)) > 100


def test_rate_window_needs_half_a_window_and_three_points():
    win = deque()
    w = 60_000_000
    assert advance_window(win, 0, 0.0, w) is None
    assert advance_window(win, 10_000_000, 1.0, w) is None
    assert advance_window(win, 20_000_000, 2.0, w) is None  # three points, but a third of the window
    assert advance_window(win, 30_000_000, 3.0, w) == pytest.approx(6.0)  # 1 per 10 s = 6 per minute
    advance_window(win, 100_000_000, 3.0, w)
    assert win[0][0] >= 40_000_000  # readings older than the window dropped
    n = len(win)
    advance_window(win, 100_000_000, 9.0, w)  # same timestamp again: not appended twice
    assert len(win) == n


def test_applies_to_sensor_kind_site_or_one_sensor():
    class S:
        def __init__(self, id, kind, site_id):
            self.id, self.kind, self.site_id = id, kind, site_id

    assert rule().applies_to(S(1, "temp", 3))
    assert not rule().applies_to(S(1, "gas", 3))
    assert not rule(site_id=2).applies_to(S(1, "temp", 3))
    assert rule(sensor_id=9, sensor_kind=None).applies_to(S(9, "gas", 3))


def test_messages():
    assert raise_message(rule(duration_s=30), "T-1", "°C", 12.5) == "high: 12.5 °C > 10 for 30 s at T-1"
    assert raise_message(rule(kind="rate", duration_s=30), "T-1", "°C", 2.0) == "high: 2 °C/min > 10 at T-1"
