"""Event clips: a few seconds before and after an event's start, as an H.264 MP4.

The camera loop hands every analysed frame to :class:`ClipBuffer` (a ring of the last
``pre_s`` seconds).  When an event starts, a clip is opened with the ring's frames and
keeps the frames of the next ``post_s`` seconds; then it is encoded and written next to
the event's snapshot (``<snapshot>.mp4``, see :func:`clip_path_for`) by a background
thread, so encoding never holds up the camera.

Encoding: H.264 (``libx264``, yuv420p, ``+faststart``) through PyAV, which browsers play
in the review page; where PyAV is missing, OpenCV's MPEG-4 writer (``mp4v``) is used.
Frames are scaled to at most ``max_width`` pixels wide.

Retention: :func:`purge_clips` deletes clips older than ``QHSE_VISION_CLIP_RETENTION_DAYS``
(default 14; 0 keeps them forever); the worker runs it hourly.  Snapshots are kept (they
are the review record), only the heavier clips expire.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

RETENTION_ENV = "QHSE_VISION_CLIP_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 14.0


def clip_path_for(snapshot: Path | str) -> Path:
    """Where the clip of an event with snapshot ``snapshot`` is written."""
    return Path(snapshot).with_suffix(".mp4")


def _even_size(frame: np.ndarray, max_width: int) -> tuple[int, int]:
    h, w = frame.shape[:2]
    if w > max_width:
        h = round(h * max_width / w)
        w = max_width
    return max(2, w - w % 2), max(2, h - h % 2)


def write_clip(frames: list[np.ndarray], path: Path, fps: float, max_width: int = 640) -> Path:
    """Encode BGR ``frames`` as an MP4 at ``path`` (H.264 with PyAV, else OpenCV mp4v)."""
    import cv2

    if not frames:
        raise ValueError("no frames for the clip")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = _even_size(frames[0], max_width)
    fps = max(1.0, min(60.0, float(fps)))
    tmp = path.with_name(path.stem + ".part.mp4")
    sized = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) if f.shape[1] != w or f.shape[0] != h else f
             for f in frames]
    try:
        import av
    except ImportError:
        av = None
    if av is not None:
        from fractions import Fraction

        rate = Fraction(fps).limit_denominator(1000)
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "28"}
            for f in sized:
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="bgr24")
                for packet in stream.encode(vf):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    else:  # pragma: no cover - PyAV is a dependency; kept for minimal installs
        wr = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not wr.isOpened():
            raise OSError("no MP4 encoder available (install PyAV)")
        for f in sized:
            wr.write(f)
        wr.release()
    tmp.replace(path)
    return path


@dataclass
class _Pending:
    path: Path
    frames: list[np.ndarray]
    until: float  # frame time after which the clip is complete


@dataclass
class ClipBuffer:
    """Ring of recent frames and the clips being collected for one camera."""

    pre_s: float = 4.0
    post_s: float = 4.0
    max_frames: int = 240
    max_width: int = 640
    ring: collections.deque = field(default_factory=collections.deque)
    pending: list[_Pending] = field(default_factory=list)
    written: int = 0
    errors: int = 0
    _last_ts: float | None = None
    _fps: float = 2.0
    _n_rates: int = 0

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-writer")
        self._futures: list[Future] = []
        self._lock = threading.Lock()

    def observe(self, ts: float, frame: np.ndarray) -> None:
        """Add one analysed frame (``ts``: its time, seconds)."""
        if self._last_ts is not None and ts > self._last_ts:
            rate = 1.0 / (ts - self._last_ts)
            self._fps = rate if self._n_rates == 0 else 0.8 * self._fps + 0.2 * rate
            self._n_rates += 1
        self._last_ts = ts
        small = self._shrink(frame)
        self.ring.append((ts, small))
        while self.ring and (ts - self.ring[0][0] > self.pre_s or len(self.ring) > self.max_frames):
            self.ring.popleft()
        done = []
        for p in self.pending:
            if len(p.frames) < self.max_frames:
                p.frames.append(small)
            if ts >= p.until or len(p.frames) >= self.max_frames:
                done.append(p)
        for p in done:
            self.pending.remove(p)
            self._submit(p)

    def _shrink(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        w, h = _even_size(frame, self.max_width)
        if (w, h) == (frame.shape[1], frame.shape[0]):
            return frame.copy()
        return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)

    def start(self, path: Path, ts: float | None = None) -> Path:
        """Open the clip of an event that starts now; the ring's frames come first."""
        ts = self._last_ts if ts is None else ts
        ts = time.time() if ts is None else ts
        path = Path(path)
        self.pending.append(_Pending(path, [f for _, f in self.ring], ts + self.post_s))
        return path

    def _submit(self, p: _Pending) -> None:
        fps = self._fps

        def job() -> None:
            try:
                write_clip(p.frames, p.path, fps, self.max_width)
                with self._lock:
                    self.written += 1
            except Exception as exc:  # noqa: BLE001 - a clip must never stop the camera
                with self._lock:
                    self.errors += 1
                log.error("clip %s not written: %s", p.path, exc)

        if p.frames:
            self._futures.append(self._pool.submit(job))

    def flush(self, timeout: float | None = 30.0) -> None:
        """Write the clips still collecting (with the frames they have) and wait for all."""
        for p in list(self.pending):
            self.pending.remove(p)
            self._submit(p)
        for f in list(self._futures):
            f.result(timeout=timeout)
        self._futures = [f for f in self._futures if not f.done()]

    def close(self) -> None:
        self.flush()
        self._pool.shutdown(wait=True)


def retention_days() -> float:
    raw = os.environ.get(RETENTION_ENV, "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        days = float(raw)
    except ValueError:
        raise ValueError(f"{RETENTION_ENV}={raw!r} is not a number of days") from None
    if days < 0:
        raise ValueError(f"{RETENTION_ENV} must be >= 0 (0 keeps clips forever)")
    return days


def purge_clips(data_dir: Path, days: float | None = None, now: float | None = None) -> int:
    """Delete event clips older than ``days`` under the vision snapshot folder; returns the count."""
    days = retention_days() if days is None else days
    if days <= 0:
        return 0
    root = Path(data_dir) / "snapshots" / "vision"
    if not root.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - days * 86400
    removed = 0
    for p in root.rglob("*.mp4"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
