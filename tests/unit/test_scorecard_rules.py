"""Scorecard rules without a database: rating thresholds, the two-consecutive rule, indicator
definitions parsed from YAML text, manual values, which units an indicator assesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from qhse.domain.scorecards import (
    ScorecardError,
    Unit,
    applicable_units,
    check_manual_value,
    evidence_rows,
    group_items,
    needs_plan,
    parse_indicators,
    rating,
)

SHIPPED = Path(__file__).resolve().parents[2] / "qhse" / "domain" / "indicators.yaml"


# ------------------------------------------------------------------------------ rules
@pytest.mark.parametrize("value, expected", [
    (100.0, "excellent"), (99.99, "qualified"), (98.0, "qualified"), (97.999, "needs_improvement"),
    (0.0, "needs_improvement"), (None, "not_available"),
])
def test_rating_edges_higher_is_better(value, expected):
    # hazard rectification on time: excellent at 100 %, qualified at 98 %
    assert rating(value, excellent_at=100, qualified_at=98, higher_is_better=True) == expected


@pytest.mark.parametrize("value, expected", [
    (0.0, "excellent"), (0.5, "excellent"), (0.5001, "qualified"), (1.5, "qualified"), (1.5001, "needs_improvement"),
    (None, "not_available"),
])
def test_rating_edges_lower_is_better(value, expected):
    # TRIR: excellent at or below 0.5, qualified at or below 1.5
    assert rating(value, excellent_at=0.5, qualified_at=1.5, higher_is_better=False) == expected


def test_zero_tolerance_indicator():
    # hot-work permit compliance 100 %: anything below is needs improvement
    assert rating(100, 100, 100) == "excellent"
    assert rating(99.9, 100, 100) == "needs_improvement"


def test_two_consecutive_rule():
    ni = "needs_improvement"
    assert needs_plan(ni, ni) is True
    assert needs_plan("qualified", ni) is False
    assert needs_plan(ni, "qualified") is False
    assert needs_plan(None, ni) is False
    assert needs_plan("not_available", ni) is False
    assert needs_plan(ni, "not_available") is False


# --------------------------------------------------------------------- indicator definitions
def test_shipped_indicators_load_with_the_required_examples():
    defs = {d.code: d for d in parse_indicators(SHIPPED.read_text(encoding="utf-8"), str(SHIPPED))}
    assert defs["chemical_storage_compliance"].target == 100
    assert defs["rectification_on_time"].qualified_at == 98 and defs["rectification_on_time"].higher_is_better
    assert defs["hot_work_permit_compliance"].qualified_at == 100
    waste = defs["hazardous_waste_disposal_compliance"]
    assert waste.manual and waste.target == 100
    assert {d.level for d in defs.values()} == {"enterprise", "department", "post"}
    stages = {d.stage for d in defs.values()}
    assert {"storage", "machining", "welding", "electronics_assembly", "waste_disposal"} <= stages
    assert all(d.formula and d.source for d in defs.values())


GOOD = """
file_version: 1
indicators:
  - code: x_on_time
    version: 1
    name: X
    level: department
    stage: general
    source: actions_on_time
    formula: a / b
    target: 98
    excellent_at: 100
    qualified_at: 98
"""


@pytest.mark.parametrize("change, message", [
    (("qualified_at: 98", "qualified_at: 98\n    colour: red"), "colour"),
    (("source: actions_on_time", "source: guesswork"), "unknown source"),
    (("excellent_at: 100", "excellent_at: 90"), "excellent_at must be at least qualified_at"),
    (("source: actions_on_time", "source: hazards_rectified_within"), "needs hours"),
    (("level: department", "level: galaxy"), "level"),
])
def test_bad_indicator_files_are_refused_with_the_reason(change, message):
    assert parse_indicators(GOOD, "ind.yaml")[0].code == "x_on_time"
    bad = GOOD.replace(*change)
    with pytest.raises(ScorecardError) as e:
        parse_indicators(bad, "ind.yaml")
    assert message in str(e.value) and "x_on_time" in str(e.value) and str(e.value).startswith("ind.yaml: ")


def test_unreadable_yaml_is_refused_with_the_source_name():
    with pytest.raises(ScorecardError, match=r"^ind.yaml: not valid YAML"):
        parse_indicators("indicators: [unclosed", "ind.yaml")


@pytest.mark.parametrize("value, unit, message", [
    ("abc", "%", "not a number"), (float("nan"), "%", "finite"), (float("inf"), None, "finite"),
    (101, "%", "outside 0..100"), (-1, "%", "outside 0..100"),
])
def test_manual_values_are_checked(value, unit, message):
    with pytest.raises(ScorecardError, match=message):
        check_manual_value(value, unit)


def test_manual_value_in_range_is_a_float():
    assert check_manual_value("98.5", "%") == 98.5
    assert check_manual_value(250, "h") == 250.0


UNITS = {
    "enterprise": [{"id": 1}],
    "site": [{"id": 10, "enterprise_id": 1, "settings": {"local_indicators": {"loc_x": True}}},
             {"id": 11, "enterprise_id": 1, "settings": {}}],
    "department": [{"id": 100, "site_id": 10, "stage": "welding"}, {"id": 101, "site_id": 11, "stage": "storage"}],
    "post": [{"id": 1000, "site_id": 10, "stage": "welding", "hazardous": True},
             {"id": 1001, "site_id": 10, "stage": "welding", "hazardous": False}],
}


def test_applicable_units_by_level_stage_and_filters():
    ent = {"code": "trir", "level": "enterprise", "stage": "general", "applies_to": {}}
    assert {(u.unit_type, u.unit_id) for u in applicable_units(ent, UNITS)} == {("site", 10), ("site", 11),
                                                                                 ("enterprise", 1)}
    local = {"code": "loc_x", "level": "enterprise", "stage": "general", "applies_to": {"local": True}}
    assert applicable_units(local, UNITS) == [Unit("site", 10, 10)]
    dept = {"code": "d", "level": "department", "stage": "storage", "applies_to": {}}
    assert applicable_units(dept, UNITS) == [Unit("department", 101, 11)]
    post = {"code": "p", "level": "post", "stage": "welding", "applies_to": {"hazardous_posts_only": True}}
    assert applicable_units(post, UNITS) == [Unit("post", 1000, 10)]


def test_items_count_for_every_unit_above_them():
    items = [{"site_id": 10, "department_id": 100, "post_id": None, "num": 1, "den": 1, "tbl": "t", "id": 5}]
    g = group_items(items, {10: 1})
    assert set(g) == {("enterprise", 1), ("site", 10), ("department", 100)}
    assert evidence_rows(items, "actions_on_time") == [{"table": "t", "id": 5, "ok": True}]
