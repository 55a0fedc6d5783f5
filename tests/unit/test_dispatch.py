"""Dispatch, recurrence and incentive rules (qhse.domain.dispatch / recurrence / incentives) without a database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from qhse.domain.dispatch import (
    DispatchError,
    fallback,
    lead_is_area_owner,
    missing_departments,
    rank,
    rule_departments,
    severity_allows,
)
from qhse.domain.incentives import DEFAULT_POINTS, IncentiveError, points_for, points_table
from qhse.domain.recurrence import RecurrenceError, repeat_key, window_days


@dataclass
class R:
    id: int
    site_id: int | None = None
    area_id: int | None = None
    category: str | None = None
    min_severity: str | None = None
    priority: int = 100
    department_ids: list = field(default_factory=lambda: [1])


def test_most_specific_rule_first():
    rules = [R(1), R(2, site_id=1), R(3, site_id=1, area_id=5), R(4, site_id=1, category="fire"),
             R(5, site_id=1, area_id=5, priority=10)]
    assert [r.id for r in rank(rules, "normal")] == [5, 3, 4, 2, 1]


def test_severity_floor():
    assert severity_allows(None, "low") and severity_allows("high", "severe") and severity_allows("high", "high")
    assert not severity_allows("high", "normal")
    assert not severity_allows("catastrophic", "severe")  # an unknown floor admits nothing
    assert [r.id for r in rank([R(1, min_severity="high"), R(2)], "normal")] == [2]
    assert [r.id for r in rank([R(1, min_severity="high"), R(2)], "severe")] == [1, 2]
    with pytest.raises(DispatchError, match="unknown severity"):
        rank([], "huge")


def test_rule_departments_and_fallback():
    assert rule_departments(R(1, department_ids=[3, "4", "x", None, 3])) == [3, 4, 3]
    with pytest.raises(DispatchError, match=r"names department\(s\) \[9\] that are not at site #2"):
        missing_departments(R(7), [3, 9], {3}, 2)
    assert fallback(1, 6).department_ids == (6,) and fallback(1, 6).rule_id is None
    with pytest.raises(DispatchError, match="its area has no owning department"):
        fallback(1, None)
    assert lead_is_area_owner(6, 42, 6) and not lead_is_area_owner(6, 42, 7) and not lead_is_area_owner(6, None, 6)


def test_incentive_points():
    assert points_table({}) == DEFAULT_POINTS == {"low": 5, "normal": 10, "high": 15, "severe": 20}
    assert points_for({"incentive_points": {"severe": 30}}, "severe") == 30
    for cfg, msg in [({"severe": 500}, "whole number 0..100"), ({"huge": 1}, "unknown severity"),
                     ({"low": True}, "whole number"), ([1], "object keyed by severity")]:
        with pytest.raises(IncentiveError, match=msg):
            points_table({"incentive_points": cfg}, "S1")


def test_recurrence_window_and_key():
    assert window_days({}) == 30 and window_days({"recurrence_days": 7}) == 7
    for v in (0, 1.5, True, "7"):
        with pytest.raises(RecurrenceError):
            window_days({"recurrence_days": v})
    t = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    k = repeat_key(category="fire", asset_id=None, area_id=4, reported_at=t, days=7)
    assert (k.area_id, k.asset_id, k.since, k.until) == (4, None, t - dt.timedelta(days=7), t)
    assert repeat_key(category="fire", asset_id=9, area_id=4, reported_at=t, days=7).area_id is None
    assert k.excluded_status == "rejected"
