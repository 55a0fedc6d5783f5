"""The shipped detector (vision/models/ppe_yolo.onnx) on real images, and the worker on
the demo clip with the real database and broker."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from vision.detector import DEFAULT_MODEL, OnnxDetector
from vision.evaluate import evaluate
from vision.prepare_data import CLASSES

FIXTURE = Path(__file__).resolve().parent / "data" / "vision_hardhat" / "data.yaml"
DEMO_CLIP = Path(__file__).resolve().parents[1] / "vision" / "samples" / "ppe_demo.mp4"
# regression floors for the shipped model on the 7-image fixture (it measures head 0.98,
# helmet 0.97 mAP50 there; the full test-split figures are in MODEL_CARD.md)
MIN_HEAD_MAP50 = 0.9
MIN_HELMET_MAP50 = 0.9


def test_shipped_model_is_the_documented_one():
    det = OnnxDetector(DEFAULT_MODEL)
    assert det.names == CLASSES
    assert det.imgsz == 320
    card = (DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()
    assert "320" in card and "Public Domain" in card and "CC BY 4.0" in card


def test_shipped_model_finds_heads_and_helmets():
    res = evaluate(OnnxDetector(DEFAULT_MODEL), FIXTURE, "test")
    head, helmet = res["classes"]["head"], res["classes"]["helmet"]
    assert head["instances"] == 13 and helmet["instances"] == 5
    assert head["map50"] >= MIN_HEAD_MAP50, head
    assert helmet["map50"] >= MIN_HELMET_MAP50, helmet


def test_worker_on_demo_clip_fills_review_queue(fresh_db_url, mqtt_url, tmp_path):
    from vision.worker import run

    eng = sa.create_engine(fresh_db_url)
    with eng.begin() as c:
        c.execute(sa.text("INSERT INTO enterprise (id, name) VALUES (1, 'E')"))
        c.execute(sa.text("INSERT INTO region (id, enterprise_id, code, name) VALUES (1, 1, 'R', 'R')"))
        c.execute(sa.text("INSERT INTO site (id, region_id, code, name, industry, timezone, settings) "
                          "VALUES (1, 1, 'QA01', 'Plant', 'machining', 'Asia/Shanghai', '{}')"))
        c.execute(sa.text("INSERT INTO camera (id, site_id, name, source_url, detect_fps, enabled, config) "
                          "VALUES (1, 1, 'YARD-CAM', 'vision/samples/ppe_demo.mp4', 2, true, :cfg)"),
                  {"cfg": json.dumps({"min_score": 0.4, "motion_threshold": 0.004, "loop": False})})
        c.execute(sa.text("INSERT INTO camera_zone (id, camera_id, name, polygon, required_ppe, cooldown_s) "
                          "VALUES (1, 1, 'yard', '[[0,0],[1,0],[1,1],[0,1]]', '[\"helmet\"]', 0)"))
    try:
        # the clip as fast as the CPU allows (not paced like a live camera): 24 s of video
        stats = run(None, engine=eng, mqtt_url=mqtt_url, data_dir=tmp_path, realtime=False, threads=1)
        cam = stats["cameras"][1]
        assert cam["error"] is None and cam["frames"] == 48
        with eng.connect() as c:
            rows = c.execute(sa.text("SELECT label, snapshot_path, ended_at FROM vision_event")).all()
        assert len(rows) >= 1
        assert {r.label for r in rows} == {"no_helmet"}
        assert all(Path(r.snapshot_path).is_file() and r.ended_at is not None for r in rows)
    finally:
        eng.dispose()
