"""``qhse vision evaluate`` on a tiny fixture: mAP matches a value computed by hand.

The model is a real ONNX graph whose output is fixed (scores scaled by the image's mean
brightness), run through the project's own detector path (letterbox, decode, NMS).

Fixture (64x64 images, classes head=0, helmet=1), predictions in both images:
  A head   [0, 0, 20, 20]    score 0.9 * m
  B head   [30, 30, 50, 50]  score 0.8 * m
  C helmet [40, 0, 60, 20]   score 0.7 * m
image 1 is white (m = 1), image 2 grey 128 (m = 128/255).
Ground truth: image 1 head A, head [0, 40, 20, 60], helmet [40, 0, 60, 14.4] (IoU with C = 0.72);
image 2 head B.

head (3 boxes), pooled by score: A1 .9 TP, B1 .8 FP, A2 .45 FP, B2 .40 TP
  recall 1/3, 1/3, 1/3, 2/3; precision 1, 1/2, 1/3, 1/2; envelope 1, 1/2, 1/2, 1/2
  AP = 1/3 * 1 + 1/3 * 1/2 = 0.5 at every IoU threshold (exact boxes)
helmet (1 box): C1 .7 TP (IoU .72), C2 .35 FP -> AP 1.0 for IoU <= .70 (5 thresholds), else 0
  mAP50 1.0, mAP50-95 0.5
all: mAP50 (0.5 + 1.0) / 2 = 0.75, mAP50-95 (0.5 + 0.5) / 2 = 0.5
precision/recall at conf .25, IoU .5: head 2/4, 2/3; helmet 1/2, 1/1 -> all P 0.5, R 5/6
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tests.vision_fixtures import make_yolo_onnx, write_yolo_labels
from vision.cli import vision
from vision.detector import OnnxDetector
from vision.evaluate import DatasetError, average_precision, evaluate


@pytest.fixture()
def fixture_dataset(tmp_path):
    root = tmp_path / "ds"
    for name, value in (("img1", 255), ("img2", 128)):
        img = np.full((64, 64, 3), value, np.uint8)
        (root / "test" / "images").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "test" / "images" / f"{name}.png"), img)
    write_yolo_labels(root / "test" / "labels" / "img1.txt",
                      [(0, 0, 0, 20, 20), (0, 0, 40, 20, 60), (1, 40, 0, 60, 14.4)], 64)
    write_yolo_labels(root / "test" / "labels" / "img2.txt", [(0, 30, 30, 50, 50)], 64)
    (root / "data.yaml").write_text("path: .\ntest: test/images\nnames: [head, helmet]\n")
    model = make_yolo_onnx(tmp_path / "fixed.onnx", 64, ["head", "helmet"],
                           [(0, 0, 20, 20, 0, 0.9), (30, 30, 50, 50, 0, 0.8), (40, 0, 60, 20, 1, 0.7)])
    return root / "data.yaml", model


def test_average_precision_by_hand():
    # TP, FP, FP, TP over 3 ground-truth boxes -> 1/3 * 1 + 1/3 * 1/2
    ap = average_precision(np.array([0.9, 0.8, 0.45, 0.4]), np.array([True, False, False, True]), 3)
    assert ap == pytest.approx(0.5)
    assert average_precision(np.zeros(0), np.zeros(0, bool), 2) == 0.0


def test_evaluate_matches_hand_computed_values(fixture_dataset):
    data, model = fixture_dataset
    res = evaluate(OnnxDetector(model), data, "test")
    head, helmet = res["classes"]["head"], res["classes"]["helmet"]
    assert head["map50"] == pytest.approx(0.5, abs=1e-6)
    assert head["map50_95"] == pytest.approx(0.5, abs=1e-6)
    assert helmet["map50"] == pytest.approx(1.0, abs=1e-6)
    assert helmet["map50_95"] == pytest.approx(0.5, abs=1e-6)
    assert (head["precision"], head["recall"]) == pytest.approx((0.5, 2 / 3))
    assert (helmet["precision"], helmet["recall"]) == pytest.approx((0.5, 1.0))
    assert res["all"]["map50"] == pytest.approx(0.75, abs=1e-6)
    assert res["all"]["map50_95"] == pytest.approx(0.5, abs=1e-6)
    assert res["all"]["precision"] == pytest.approx(0.5)
    assert res["all"]["recall"] == pytest.approx(5 / 6)


def test_evaluate_cli_json_and_table(fixture_dataset):
    data, model = fixture_dataset
    r = CliRunner().invoke(vision, ["evaluate", "--data", str(data), "--split", "test", "--model", str(model),
                                    "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out) == {"all", "classes"}
    assert out["all"]["map50"] == pytest.approx(0.75, abs=1e-5)
    assert out["all"]["map50_95"] == pytest.approx(0.5, abs=1e-5)
    assert set(out["classes"]) == {"head", "helmet"}
    assert {"map50", "map50_95", "precision", "recall"} <= set(out["classes"]["head"])
    r = CliRunner().invoke(vision, ["evaluate", "--data", str(data), "--model", str(model)])
    assert r.exit_code == 0 and "mAP50-95" in r.output and "helmet" in r.output


def test_evaluate_bad_inputs(fixture_dataset, tmp_path):
    data, model = fixture_dataset
    with pytest.raises(DatasetError, match="no 'val' split"):
        evaluate(OnnxDetector(model), data, "valid")
    r = CliRunner().invoke(vision, ["evaluate", "--data", str(tmp_path / "none.yaml"), "--model", str(model)])
    assert r.exit_code == 2 and "not found" in r.output
