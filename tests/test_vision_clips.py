"""Event clips: H.264 MP4 of the seconds before and after an event, written next to the
snapshot by the worker (real PostgreSQL and MQTT), decoded back with OpenCV; retention."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import sqlalchemy as sa

from tests.test_vision_events import _clip, vision_db  # noqa: F401 - the shared camera fixture
from tests.vision_fixtures import make_yolo_onnx
from vision.clips import (
    ClipBuffer,
    clip_path_for,
    purge_clips,
    retention_days,
    write_clip,
)
from vision.worker import run


def _decode(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"OpenCV cannot open {path}"
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def _codec(path: Path) -> str:
    cap = cv2.VideoCapture(str(path))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
    cap.release()
    return "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4))


def test_write_clip_is_h264_and_decodes(tmp_path):
    frames = [np.full((100, 161, 3), 10 * i, np.uint8) for i in range(12)]  # odd width
    out = write_clip(frames, tmp_path / "c.mp4", fps=4)
    assert out.is_file() and not list(tmp_path.glob("*.part.mp4"))
    assert _codec(out).lower() in ("avc1", "h264")
    got = _decode(out)
    assert len(got) == 12
    assert got[0].shape == (100, 160, 3)  # even size for yuv420p
    # content survives: brightness ramps like the input
    means = [float(f.mean()) for f in got]
    assert means[0] < 20 and abs(means[-1] - 110) < 10 and means == sorted(means)


def test_clip_buffer_keeps_before_and_after(tmp_path):
    buf = ClipBuffer(pre_s=2.0, post_s=3.0)
    for i in range(10):  # 0..4.5 s at 2 fps: the ring keeps the last 2 s
        buf.observe(i * 0.5, np.full((64, 64, 3), i * 20, np.uint8))
    path = buf.start(tmp_path / "ev.mp4", ts=4.5)
    for i in range(10, 20):
        buf.observe(i * 0.5, np.full((64, 64, 3), i * 10, np.uint8))
    buf.close()
    frames = _decode(path)
    # 5 ring frames (2.5..4.5 s) + 6 after the start (5.0..7.5 s)
    assert len(frames) == 11
    assert abs(frames[0].mean() - 100) < 8  # frame 5 of the ring
    assert buf.written == 1 and buf.errors == 0


def test_purge_clips_by_age(tmp_path, monkeypatch):
    d = tmp_path / "snapshots" / "vision" / "1" / "20260101"
    d.mkdir(parents=True)
    old, new, snap = d / "old.mp4", d / "new.mp4", d / "old.jpg"
    for p in (old, new, snap):
        p.write_bytes(b"x")
    ten_days = time.time() - 10 * 86400
    os.utime(old, (ten_days, ten_days))
    os.utime(snap, (ten_days, ten_days))
    assert purge_clips(tmp_path, days=0) == 0 and old.exists()  # 0 keeps forever
    assert purge_clips(tmp_path, days=7) == 1
    assert not old.exists() and new.exists() and snap.exists()  # snapshots stay
    monkeypatch.setenv("QHSE_VISION_CLIP_RETENTION_DAYS", "3")
    assert retention_days() == 3
    monkeypatch.setenv("QHSE_VISION_CLIP_RETENTION_DAYS", "soon")
    with pytest.raises(ValueError, match="QHSE_VISION_CLIP_RETENTION_DAYS"):
        retention_days()


def test_worker_writes_playable_clip_next_to_snapshot(vision_db, mqtt_url, tmp_path):  # noqa: F811
    from tests.test_vision_events import _subscribe

    model = make_yolo_onnx(tmp_path / "head.onnx", 128, ["head", "helmet", "person", "vest", "no_vest"],
                           [(40, 60, 70, 90, 0, 0.85)], scale_by_brightness=False)
    sub, got = _subscribe(mqtt_url, "qhse/SZ01/vision/events")
    try:
        run(3.0, engine=vision_db, model_path=model, mqtt_url=mqtt_url, data_dir=tmp_path / "data",
            clip_pre_s=1.0, clip_post_s=1.0)
        deadline = time.time() + 10
        while time.time() < deadline and not any(m["type"] == "end" for m in got):
            time.sleep(0.1)
    finally:
        sub.loop_stop()
        sub.disconnect()
    with vision_db.connect() as c:
        ev = c.execute(sa.text("SELECT * FROM vision_event")).mappings().one()
    clip = clip_path_for(ev["snapshot_path"])
    assert clip.is_file() and clip.parent == Path(ev["snapshot_path"]).parent
    frames = _decode(clip)
    # camera at 10 fps: about 1 s before (the event starts after the debounce) + 1 s after
    assert 8 <= len(frames) <= 25, len(frames)
    assert frames[0].shape == (128, 128, 3)
    assert _codec(clip).lower() in ("avc1", "h264")
    assert got[0]["clip_path"] == str(clip)
    assert json.loads(json.dumps(got[-1]))["clip_path"] == str(clip)
