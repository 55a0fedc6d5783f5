"""Inspection scheduling and checklist rules (qhse.domain.inspections) without a database."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from qhse.domain.inspections import (
    InspectionError,
    check_findings,
    check_results,
    due_time,
    frequency_days,
    grace_hours,
    is_missed,
    item_category,
    schedule_start,
    slot_times,
    validate_checklist,
)

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")


def local(y, mo, d, h=0, mi=0):
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


def test_slot_grid_is_stable():
    tz = SH
    a = slot_times(3.5, local(2026, 11, 1), local(2026, 11, 15), tz, dt.time(9))
    b = slot_times(3.5, local(2026, 11, 5, 12), local(2026, 11, 15), tz, dt.time(9))
    assert b == [t for t in a if t >= local(2026, 11, 5, 12)]
    # Several times a day: every 8 hours from local midnight.
    c = slot_times(1 / 3, local(2026, 11, 2), local(2026, 11, 3), tz, dt.time(9))
    assert [t.astimezone(SH).hour for t in c] == [0, 8, 16]


def test_twice_a_week_falls_on_mondays_and_thursdays():
    days = [t.astimezone(SH) for t in slot_times(3.5, local(2026, 11, 2), local(2026, 11, 30), SH, dt.time(9))]
    assert {d.weekday() for d in days} == {0, 3} and all(d.time() == dt.time(9) for d in days)


def test_frequency_from_route_risk_class_and_site():
    assert frequency_days(None, "A", {}) == 1.0 and frequency_days(None, "C", {}) == 3.5
    assert frequency_days(5, "A", {}) == 5.0  # the route's own frequency wins
    assert frequency_days(None, "B", {"inspections": {"frequency_days": {"B": 7}}}) == 7.0
    with pytest.raises(InspectionError, match="no inspection frequency for risk class 'D'"):
        frequency_days(None, "D", {}, area_code="X1")
    with pytest.raises(InspectionError, match="out of range"):
        frequency_days(400, "A", {}, route_name="r")
    with pytest.raises(InspectionError, match="must be an object"):
        frequency_days(None, "A", {"inspections": [1]})


def test_due_time_grace_and_misses():
    assert due_time({}) == dt.time(9) and due_time({"inspections": {"due_time": "14:30"}}) == dt.time(14, 30)
    with pytest.raises(InspectionError, match="is not HH:MM"):
        due_time({"inspections": {"due_time": "noon"}})
    assert grace_hours({}) == 12.0
    with pytest.raises(InspectionError, match="cannot be negative"):
        grace_hours({"inspections": {"grace_hours": -1}})
    due = dt.datetime(2026, 11, 2, 1, tzinfo=UTC)
    assert not is_missed(due, 12, due + dt.timedelta(hours=11, minutes=59))
    assert is_missed(due, 12, due + dt.timedelta(hours=12))


def test_schedule_starts_after_the_latest_inspection():
    now = local(2026, 11, 2, 6)
    assert schedule_start(now, SH, None) == local(2026, 11, 2)
    latest = local(2026, 11, 3, 9)
    assert schedule_start(now, SH, latest) == latest + dt.timedelta(seconds=1)


CHECKLIST = [{"key": "exits_clear", "label": "Exits clear", "required": True},
             {"key": "housekeeping", "type": "number", "min": 3, "max": 5, "required": True},
             {"key": "remarks", "type": "text"}]


def test_checklist_answers_and_findings():
    validate_checklist(CHECKLIST)
    failed = check_results(CHECKLIST, {"exits_clear": False, "housekeeping": 2, "remarks": "ok"})
    assert [(f["key"], f["value"]) for f in failed] == [("exits_clear", False), ("housekeeping", 2)]
    assert check_results(CHECKLIST, {"exits_clear": True, "housekeeping": 4}) == []
    with pytest.raises(InspectionError, match=r"missing required item\(s\): Exits clear \(exits_clear\)"):
        check_results(CHECKLIST, {"housekeeping": 4})
    with pytest.raises(InspectionError, match="housekeeping: expected a number"):
        check_results(CHECKLIST, {"exits_clear": True, "housekeeping": float("nan")})
    with pytest.raises(InspectionError, match="appears twice"):
        validate_checklist(CHECKLIST + [{"key": "remarks"}])
    with pytest.raises(InspectionError, match="unknown severity"):
        validate_checklist([{"key": "a", "severity": "dire"}])
    assert item_category({"key": "exits_clear"}) == "fire" and item_category({"key": "x"}) == "general"
    assert item_category({"key": "exits_clear", "category": "ppe"}) == "ppe"
    assert check_findings([{"title": "Leak", "severity": "high"}]) == [{"title": "Leak", "severity": "high"}]
    for bad, msg in [({"title": " "}, "needs a title"), ({"title": "x", "severity": "dire"}, "unknown severity"),
                     ({"title": "x", "colour": 1}, "unknown field")]:
        with pytest.raises(InspectionError, match=msg):
            check_findings([bad])
