"""Camera sources (OpenCV): RTSP/HTTP streams, video files, webcams.

:class:`FrameSource` yields ``(timestamp, frame)`` pairs sampled at the camera's detect
fps.  A live stream that cannot be opened or stops delivering frames is reopened with
exponential back-off (``backoff_min`` doubling up to ``backoff_max``); a video file is
looped when ``loop`` is set (the demo "camera"), otherwise it ends at its last frame.
Nothing here raises on a lost stream: the source waits and retries until stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qhse.mqtt_address import redact_url

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class SourceError(ValueError):
    """A source URL cannot be understood."""


def classify(url: str) -> str:
    """``stream``, ``webcam`` or ``file``."""
    u = str(url).strip()
    if not u:
        raise SourceError("empty source URL")
    if u.lower().startswith(STREAM_SCHEMES):
        return "stream"
    if u.isdigit() or u.lower().startswith("webcam:") or u.startswith("/dev/video"):
        return "webcam"
    if u.lower().startswith("file://"):
        return "file"
    return "file"


def _open_target(url: str) -> str | int:
    u = str(url).strip()
    if u.isdigit():
        return int(u)
    if u.lower().startswith("webcam:"):
        return int(u.split(":", 1)[1])
    if u.lower().startswith("file://"):
        return u[len("file://"):]
    return u


@dataclass
class SourceStats:
    frames_read: int = 0
    frames_yielded: int = 0
    opens: int = 0
    failed_opens: int = 0
    reconnects: int = 0
    loops: int = 0
    last_error: str | None = None
    connected: bool = False


@dataclass
class FrameSource:
    url: str
    detect_fps: float = 2.0
    loop: bool = False
    realtime: bool = True  # files: pace frames like a live camera
    backoff_min: float = 1.0
    backoff_max: float = 30.0
    read_timeout_s: float = 10.0
    opener: Callable[[str | int], object] | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    stats: SourceStats = field(default_factory=SourceStats)

    def __post_init__(self) -> None:
        if self.detect_fps <= 0:
            raise SourceError("detect_fps must be > 0")
        self.kind = classify(self.url)
        # A camera URL may carry credentials (rtsp://user:pass@host/...): never log them.
        self.display_url = redact_url(self.url) if self.kind == "stream" else self.url
        if self.kind == "file" and not Path(_open_target(self.url)).exists():
            log.warning("video file %s does not exist (yet); will retry", self.display_url)

    def stop(self) -> None:
        self.stop_event.set()

    def _open(self):
        import cv2

        target = _open_target(self.url)
        if self.opener is not None:
            cap = self.opener(target)
        elif isinstance(target, str) and self.kind == "stream":
            cap = cv2.VideoCapture(
                target, cv2.CAP_FFMPEG,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.read_timeout_s * 1000),
                 cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)],
            )
        else:
            cap = cv2.VideoCapture(target)
        self.stats.opens += 1
        if cap is None or not cap.isOpened():
            self.stats.failed_opens += 1
            self.stats.last_error = f"cannot open {self.url}"
            if cap is not None:
                cap.release()
            return None
        return cap

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stopped."""
        return self.stop_event.wait(max(0.0, seconds))

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        import cv2

        backoff = self.backoff_min
        period = 1.0 / self.detect_fps
        ever_connected = False
        while not self.stop_event.is_set():
            cap = self._open()
            if cap is None:
                self.stats.connected = False
                log.warning("camera %s: open failed, retrying in %.1fs", self.display_url, backoff)
                if self._wait(backoff):
                    return
                backoff = min(self.backoff_max, backoff * 2)
                continue
            if ever_connected and self.kind != "file":
                self.stats.reconnects += 1
                log.info("camera %s: reconnected", self.display_url)
            ever_connected = True
            self.stats.connected = True
            backoff = self.backoff_min
            file_fps = cap.get(cv2.CAP_PROP_FPS) if self.kind == "file" else 0.0
            step = max(1, int(round(file_fps / self.detect_fps))) if file_fps and file_fps > 0 else 1
            idx = 0
            next_emit = time.monotonic()
            try:
                while not self.stop_event.is_set():
                    if self.kind == "file":
                        ok, frame = cap.read()
                        if not ok or frame is None:
                            break
                        self.stats.frames_read += 1
                        idx += 1
                        if (idx - 1) % step:
                            continue
                        if self.realtime:
                            delay = next_emit - time.monotonic()
                            if delay > 0 and self._wait(delay):
                                return
                            next_emit = max(next_emit + period, time.monotonic() - period)
                        self.stats.frames_yielded += 1
                        yield time.time(), frame
                    else:
                        # live: read continuously (drains the buffer), emit at detect fps
                        ok, frame = cap.read()
                        if not ok or frame is None:
                            break
                        self.stats.frames_read += 1
                        now = time.monotonic()
                        if now >= next_emit:
                            next_emit = now + period
                            self.stats.frames_yielded += 1
                            yield time.time(), frame
            finally:
                cap.release()
            if self.stop_event.is_set():
                return
            if self.kind == "file":
                if not self.loop:
                    return
                self.stats.loops += 1
                continue
            self.stats.connected = False
            self.stats.last_error = f"stream {self.url} stopped delivering frames"
            log.warning("camera %s: stream lost, reconnecting in %.1fs", self.display_url, backoff)
            if self._wait(backoff):
                return
            backoff = min(self.backoff_max, backoff * 2)
