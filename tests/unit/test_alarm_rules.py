"""The alarm rule (qhse.domain.alarm_rules) without a database or a broker."""

from __future__ import annotations

import random
from collections import deque

import pytest

from qhse.domain.alarm_rules import (
    Rule,
    advance_window,
    clears,
    exceeds,
    new_peak,
    raise_message,
    run,
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
    assert clears(r, 8.0) and clears(r, 7.9) and not clears(r, 8.1)


class Alarm:
    def __init__(self):
        self.n, self.last_value, self.last_us, self.peak = 0, 0.0, 0, None


def play(r, values, *, alarm=None, held_from=None, stored_hold_start=None):
    """Run the rule on values one second apart; returns the events, the open alarm and the pending hold."""
    events = []

    def on_raise(us, x):
        events.append(("raise", us // 1_000_000, x))
        return Alarm()

    def on_clear(a, us, x):
        events.append(("clear", us // 1_000_000, x, a.n, a.peak))

    series = [(i * 1_000_000, v) for i, v in enumerate(values)]

    def held_since(us):  # what the stored readings say: the start of the unbroken run beyond the threshold
        events.append(("check", us // 1_000_000))
        i = us // 1_000_000
        while i > 0 and series[i - 1][1] is not None and exceeds(r, series[i - 1][1]):
            i -= 1
        if i == 0 and stored_hold_start is not None:
            return stored_hold_start * 1_000_000
        return i * 1_000_000

    a, held = run(r, series, alarm=alarm, held_from=held_from, held_since=held_since,
                  on_first_update=lambda a: events.append(("first_update",)), on_clear=on_clear, on_raise=on_raise)
    return events, a, held


def test_raise_once_update_then_clear_with_hysteresis():
    events, a, held = play(rule(clear=8.0), [5, 11, 12, 9, 15, 8.5, 8, 11])
    assert events[0] == ("raise", 1, 11)
    assert events[1] == ("first_update",)
    # 12, 9 (between the bounds), 15, 8.5 update the open alarm; 8 clears it; 11 raises again
    assert events[2] == ("clear", 6, 8, 4, 15)
    assert events[3] == ("raise", 7, 11)
    assert a is not None and held is None


def test_below_threshold_rule_and_none_values_skipped():
    events, a, _ = play(rule(op="<", threshold=2.0, clear=3.0), [5, None, 1.5, 1.0, 2.5, 3.0])
    assert [e[0] for e in events] == ["raise", "first_update", "clear"]
    assert events[2][1:] == (5, 3.0, 2, 1.0)  # cleared at 3.0 after two updates, lowest value 1.0


def test_duration_needs_the_condition_held_and_is_verified():
    r = rule(duration_s=3)
    # beyond from t=1: checked when the hold starts (t=1) and when it looks long enough (t=4), then raised
    events, a, held = play(r, [5, 11, 11, 11, 11])
    assert events == [("check", 1), ("check", 4), ("raise", 4, 11)]
    # a dip below resets the hold
    events, a, held = play(r, [11, 11, 5, 11, 11])
    assert ("raise",) not in [e[:1] for e in events] and a is None and held == 3 * 1_000_000
    # the stored readings show the condition held since before this batch: raise at once
    events, _, _ = play(r, [11], stored_hold_start=-10)
    assert events == [("check", 0), ("raise", 0, 11)]
    # a pending hold carried over from the previous batch
    events, _, _ = play(r, [11, 11], held_from=-2 * 1_000_000, stored_hold_start=-2)
    assert events[-1] == ("raise", 1, 11)


def test_rate_rule_duration_is_its_window_not_a_hold():
    events, _, _ = play(rule(kind="rate", duration_s=30), [None, 11])
    assert events == [("raise", 1, 11)]


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


@pytest.mark.parametrize("op,clear", [(">", 8.0), ("<", 12.0), (">", None), ("<", None)])
def test_the_loop_agrees_with_exceeds_and_clears(op, clear):
    r = rule(op=op, clear=clear)
    for x in [i / 4 for i in range(0, 80)]:
        events, _, _ = play(r, [x])
        assert bool(events) == exceeds(r, x), x
        events, _, _ = play(r, [x], alarm=Alarm())
        assert (events[0][0] == "clear") == clears(r, x), x
