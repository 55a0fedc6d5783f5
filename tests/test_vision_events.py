"""The worker end to end on the real PostgreSQL and MQTT broker: a camera (video file),
a zone requiring hard hats, a detector that sees a bare head -> one vision_event row, an
annotated snapshot on disk, and the event messages on ``qhse/<site>/vision/events``."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa

from tests.vision_fixtures import make_yolo_onnx
from vision.review_export import export_reviews
from vision.worker import load_cameras, run


def _subscribe(url: str, topic: str):
    u = urlparse(url)
    got: list[dict] = []
    ready = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

    def on_connect(client, userdata, flags, rc, props=None):
        client.subscribe(topic, qos=1)

    c.on_connect = on_connect
    c.on_subscribe = lambda *a, **k: ready.set()
    c.on_message = lambda client, ud, msg: got.append(json.loads(msg.payload))
    c.connect(u.hostname, u.port or 1883)
    c.loop_start()
    assert ready.wait(10), "could not subscribe to the test broker"
    return c, got


def _clip(path: Path, n=20, fps=10):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (128, 128))
    rng = np.random.default_rng(1)
    for i in range(n):
        f = np.full((128, 128, 3), 100, np.uint8)
        f[60 + i % 5: 90 + i % 5, 40:70] = rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)
        w.write(f)
    w.release()
    return path


@pytest.fixture()
def vision_db(fresh_db_url, tmp_path):
    eng = sa.create_engine(fresh_db_url)
    clip = _clip(tmp_path / "cam.avi")
    with eng.begin() as c:
        c.execute(sa.text("INSERT INTO enterprise (id, name) VALUES (1, 'E')"))
        c.execute(sa.text("INSERT INTO region (id, enterprise_id, code, name) VALUES (1, 1, 'R', 'R')"))
        c.execute(sa.text("INSERT INTO site (id, region_id, code, name, industry, timezone, settings) "
                          "VALUES (1, 1, 'SZ01', 'Shenzhen', 'electronics', 'Asia/Shanghai', '{}')"))
        c.execute(sa.text("INSERT INTO area (id, site_id, code, name, kind, risk_class, is_gas_area, x_m, y_m) "
                          "VALUES (1, 1, 'A1', 'Press shop', 'machining', 'A', false, 0, 0)"))
        c.execute(sa.text("INSERT INTO camera (id, site_id, area_id, name, source_url, detect_fps, enabled, config) "
                          "VALUES (1, 1, 1, 'PRESS-CAM1', :u, 10, true, :cfg)"),
                  {"u": str(clip), "cfg": json.dumps({"min_score": 0.5, "loop": True})})
        c.execute(sa.text("INSERT INTO camera (id, site_id, area_id, name, source_url, detect_fps, enabled, config) "
                          "VALUES (2, 1, 1, 'OFF-CAM', 'rtsp://nowhere/x', 2, false, '{}')"))
        c.execute(sa.text("INSERT INTO camera_zone (id, camera_id, area_id, name, polygon, required_ppe, cooldown_s) "
                          "VALUES (1, 1, 1, 'press floor', '[[0,0],[1,0],[1,1],[0,1]]', '[\"helmet\"]', 600)"))
    yield eng
    eng.dispose()


def test_load_cameras_reads_enabled_cameras_and_zones(vision_db):
    specs = load_cameras(vision_db)
    assert [s.info.name for s in specs] == ["PRESS-CAM1"]
    assert specs[0].info.site_code == "SZ01"
    assert specs[0].zones[0].required_ppe == frozenset({"helmet"})
    assert specs[0].detect_fps == 10


def test_bad_camera_config_is_skipped_not_fatal(vision_db):
    with vision_db.begin() as c:
        c.execute(sa.text("UPDATE camera SET config = '{\"min_scor\": 0.5}' WHERE id = 1"))
    assert load_cameras(vision_db) == []


def test_event_row_snapshot_and_mqtt(vision_db, mqtt_url, tmp_path):
    # a detector that sees one bare head (class 0) at 40..70 x 60..90 in a 128x128 frame
    model = make_yolo_onnx(tmp_path / "head.onnx", 128, ["head", "helmet", "person", "vest", "no_vest"],
                           [(40, 60, 70, 90, 0, 0.85)], scale_by_brightness=False)
    sub, got = _subscribe(mqtt_url, "qhse/SZ01/vision/events")
    try:
        stats = run(3.0, engine=vision_db, model_path=model, mqtt_url=mqtt_url, data_dir=tmp_path / "data")
        deadline = time.time() + 10
        while time.time() < deadline and not any(m["type"] == "end" for m in got):
            time.sleep(0.1)
    finally:
        sub.loop_stop()
        sub.disconnect()
    cam = stats["cameras"][1]
    assert cam["frames"] >= 10 and cam["error"] is None
    assert cam["events_started"] == 1  # a sustained violation: exactly one event
    with vision_db.connect() as c:
        rows = c.execute(sa.text("SELECT * FROM vision_event")).mappings().all()
    assert len(rows) == 1
    ev = rows[0]
    assert ev["label"] == "no_helmet" and ev["camera_id"] == 1 and ev["zone_id"] == 1 and ev["site_id"] == 1
    assert ev["area_id"] == 1 and ev["review_status"] == "new"
    assert ev["score"] == pytest.approx(0.85, abs=1e-3) and ev["max_score"] == pytest.approx(0.85, abs=1e-3)
    assert ev["ended_at"] is not None and ev["started_at"] <= ev["updated_at"] <= ev["ended_at"]
    assert ev["boxes"][0]["cls"] == "head"
    assert ev["boxes"][0]["xyxy"] == pytest.approx([40, 60, 70, 90], abs=1.0)
    snap = Path(ev["snapshot_path"])
    assert snap.is_file() and snap.is_relative_to(tmp_path / "data")
    img = cv2.imread(str(snap))
    assert img.shape == (128, 128, 3)
    # the annotation is drawn in red on the box edge
    b, g, r = img[75, 40].astype(int)
    assert r > 150 and g < 100 and b < 100
    # MQTT: new ... end for the same event id, with the event's facts
    kinds = [m["type"] for m in got]
    assert kinds[0] == "new" and kinds[-1] == "end"
    assert {m["event_id"] for m in got} == {ev["id"]}
    assert got[0]["label"] == "no_helmet" and got[0]["camera"] == "PRESS-CAM1" and got[0]["zone"] == "press floor"
    assert got[0]["snapshot_path"] == str(snap)

    # reviews become training data
    with vision_db.begin() as c:
        c.execute(sa.text("UPDATE vision_event SET review_status = 'confirmed'"))
    rep = export_reviews(vision_db, tmp_path / "export")
    assert rep.written == {"confirmed": 1, "false_positive": 0} and rep.boxes == 1
    label = (tmp_path / "export" / "labels" / f"event{ev['id']}.txt").read_text().split()
    assert label[0] == "0"  # head
    assert [float(v) for v in label[1:]] == pytest.approx([55 / 128, 75 / 128, 30 / 128, 30 / 128], abs=0.01)
    clean = cv2.imread(str(tmp_path / "export" / "images" / f"event{ev['id']}.jpg"))
    # the exported image is the unannotated frame: plain grey where the snapshot has its red label
    assert clean is not None and np.abs(clean[52, 45].astype(int) - 100).max() < 15
    assert img[52, 45, 2] > 150 and img[52, 45, 1] < 100
