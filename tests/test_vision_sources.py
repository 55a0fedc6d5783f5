"""Camera sources: an HTTP stream that drops and comes back; looping files; fps sampling."""

from __future__ import annotations

import functools
import http.server
import threading
import time

import cv2
import numpy as np
import pytest

from vision.sources import FrameSource, SourceError, classify


def _write_clip(path, frames=30, fps=10, size=(160, 120)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert w.isOpened()
    for i in range(frames):
        w.write(np.full((size[1], size[0], 3), (i * 8) % 256, np.uint8))
    w.release()
    return path


class _Server:
    """A plain HTTP server that serves a folder; can be stopped and restarted on its port."""

    def __init__(self, folder, port=0):
        self.folder = folder
        self.port = port
        self.srv = None

    def start(self):
        handler = functools.partial(_QuietHandler, directory=str(self.folder))
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_classify():
    assert classify("rtsp://cam/1") == "stream"
    assert classify("http://x/y.mjpg") == "stream"
    assert classify("0") == "webcam"
    assert classify("vision/samples/ppe_demo.mp4") == "file"
    with pytest.raises(SourceError):
        classify("  ")


def test_stream_drops_and_returns(tmp_path):
    _write_clip(tmp_path / "cam.avi")
    server = _Server(tmp_path)
    server.start()
    src = FrameSource(f"http://127.0.0.1:{server.port}/cam.avi", detect_fps=1000.0,
                      backoff_min=0.05, backoff_max=0.2, read_timeout_s=2)
    got: list[float] = []
    phase = {"down_at": None, "up_at": None}

    def consume():
        for ts, frame in src.frames():
            assert frame.shape == (120, 160, 3)
            got.append(ts)
            if len(got) >= 75:
                src.stop()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    deadline = time.time() + 20
    while len(got) < 30 and time.time() < deadline:  # the clip played once
        time.sleep(0.01)
    server.stop()  # the camera goes away
    phase["down_at"] = time.time()
    time.sleep(0.8)
    n_down = len(got)
    failed_while_down = src.stats.failed_opens
    server.start()  # ... and comes back on the same address
    t.join(timeout=30)
    assert not t.is_alive(), "the source did not resume after the stream came back"
    assert failed_while_down >= 2  # it kept retrying with back-off while down
    assert src.stats.reconnects >= 1
    assert len(got) == 75 and n_down < 75


def test_missing_file_is_retried_not_raised(tmp_path):
    src = FrameSource(str(tmp_path / "later.avi"), detect_fps=1000.0, backoff_min=0.05, backoff_max=0.1,
                      loop=True, realtime=False)
    frames = []

    def consume():
        for _, f in src.frames():
            frames.append(f)
            if len(frames) >= 5:
                src.stop()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    time.sleep(0.4)
    assert frames == [] and src.stats.failed_opens >= 2
    _write_clip(tmp_path / "later.avi", frames=3)
    t.join(timeout=10)
    assert len(frames) == 5
    assert src.stats.loops >= 1  # 3-frame file looped to give 5 frames


def test_file_sampled_at_detect_fps(tmp_path):
    _write_clip(tmp_path / "c.avi", frames=30, fps=10)
    src = FrameSource(str(tmp_path / "c.avi"), detect_fps=2.0, loop=False, realtime=False)
    frames = list(src.frames())
    assert len(frames) == 6  # 30 frames at 10 fps, every 5th
    assert src.stats.frames_read == 30


def test_camera_credentials_never_reach_the_log(caplog):
    import logging
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = FrameSource(f"rtsp://cam:s3cret-pw@127.0.0.1:{port}/live", detect_fps=2.0, backoff_min=0.05,
                      backoff_max=0.1, read_timeout_s=1.0)
    caplog.set_level(logging.DEBUG, logger="vision")

    def consume():
        for _ in src.frames():
            break

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    deadline = time.monotonic() + 15
    while src.stats.failed_opens < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    src.stop()
    t.join(timeout=15)
    assert src.stats.failed_opens >= 2
    text = caplog.text
    assert "open failed" in text and f"rtsp://cam:***@127.0.0.1:{port}/live" in text
    assert "s3cret-pw" not in text
