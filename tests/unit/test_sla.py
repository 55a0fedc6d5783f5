"""The SLA rule (qhse.domain.sla) without a database: calendars, policies, escalation, board states."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from qhse.domain.sla import (
    BOARD_STATES,
    ESCALATION_ROLES,
    Policy,
    SlaError,
    WorkingCalendar,
    board_state,
    calendar_from_settings,
    escalation_level,
    escalation_message,
    escalation_steps,
    ladder_label,
    most_specific,
    rectify_hours,
)

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")
CAL = {"workdays": [0, 1, 2, 3, 4, 5], "start": "08:00", "end": "20:00", "holidays": ["2026-03-10"]}


def local(y, mo, d, h=0, mi=0):
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


# ----------------------------------------------------------------------------- calendar
@pytest.fixture(scope="module")
def cal():
    return WorkingCalendar.from_settings(CAL, "Asia/Shanghai")


# 2026-03-02 is a Monday; 2026-03-07 a Saturday (a working day here), 2026-03-08 a Sunday.
@pytest.mark.parametrize("start,hours,due", [
    (local(2026, 3, 2, 10), 4, local(2026, 3, 2, 14)),          # inside the window
    (local(2026, 3, 2, 16), 4, local(2026, 3, 2, 20)),          # ends exactly at closing time
    (local(2026, 3, 2, 17), 4, local(2026, 3, 3, 9)),           # spills into the next morning
    (local(2026, 3, 2, 20), 4, local(2026, 3, 3, 12)),          # reported at closing time
    (local(2026, 3, 2, 7), 4, local(2026, 3, 2, 12)),           # before opening: clock starts at 08:00
    (local(2026, 3, 2, 23, 30), 4, local(2026, 3, 3, 12)),      # at night
    (local(2026, 3, 7, 19), 4, local(2026, 3, 9, 11)),          # Saturday evening: Sunday is off
    (local(2026, 3, 8, 12), 4, local(2026, 3, 9, 12)),          # reported on Sunday
    (local(2026, 3, 9, 18), 4, local(2026, 3, 11, 10)),         # Tuesday 10 March is a holiday
    (local(2026, 3, 2, 10), 24, local(2026, 3, 4, 10)),         # 24 working hours = two 12-hour days
    (local(2026, 3, 6, 10), 24, local(2026, 3, 9, 10)),         # Fri 10:00 + Sat + Mon morning
    (local(2026, 3, 2, 8), 12, local(2026, 3, 2, 20)),          # a whole working day
])
def test_calendar_due_edges(cal, start, hours, due):
    assert cal.add(start, hours) == due
    assert cal.working_seconds(start, due) == pytest.approx(hours * 3600)


def test_calendar_working_seconds_over_weekend(cal):
    assert cal.working_seconds(local(2026, 3, 7, 18), local(2026, 3, 9, 10)) == 4 * 3600
    assert cal.working_seconds(local(2026, 3, 9, 10), local(2026, 3, 7, 18)) == 0


@pytest.mark.parametrize("cfg,match", [
    ({"workdays": [], "start": "08:00", "end": "17:00"}, "non-empty list"),
    ({"workdays": [7], "start": "08:00", "end": "17:00"}, "weekday numbers"),
    ({"workdays": [0], "start": "18:00", "end": "08:00"}, "later than start"),
    ({"workdays": [0], "start": "8h", "end": "17:00"}, "not HH:MM"),
    ({"workdays": [0], "start": "08:00", "end": "17:00", "holidays": ["May Day"]}, "not a date"),
    ({"workdays": [0], "start": "08:00", "end": "17:00", "shift": 2}, "unknown key"),
])
def test_calendar_config_errors(cfg, match):
    with pytest.raises(SlaError, match=match):
        WorkingCalendar.from_settings(cfg, "Asia/Shanghai")


def test_escalation_level_rule():
    # One level per full SLA period past due, capped at 3 (group).
    assert [escalation_level(h, 4) for h in (0, 0.01, 3.99, 4, 7.99, 8, 12, 100)] == [0, 0, 0, 1, 1, 2, 3, 3]
    assert [escalation_level(h, 24) for h in (23.9, 24, 48, 72)] == [0, 1, 2, 3]
    with pytest.raises(SlaError):
        escalation_level(5, 0)


# ----------------------------------------------------------------------------- policy
@dataclass
class Row:
    id: int
    site_id: int | None
    category: str | None


def test_most_specific_policy_row_wins():
    rows = [Row(1, None, None), Row(2, None, "fire"), Row(3, 7, None), Row(4, 7, "fire"), Row(5, 7, None)]
    assert most_specific(rows).id == 4
    assert most_specific([r for r in rows if r.id != 4]).id == 3  # two site rows: the oldest
    assert most_specific([Row(1, None, None), Row(2, None, "fire")]).id == 2
    assert most_specific([]) is None


def test_rectify_hours_default_and_site_override():
    assert rectify_hours({}, "severe") == 24.0
    assert rectify_hours({"sla": {"rectify_hours": {"severe": 12}}}, "severe") == 12.0
    with pytest.raises(SlaError, match="positive"):
        rectify_hours({"sla": {"rectify_hours": {"low": 0}}}, "low", "S1")
    with pytest.raises(SlaError, match="number of hours"):
        rectify_hours({"sla": {"rectify_hours": {"low": "a week"}}}, "low", "S1")


def test_policy_due_times_clock_and_working_hours(cal):
    t = local(2026, 3, 2, 17)
    clock = Policy("high", 8.0, 72.0, None, "default")
    assert clock.response_due(t) == t + dt.timedelta(hours=8)
    working = Policy("high", 8.0, 72.0, cal, "sla_policy #1")
    assert working.response_due(t) == local(2026, 3, 3, 13)
    assert working.escalation_level(local(2026, 3, 2, 12), local(2026, 3, 3, 12)) == 1  # 8 + 4 working hours
    assert calendar_from_settings({}, "UTC") is None
    assert calendar_from_settings({"calendar": CAL}, "Asia/Shanghai") == cal


# ----------------------------------------------------------------------------- ladder and board
def test_ladder_is_spelled_one_way():
    assert ESCALATION_ROLES == ("owner", "area_manager", "plant_manager", "group")
    assert [ladder_label(i) for i in range(4)] == ["owner", "area manager", "plant manager", "group"]
    assert escalation_steps(0, 2) == [(1, "area_manager"), (2, "plant_manager")]
    assert escalation_steps(3, 3) == []


def test_escalation_message():
    subject, body = escalation_message(
        role="plant_manager", level=2, action_id=5, action_description="Fix the guard", hazard_id=9,
        hazard_title="Guard missing", severity="high", category="machine_guarding",
        due_at=dt.datetime(2026, 3, 2, 8, tzinfo=UTC), late_hours=16.04, working_hours=False, period_hours=8)
    assert subject == "[plant manager] overdue action #5: Guard missing"
    assert "is 16.0 h overdue (clock hours; SLA period 8 h)" in body
    assert "Escalated to level 2 (plant manager)." in body


@pytest.mark.parametrize("level,due_h,state", [
    (1, 48, "escalated"), (0, -0.1, "overdue"), (0, 0.5, "due_soon"), (0, 23.9, "due_soon"), (0, 24, "on_time"),
])
def test_board_state(level, due_h, state):
    now = dt.datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert board_state(level, now + dt.timedelta(hours=due_h), now, 24.0) == state
    assert state in BOARD_STATES
