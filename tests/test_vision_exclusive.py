"""Mutually exclusive classes (head vs helmet, vest vs no_vest) suppressed against each other,
and same-class NMS that does not merge two workers' overlapping hard hats."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vision_fixtures import make_yolo_onnx
from vision.detector import (
    DEFAULT_IOU,
    OnnxDetector,
    box_iou,
    decode_yolo,
    exclusive_groups,
    load_detector,
    suppress_exclusive,
)

NAMES = ["head", "helmet", "person", "vest", "no_vest"]


def _out(rows, nc=5):
    out = np.zeros((1, 4 + nc, len(rows)), np.float32)
    for j, (x1, y1, x2, y2, c, s) in enumerate(rows):
        out[0, :4, j] = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
        out[0, 4 + c, j] = s
    return out


def test_exclusive_groups_from_names():
    assert exclusive_groups(NAMES) == [[0, 1], [3, 4]]
    assert exclusive_groups(["helmet", "person"]) == []  # a group needs two present classes
    assert exclusive_groups(["no_vest", "x", "vest"]) == [[2, 0]]


def test_blue_helmet_is_not_both_head_and_helmet():
    # the case seen on the old model: head 0.65 and helmet 0.36 on (nearly) the same box
    rows = [(100, 100, 140, 145, 0, 0.65), (101, 99, 141, 146, 1, 0.36), (100, 100, 140, 200, 2, 0.8)]
    groups = exclusive_groups(NAMES)
    _, _, c = decode_yolo(_out(rows), 0.25, DEFAULT_IOU, exclusive=groups)
    assert sorted(c.tolist()) == [0, 2]  # person overlaps too, but is not exclusive with head
    # without exclusive groups (the old behaviour) both head and helmet were reported
    _, _, c_old = decode_yolo(_out(rows), 0.25, 0.45)
    assert sorted(c_old.tolist()) == [0, 1, 2]


def test_vest_and_no_vest_exclusive_but_neighbours_kept():
    rows = [
        (10, 10, 60, 90, 3, 0.7), (12, 11, 61, 92, 4, 0.5),  # one torso: vest wins
        (200, 20, 230, 50, 0, 0.6), (228, 20, 258, 50, 1, 0.9),  # bare head next to a hard hat
    ]
    _, s, c = decode_yolo(_out(rows), 0.25, DEFAULT_IOU, exclusive=exclusive_groups(NAMES))
    assert sorted(c.tolist()) == [0, 1, 3]
    assert s.tolist() == sorted(s.tolist(), reverse=True)


def test_two_overlapping_helmets_are_not_merged():
    a, b_ = (100, 100, 150, 150), (125, 100, 175, 150)  # two workers side by side, IoU 1/3
    a2, b2 = (100, 100, 150, 150), (115, 100, 165, 150)  # closer: IoU 0.538
    assert 0.5 < box_iou(np.array([a2]), np.array([b2]))[0, 0] < DEFAULT_IOU
    for x, y in ((a, b_), (a2, b2)):
        rows = [(*x, 1, 0.9), (*y, 1, 0.8)]
        _, _, c = decode_yolo(_out(rows), 0.25, DEFAULT_IOU, exclusive=exclusive_groups(NAMES))
        assert c.tolist() == [1, 1]
    # the old IoU 0.45 merged the closer pair into one helmet
    _, _, c_old = decode_yolo(_out([(*a2, 1, 0.9), (*b2, 1, 0.8)]), 0.25, 0.45)
    assert c_old.tolist() == [1]
    # a true duplicate is still removed
    _, _, c_dup = decode_yolo(_out([(*a, 1, 0.9), (101, 101, 151, 151, 1, 0.8)]), 0.25, DEFAULT_IOU)
    assert c_dup.tolist() == [1]


def test_suppress_exclusive_keeps_other_classes():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    keep = suppress_exclusive(boxes, np.array([0.3, 0.9, 0.5]), np.array([0, 1, 2]), [[0, 1]], 0.5)
    assert keep.tolist() == [1, 2]


def test_onnx_detector_applies_exclusive_suppression(tmp_path):
    """End to end through onnxruntime: the shipped detector path."""
    preds = [(10, 10, 30, 32, 0, 0.65), (10, 11, 30, 33, 1, 0.36), (40, 40, 60, 60, 1, 0.9),
             (47, 40, 67, 60, 1, 0.85)]  # IoU 0.48 with the hard hat before
    model = make_yolo_onnx(tmp_path / "m.onnx", 64, NAMES, preds, scale_by_brightness=False)
    frame = np.full((64, 64, 3), 128, np.uint8)
    det = load_detector(model, threads=1)
    labels = sorted((d.label, round(d.score, 2)) for d in det.detect(frame))
    assert labels == [("head", 0.65), ("helmet", 0.85), ("helmet", 0.9)]
    off = OnnxDetector(model, threads=1, exclusive_iou=None, iou_threshold=0.45)
    labels_off = sorted(d.label for d in off.detect(frame))
    assert labels_off == ["head", "helmet", "helmet"]  # old behaviour: helmet duplicate kept, pair merged


def test_suppressed_box_is_decayed_not_reported():
    """Soft suppression: below any reporting floor, still ranked last for mAP."""
    from vision.detector import EXCLUSIVE_DECAY

    rows = [(100, 100, 140, 145, 0, 0.65), (101, 99, 141, 146, 1, 0.9)]  # helmet wins now
    groups = exclusive_groups(NAMES)
    _, s, c = decode_yolo(_out(rows), 0.001, DEFAULT_IOU, exclusive=groups)
    assert c.tolist() == [1, 0]
    assert s.tolist() == pytest.approx([0.9, 0.65 * EXCLUSIVE_DECAY])
    assert 0.65 * EXCLUSIVE_DECAY < 0.25  # never reported at the usual floor
    _, _, c25 = decode_yolo(_out(rows), 0.25, DEFAULT_IOU, exclusive=groups)
    assert c25.tolist() == [1]
    _, s0, c0 = decode_yolo(_out(rows), 0.001, DEFAULT_IOU, exclusive=groups, exclusive_decay=0.0)
    assert c0.tolist() == [1]
