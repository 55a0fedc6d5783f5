"""CameraPipeline without I/O: motion gating, active hours, detection on the moving region."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.vision_fixtures import make_yolo_onnx
from vision.detector import OnnxDetector
from vision.worker import CameraConfig, CameraPipeline
from vision.zones import Zone

NAMES = ["head", "helmet", "person", "vest", "no_vest"]
T0 = dt.datetime(2026, 11, 2, 4, 0, tzinfo=dt.UTC)  # 12:00 in Asia/Shanghai
FULL = [[0, 0], [1, 0], [1, 1], [0, 1]]


def _at(i):
    return T0 + dt.timedelta(seconds=0.5 * i)


@pytest.fixture()
def head_model(tmp_path):
    return OnnxDetector(make_yolo_onnx(tmp_path / "head.onnx", 128, NAMES, [(40, 60, 70, 90, 0, 0.9)],
                                      scale_by_brightness=False))


@pytest.fixture()
def empty_model(tmp_path):
    return OnnxDetector(make_yolo_onnx(tmp_path / "none.onnx", 128, NAMES, [(40, 60, 70, 90, 0, 0.0)],
                                       scale_by_brightness=False))


def _pipe(det, zone, **cfg):
    from zoneinfo import ZoneInfo

    return CameraPipeline(det, [zone], CameraConfig(**cfg), ZoneInfo("Asia/Shanghai"))


def test_static_scene_skips_detection(empty_model):
    p = _pipe(empty_model, Zone.build("z", FULL, ["helmet"]))
    frame = np.full((128, 128, 3), 90, np.uint8)
    for i in range(10):
        assert p.process(frame, _at(i)) == ([], [])
    assert p.stats.detect_runs == 1  # only the first frame was looked at
    assert p.stats.skipped_no_motion == 9


def test_sustained_bare_head_fires_once_and_keeps_detecting_without_motion(head_model):
    p = _pipe(head_model, Zone.build("z", FULL, ["helmet"]))
    frame = np.full((128, 128, 3), 90, np.uint8)
    kinds = []
    for i in range(10):
        changes, dets = p.process(frame, _at(i))
        kinds += [c.kind for c in changes]
    # a tracked violation keeps the detector running on a still scene (a worker standing still)
    assert p.stats.detect_runs == 10
    assert kinds.count("start") == 1 and kinds[0] == "start"


def test_inactive_zone_detects_nothing(head_model):
    night = Zone.build("night shift", FULL, ["helmet"], dt.time(20), dt.time(6))
    p = _pipe(head_model, night)
    frame = np.full((128, 128, 3), 90, np.uint8)
    for i in range(5):
        assert p.process(frame, _at(i)) == ([], [])
    assert p.stats.detect_runs == 0 and p.stats.skipped_inactive == 5


def test_detection_runs_on_the_moving_region_and_maps_boxes_back(head_model):
    p = _pipe(head_model, Zone.build("z", FULL, ["helmet"]))
    still = np.full((512, 512, 3), 90, np.uint8)
    p.process(still, _at(0))  # first frame: full frame
    p.tracker.tracks.clear()
    moved = still.copy()
    moved[300:340, 300:340] = 250
    _, dets = p.process(moved, _at(1))
    # the 128 px crop is centred on the moving square (centre 320, 320) -> origin (256, 256)
    assert dets and dets[0].xyxy == pytest.approx((256 + 40, 256 + 60, 256 + 70, 256 + 90), abs=1.0)


def test_camera_config_refuses_unknown_keys():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CameraConfig.model_validate({"min_scor": 0.5})
    cfg = CameraConfig.model_validate({"min_score": 0.4, "motion_threshold": 0.004})
    assert cfg.tracker_config().threshold == 0.4 and cfg.motion_config().min_area == 0.004
