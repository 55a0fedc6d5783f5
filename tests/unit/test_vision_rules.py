"""Zones, PPE rules, motion gate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from vision.detector import Detection
from vision.motion import MotionConfig, MotionGate
from vision.zones import Zone, ZoneError, find_violations, point_in_polygon

FULL = [[0, 0], [1, 0], [1, 1], [0, 1]]
LEFT = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
NOON = dt.time(12, 0)


def det(label, box, score=0.8, cls=0):
    return Detection(cls, label, score, tuple(float(v) for v in box))


def test_point_in_polygon_concave_and_edges():
    l_shape = [(0, 0), (1, 0), (1, 0.5), (0.5, 0.5), (0.5, 1), (0, 1)]
    assert point_in_polygon(0.25, 0.75, l_shape)
    assert not point_in_polygon(0.75, 0.75, l_shape)  # the notch
    assert point_in_polygon(0.75, 0.25, l_shape)
    assert point_in_polygon(0.0, 0.3, l_shape)  # on an edge
    assert not point_in_polygon(1.2, 0.3, l_shape)


def test_zone_validation():
    with pytest.raises(ZoneError, match="3 points"):
        Zone.build("z", [[0, 0], [1, 1]], ["helmet"])
    with pytest.raises(ZoneError, match="normalised"):
        Zone.build("z", [[0, 0], [640, 0], [640, 480]], ["helmet"])
    with pytest.raises(ZoneError, match="unknown PPE"):
        Zone.build("z", FULL, ["gloves"])


def test_active_hours_including_overnight():
    day = Zone.build("d", FULL, ["helmet"], dt.time(8), dt.time(18))
    night = Zone.build("n", FULL, ["helmet"], dt.time(22), dt.time(6))
    always = Zone.build("a", FULL, ["helmet"])
    assert day.is_active(NOON) and not day.is_active(dt.time(19))
    assert night.is_active(dt.time(23, 30)) and night.is_active(dt.time(5)) and not night.is_active(NOON)
    assert always.is_active(dt.time(3))


def test_bare_head_in_hardhat_zone_is_a_violation_only_inside():
    zone = Zone.build("left", LEFT, ["helmet"])
    dets = [
        det("head", (10, 10, 30, 30)),  # centre (20, 20): inside the left half of 200x100
        det("head", (150, 10, 170, 30)),  # right half: outside
        det("helmet", (40, 10, 60, 30)),  # wearing a helmet: fine
    ]
    v = find_violations(dets, [zone], (200, 100), NOON)
    assert [(x.label, x.detection.xyxy[0]) for x in v] == [("no_helmet", 10)]
    # outside active hours nothing counts
    timed = Zone.build("left", LEFT, ["helmet"], dt.time(8), dt.time(9))
    assert find_violations(dets, [timed], (200, 100), NOON) == []
    # a vest-only zone does not care about heads
    assert find_violations(dets, [Zone.build("v", FULL, ["vest"])], (200, 100), NOON) == []


def test_vest_rules():
    zone = Zone.build("floor", FULL, ["vest"])
    person_with_vest = det("person", (0, 0, 40, 100))
    vest = det("vest", (5, 30, 35, 60))
    person_without = det("person", (100, 0, 140, 100))
    no_vest_box = det("no_vest", (160, 30, 190, 60))
    person_with_no_vest = det("person", (150, 0, 199, 100))
    v = find_violations([person_with_vest, vest, person_without, no_vest_box, person_with_no_vest],
                        [zone], (200, 100), NOON)
    got = sorted((x.label, x.detection.label, x.detection.xyxy[0]) for x in v)
    # the person without any vest box, and the explicit no_vest box (its person is not
    # counted a second time)
    assert got == [("no_vest", "no_vest", 160), ("no_vest", "person", 100)]


def test_both_requirements_in_one_zone():
    zone = Zone.build("line", FULL, ["helmet", "vest"])
    v = find_violations([det("head", (10, 10, 20, 20)), det("no_vest", (5, 30, 25, 60))], [zone], (100, 100), NOON)
    assert sorted(x.label for x in v) == ["no_helmet", "no_vest"]


def _frame(x=None):
    f = np.full((240, 320, 3), 90, np.uint8)
    if x is not None:
        f[100:160, x:x + 40] = 250
    return f


def test_motion_gate_static_vs_moving():
    gate = MotionGate(MotionConfig(width=160, threshold=25, min_area=0.002))
    assert gate.update(_frame()).moving  # first frame is always looked at
    assert not gate.update(_frame()).moving
    assert not gate.update(_frame()).moving
    res = gate.update(_frame(200))
    assert res.moving and res.regions
    x1, y1, x2, y2 = res.union()
    assert x1 <= 200 and x2 >= 240 and y1 <= 100 and y2 >= 160
    assert x2 - x1 < 120  # a region, not the whole frame
    # sensor noise below the threshold is not motion
    noisy = _frame(200).astype(np.int16) + np.random.default_rng(0).integers(-5, 6, (240, 320, 3))
    gate2 = MotionGate()
    gate2.update(_frame(200))
    assert not gate2.update(noisy.clip(0, 255).astype(np.uint8)).moving


def test_motion_config_validation():
    with pytest.raises(ValueError, match="unknown"):
        MotionConfig.from_dict({"treshold": 3})
    assert MotionConfig.from_dict({"blur": 4}).blur == 5
