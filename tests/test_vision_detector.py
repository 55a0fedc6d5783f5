"""Detector pre/post-processing: letterbox, YOLO decode, NMS, and the ONNX path end to end."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vision_fixtures import make_yolo_onnx
from vision.detector import (
    DetectorError,
    OnnxDetector,
    box_iou,
    decode_yolo,
    letterbox,
    load_detector,
    nms,
)


def _yolo_output(rows: list[tuple], nc: int) -> np.ndarray:
    """rows: (cx, cy, w, h, cls, score) -> (1, 4 + nc, N)."""
    out = np.zeros((1, 4 + nc, len(rows)), np.float32)
    for j, (cx, cy, w, h, c, s) in enumerate(rows):
        out[0, :4, j] = [cx, cy, w, h]
        out[0, 4 + c, j] = s
    return out


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 50 / 150, 0.0])


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]])
    scores = np.array([0.8, 0.9, 0.7, 0.6])
    keep = nms(boxes, scores, 0.5)
    assert keep.tolist() == [1, 2]  # box 1 suppresses 0 and 3 (IoU > .5); 2 is far away


def test_decode_known_boxes_class_aware():
    out = _yolo_output(
        [
            (50, 50, 20, 20, 0, 0.90),  # head
            (51, 50, 20, 20, 0, 0.80),  # duplicate head -> suppressed
            (50, 50, 20, 20, 1, 0.70),  # helmet on the same spot: other class, kept
            (200, 100, 40, 60, 2, 0.10),  # below confidence
        ],
        nc=3,
    )
    boxes, scores, cls = decode_yolo(out, conf_threshold=0.25, iou_threshold=0.45)
    assert cls.tolist() == [0, 1]
    np.testing.assert_allclose(scores, [0.9, 0.7], rtol=1e-6)
    np.testing.assert_allclose(boxes[0], [40, 40, 60, 60])
    # agnostic NMS removes the helmet box as well
    _, _, cls_a = decode_yolo(out, 0.25, 0.45, agnostic=True)
    assert cls_a.tolist() == [0]


def test_decode_rejects_bad_shapes():
    with pytest.raises(DetectorError):
        decode_yolo(np.zeros((2, 7, 10)))
    with pytest.raises(DetectorError):
        decode_yolo(np.zeros((1, 3, 10)))
    b, s, c = decode_yolo(np.zeros((1, 7, 10)))
    assert len(b) == len(s) == len(c) == 0


def test_letterbox_geometry_and_inverse():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[40:60, 90:110] = 255
    img, lb = letterbox(frame, 320)
    assert img.shape == (320, 320, 3)
    assert lb.scale == pytest.approx(1.6)
    assert lb.pad_x == 0 and lb.pad_y == 80
    assert img[0, 0, 0] == 114  # padding colour
    ys, xs = np.where(img[:, :, 0] == 255)
    input_box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    back = lb.to_frame(input_box, 200, 100)[0]
    np.testing.assert_allclose(back, [90, 40, 110, 60], atol=1.0)
    with pytest.raises(DetectorError):
        letterbox(np.zeros((0, 10, 3), np.uint8), 64)


def test_onnx_detector_maps_boxes_back_to_frame(tmp_path):
    # model input 64x64; a 128x64 frame is scaled by 0.5 and padded 16 px top and bottom
    model = make_yolo_onnx(tmp_path / "m.onnx", 64, ["head", "helmet"],
                           [(8, 24, 24, 40, 0, 0.9), (40, 20, 56, 36, 1, 0.8)], scale_by_brightness=False)
    det = OnnxDetector(model, conf_threshold=0.25)
    assert det.names == ["head", "helmet"] and det.imgsz == 64
    frame = np.full((64, 128, 3), 50, np.uint8)
    dets = det.detect(frame)
    assert [d.label for d in dets] == ["head", "helmet"]
    np.testing.assert_allclose(dets[0].xyxy, (16, 16, 48, 48), atol=0.5)
    np.testing.assert_allclose(dets[1].xyxy, (80, 8, 112, 40), atol=0.5)
    assert dets[0].score == pytest.approx(0.9, abs=1e-6)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="not found"):
        load_detector(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="cannot load"):
        load_detector(bad)
    with pytest.raises(DetectorError, match="backend"):
        load_detector(bad, backend="tensorrt")


def test_detect_cli_json_and_bad_image(tmp_path):
    import json

    import cv2
    from click.testing import CliRunner

    from vision.cli import vision

    model = make_yolo_onnx(tmp_path / "m.onnx", 64, ["head", "helmet"], [(8, 8, 24, 24, 0, 0.9)],
                           scale_by_brightness=False)
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.full((64, 64, 3), 80, np.uint8))
    r = CliRunner().invoke(vision, ["detect", str(img), "--model", str(model), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["image"] == str(img) and out["width"] == 64
    assert out["detections"] == [{"cls": "head", "score": 0.9, "xyxy": [8.0, 8.0, 24.0, 24.0]}]
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    r = CliRunner().invoke(vision, ["detect", str(img), str(tmp_path / "broken.jpg"), "--model", str(model),
                                    "--json"])
    assert r.exit_code == 1
    assert "cannot read image" in r.stderr
    assert json.loads(r.stdout)[0]["detections"]
