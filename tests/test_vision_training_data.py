"""Training data and start weights: the full hard-hat train split merged, valid/test from the
hard-hat set only, person pseudo-labels on train only; COCO YOLO11n tensors loaded into an
unfused model (needs the [train] extra and ../shared/weights for the last test)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tests.vision_fixtures import make_yolo_onnx
from vision.detector import OnnxDetector
from vision.prepare_data import add_pseudo_labels, default_sources, prepare

COCO_ONNX = Path(__file__).resolve().parents[2] / "shared" / "weights" / "yolo11n-coco-320-int8.onnx"


def _source(root: Path, name: str, names: list[str] | None, splits: dict[str, int]) -> Path:
    d = root / name
    for split, n in splits.items():
        (d / split / "images").mkdir(parents=True)
        (d / split / "labels").mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(d / split / "images" / f"{split}{i}.jpg"), np.full((64, 64, 3), 90, np.uint8))
            (d / split / "labels" / f"{split}{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n2 0.5 0.6 0.4 0.8\n")
    if names is not None:
        (d / "data.yaml").write_text(yaml.safe_dump({"names": names}))
    return d


def test_full_train_split_and_clean_eval_splits(tmp_path):
    src = tmp_path / "src"
    _source(src, "ppe-hardhat", ["head", "helmet", "person"], {"train": 2, "valid": 2, "test": 1})
    _source(src, "ppe-hardhat-extra", None, {"train": 3})  # ships no data.yaml
    _source(src, "ppe-vest", ["helmet", "no_helmet", "no_vest", "vest"], {"train": 1, "valid": 1, "test": 1})
    sources = default_sources(src)
    assert list(sources) == ["ppe-hardhat", "ppe-hardhat-extra", "ppe-vest"]
    rep = prepare(sources, tmp_path / "out", eval_sources={"ppe-hardhat"})
    assert rep.images == {"train": 6, "valid": 2, "test": 1}
    assert rep.boxes["train"]["head"] == 5 and rep.boxes["train"]["person"] == 5
    # the vest set's class 0 is helmet there
    assert rep.boxes["train"]["helmet"] == 1
    assert not list((tmp_path / "out" / "valid" / "images").glob("ppe-vest__*"))


def test_person_pseudo_labels_fill_gaps_on_train(tmp_path):
    split = tmp_path / "train"
    (split / "images").mkdir(parents=True)
    (split / "labels").mkdir()
    cv2.imwrite(str(split / "images" / "a.jpg"), np.full((64, 64, 3), 90, np.uint8))
    # one labelled person at 16..48 x 8..56; the detector sees it and a second person
    (split / "labels" / "a.txt").write_text("2 0.5 0.5 0.5 0.75\n0 0.2 0.2 0.1 0.1\n")
    model = make_yolo_onnx(tmp_path / "coco.onnx", 64, ["person", "car"],
                           [(16, 8, 48, 56, 0, 0.9), (50, 10, 62, 60, 0, 0.8), (0, 0, 10, 10, 1, 0.9),
                            (2, 30, 12, 60, 0, 0.3)], scale_by_brightness=False)
    det = OnnxDetector(model, threads=1)
    assert add_pseudo_labels(split, det, target_id=2, conf=0.5) == 1
    lines = (split / "labels" / "a.txt").read_text().splitlines()
    assert len(lines) == 3 and lines[:2] == ["2 0.5 0.5 0.5 0.75", "0 0.2 0.2 0.1 0.1"]
    cls, cx, cy, w, h = lines[2].split()
    assert cls == "2" and float(cx) == pytest.approx(56 / 64, abs=0.01) and float(w) == pytest.approx(12 / 64, abs=0.01)
    assert add_pseudo_labels(split, det, target_id=2, conf=0.5) == 0  # idempotent


@pytest.mark.slow
def test_coco_start_weights_match_the_onnx_and_keep_person(tmp_path):
    pytest.importorskip("ultralytics", reason="needs the [train] extra")
    if not COCO_ONNX.is_file():
        pytest.skip(f"{COCO_ONNX} not present")
    import torch

    from vision.pretrained import build, check_against_onnx, cls_width
    from vision.training import _ensure_torchvision

    _ensure_torchvision()
    img = np.random.default_rng(0).random((3, 320, 320), dtype=np.float32)
    assert check_against_onnx(COCO_ONNX, img) > 0.99
    names = ["head", "helmet", "person", "vest", "no_vest"]
    calib = tmp_path / "calib"
    calib.mkdir()
    for i in range(4):
        cv2.imwrite(str(calib / f"{i}.jpg"), (np.random.default_rng(i).random((240, 320, 3)) * 255).astype(np.uint8))
    out = build(tmp_path / "start.pt", names, onnx_path=COCO_ONNX, calib_images=calib, n_calib=4)
    ckpt = torch.load(out, map_location="cpu", weights_only=False)
    model = ckpt["model"].float().eval()
    assert model.nc == 5 and cls_width(model) == 80 and "AGPL-3.0" in ckpt["license"]
    head = model.model[-1]
    assert head.cv3[0][-1].weight.shape[0] == 5
    # the person row is COCO's person; batch-norm calibration keeps the eval function
    from vision.pretrained import _coco_model, onnx_tensors

    coco = _coco_model(onnx_tensors(COCO_ONNX))
    # (the checkpoint is stored in half precision)
    assert torch.allclose(head.cv3[1][-1].weight[2], coco.model[-1].cv3[1][-1].weight[0], atol=1e-3)
    with torch.no_grad():
        a = model(torch.from_numpy(img[None]))[0][0, 4 + 2]
        b = coco(torch.from_numpy(img[None]))[0][0, 4 + 0]
    assert torch.allclose(a, b, atol=1e-2) and float(b.max()) > 0.01
