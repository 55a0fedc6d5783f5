"""The vision worker picks up a newly published champion without a restart (real
PostgreSQL and MQTT): champion v1 sees nothing, v2 sees a bare head -> an event."""

from __future__ import annotations

import json
import time

import numpy as np
import sqlalchemy as sa

from tests.test_vision_events import _clip, vision_db  # noqa: F401 - the shared camera fixture
from tests.vision_fixtures import make_yolo_onnx
from vision.registry import (
    ChampionDetector,
    champion_marker,
    publish_champion,
    published_champion,
)
from vision.worker import start_in_background

NAMES = ["head", "helmet", "person", "vest", "no_vest"]


def _models(tmp_path):
    blind = make_yolo_onnx(tmp_path / "blind.onnx", 128, NAMES, [(40, 60, 70, 90, 0, 0.05)],
                           scale_by_brightness=False)
    sees = make_yolo_onnx(tmp_path / "sees.onnx", 128, NAMES, [(40, 60, 70, 90, 0, 0.85)],
                          scale_by_brightness=False)
    return blind, sees


def test_publish_and_reload_in_process(tmp_path):
    blind, sees = _models(tmp_path)
    data = tmp_path / "data"
    det = ChampionDetector(data, fallback=blind, check_s=0.0, threads=1)
    frame = np.full((128, 128, 3), 100, np.uint8)
    assert det.version is None and det.detect(frame) == []
    assert not det.maybe_reload()
    publish_champion(data, sees, "7", {"map50": 0.9})
    info = published_champion(data)
    assert info["version"] == "7" and json.loads(champion_marker(data).read_text())["onnx"] == "ppe-v7.onnx"
    assert det.maybe_reload() and det.version == "7" and det.reloads == 1
    assert [d.label for d in det.detect(frame)] == ["head"]
    # a broken champion file is refused and the running model kept
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    publish_champion(data, bad, "8")
    assert not det.maybe_reload() and det.version == "7"
    assert [d.label for d in det.detect(frame)] == ["head"]


def test_worker_reloads_new_champion_without_restart(vision_db, mqtt_url, tmp_path):  # noqa: F811
    blind, sees = _models(tmp_path)
    data = tmp_path / "data"
    publish_champion(data, blind, "1")
    thread, stop = start_in_background(engine=vision_db, mqtt_url=mqtt_url, data_dir=data,
                                       champion_check_s=0.2, clips=False)
    try:
        time.sleep(2.0)
        with vision_db.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM vision_event")).scalar_one() == 0
        publish_champion(data, sees, "2")
        deadline = time.time() + 20
        n = 0
        while time.time() < deadline and n == 0:
            time.sleep(0.2)
            with vision_db.connect() as c:
                n = c.execute(sa.text("SELECT count(*) FROM vision_event")).scalar_one()
        assert thread.is_alive(), "the worker must not stop to change model"
    finally:
        stop.set()
        thread.join(30)
    assert n >= 1
    assert thread.result["model_version"] == "2" and thread.result["model_reloads"] == 1
    assert thread.result["cameras"][1]["error"] is None
