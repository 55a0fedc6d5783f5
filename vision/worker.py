"""The vision worker: cameras from the database -> motion gate -> detector -> PPE rules ->
tracker/debounce -> events (rows, snapshots, MQTT).

One process serves a group of cameras: one reader thread per camera and one shared
detector (an onnxruntime session can be called from several threads).
:func:`run` is used by ``qhse vision run`` (until stopped) and by the demo (for a fixed
number of seconds).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .clips import ClipBuffer, purge_clips
from .detector import Detection, Detector
from .events import CameraInfo, EventWriter, MqttPublisher
from .motion import MotionConfig, MotionGate
from .sources import FrameSource
from .tracking import EventChange, TrackerConfig, ViolationTracker
from .zones import Zone, ZoneError, find_violations

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]


class CameraConfig(BaseModel):
    """``camera.config`` JSON.  Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")
    min_score: float = Field(0.5, gt=0, le=1, description="median score an event needs")
    detect_conf: float = Field(0.25, gt=0, lt=1, description="detector confidence floor")
    motion_threshold: float | None = Field(None, ge=0, lt=1, description="share of the frame that must change")
    motion: dict = Field(default_factory=dict)
    tracker: dict = Field(default_factory=dict)
    loop: bool = True  # video files loop (demo cameras)
    crop_to_motion: bool = True

    def motion_config(self) -> MotionConfig:
        m = dict(self.motion)
        if self.motion_threshold is not None:
            m.setdefault("min_area", self.motion_threshold)
        return MotionConfig.from_dict(m)

    def tracker_config(self) -> TrackerConfig:
        t = dict(self.tracker)
        t.setdefault("threshold", self.min_score)
        return TrackerConfig.from_dict(t)


@dataclass
class PipelineStats:
    frames: int = 0
    detect_runs: int = 0
    skipped_no_motion: int = 0
    skipped_inactive: int = 0  # no zone of the camera is active now
    detections: int = 0
    violations: int = 0
    events_started: int = 0
    events_ended: int = 0
    detect_s: float = 0.0


@dataclass
class CameraPipeline:
    """Everything after frame capture for one camera (no I/O of its own)."""

    detector: Detector
    zones: list[Zone]
    config: CameraConfig = field(default_factory=CameraConfig)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    prefix: str = "t"

    def __post_init__(self) -> None:
        self.motion = MotionGate(self.config.motion_config())
        self.tracker = ViolationTracker(self.config.tracker_config(), prefix=self.prefix)
        self.stats = PipelineStats()

    def _detect(self, frame: np.ndarray, region: tuple[int, int, int, int] | None) -> list[Detection]:
        t0 = time.perf_counter()
        conf = self.config.detect_conf
        if region is None:
            dets = self.detector.detect(frame, conf)
        else:
            x1, y1, x2, y2 = region
            crop = frame[y1:y2, x1:x2]
            dets = [Detection(d.cls, d.label, d.score,
                              (d.xyxy[0] + x1, d.xyxy[1] + y1, d.xyxy[2] + x1, d.xyxy[3] + y1))
                    for d in self.detector.detect(crop, conf)]
        self.stats.detect_s += time.perf_counter() - t0
        self.stats.detect_runs += 1
        return dets

    def _region(self, frame: np.ndarray, union: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        """Crop to the moving region when it is clearly smaller than the frame."""
        if not self.config.crop_to_motion or union is None or self.tracker.tracks:
            return None
        h, w = frame.shape[:2]
        x1, y1, x2, y2 = union
        side = max(x2 - x1, y2 - y1, min(self.detector.imgsz, w, h))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        x1 = int(max(0, min(w - side, cx - side / 2)))
        y1 = int(max(0, min(h - side, cy - side / 2)))
        x2, y2 = int(min(w, x1 + side)), int(min(h, y1 + side))
        if (x2 - x1) * (y2 - y1) > 0.6 * w * h:
            return None
        return x1, y1, x2, y2

    def process(self, frame: np.ndarray, now: dt.datetime) -> tuple[list[EventChange], list[Detection]]:
        self.stats.frames += 1
        motion = self.motion.update(frame)
        local = now.astimezone(self.tz).time()
        if not any(z.required_ppe and z.is_active(local) for z in self.zones):
            self.stats.skipped_inactive += 1
            return self.tracker.update([], now), []
        if not motion.moving and not self.tracker.tracks:
            self.stats.skipped_no_motion += 1
            return [], []
        dets = self._detect(frame, self._region(frame, motion.union()))
        self.stats.detections += len(dets)
        h, w = frame.shape[:2]
        violations = find_violations(dets, self.zones, (w, h), local)
        self.stats.violations += len(violations)
        changes = self.tracker.update(violations, now)
        self.stats.events_started += sum(c.kind == "start" for c in changes)
        self.stats.events_ended += sum(c.kind == "end" for c in changes)
        return changes, dets


def resolve_source(url: str) -> str:
    """Relative file paths are looked up in the working directory, then the project root."""
    u = str(url)
    if "://" in u or u.isdigit() or u.startswith("webcam:"):
        return u
    p = Path(u)
    if p.is_absolute() or p.exists():
        return str(p)
    alt = REPO_ROOT / p
    return str(alt) if alt.exists() else u


@dataclass
class CameraSpec:
    info: CameraInfo
    source_url: str
    detect_fps: float
    config: CameraConfig
    zones: list[Zone]
    tz: ZoneInfo


def load_cameras(engine, camera_ids: list[int] | None = None) -> list[CameraSpec]:
    """Enabled cameras with their zones.  A camera with a bad config is skipped (logged)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from db.models import Camera, CameraZone, Site

    with Session(engine) as session:
        q = (sa.select(Camera, Site.code, Site.timezone).join(Site, Site.id == Camera.site_id)
             .where(Camera.enabled.is_(True)).order_by(Camera.id))
        if camera_ids:
            q = q.where(Camera.id.in_(camera_ids))
        rows = session.execute(q).all()
        cam_ids = [r.Camera.id for r in rows]
        zrows = session.execute(sa.select(CameraZone.__table__).where(CameraZone.camera_id.in_(cam_ids))
                                .order_by(CameraZone.id)).mappings().all() if cam_ids else []
    specs = []
    for r in rows:
        cam = r.Camera
        try:
            cfg = CameraConfig.model_validate(cam.config or {})
            zones = [Zone.build(z["name"], z["polygon"], z["required_ppe"] or [], z["active_from"], z["active_to"],
                                z["cooldown_s"], id=z["id"], area_id=z["area_id"])
                     for z in zrows if z["camera_id"] == cam.id]
            tz = ZoneInfo(r.timezone or "UTC")
        except (ValidationError, ZoneError, ValueError, KeyError) as exc:  # KeyError: unknown time zone
            log.error("camera %s (%s) skipped: %s", cam.id, cam.name, exc)
            continue
        specs.append(CameraSpec(CameraInfo(cam.id, cam.site_id, r.code, cam.area_id, cam.name),
                                resolve_source(cam.source_url), float(cam.detect_fps or 2.0), cfg, zones, tz))
    return specs


@dataclass
class CameraRunner:
    spec: CameraSpec
    pipeline: CameraPipeline
    source: FrameSource
    writer: EventWriter
    thread: threading.Thread | None = None
    error: str | None = None

    def loop(self) -> None:
        try:
            for ts, frame in self.source.frames():
                now = dt.datetime.fromtimestamp(ts, dt.UTC)
                try:
                    changes, dets = self.pipeline.process(frame, now)
                except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the camera
                    log.exception("camera %s: frame failed: %s", self.spec.info.name, exc)
                    continue
                self._last_frame = frame
                self.writer.observe(ts, frame)
                if changes:
                    self.writer.handle(changes, frame, dets)
        except Exception as exc:  # noqa: BLE001
            self.error = str(exc)
            log.exception("camera %s stopped: %s", self.spec.info.name, exc)
        finally:
            ends = self.pipeline.tracker.flush(dt.datetime.now(dt.UTC))
            if ends:
                frame = getattr(self, "_last_frame", None)
                self.writer.handle(ends, frame if frame is not None else np.zeros((8, 8, 3), np.uint8), [])
                self.pipeline.stats.events_ended += len(ends)
            self.writer.close()


def default_mqtt_url() -> str:
    from qhse.settings import get_settings

    s = get_settings()
    return s.mqtt_url or f"mqtt://127.0.0.1:{s.embedded_mqtt_port}"


def run(
    duration_s: float | None = None,
    *,
    engine=None,
    camera_ids: list[int] | None = None,
    model_path: Path | str | None = None,
    mqtt_url: str | None = None,
    data_dir: Path | None = None,
    stop_event: threading.Event | None = None,
    realtime: bool = True,
    threads: int | None = None,
    progress=None,
    clips: bool = True,
    clip_pre_s: float = 4.0,
    clip_post_s: float = 4.0,
    champion_check_s: float = 5.0,
) -> dict:
    """Run the worker on the enabled cameras for ``duration_s`` seconds (None: until
    ``stop_event`` is set).  Returns per-camera statistics.

    Without ``model_path`` the worker runs the champion published under the data dir
    (:mod:`vision.registry`; the shipped model before the first one) and picks up a new
    champion within ``champion_check_s`` seconds, without a restart."""
    from db.engine import get_engine
    from qhse.settings import get_settings

    from .detector import load_detector

    engine = engine or get_engine()
    settings = get_settings()
    data_dir = Path(data_dir or settings.ensure_data_dir())
    specs = load_cameras(engine, camera_ids)
    if not specs:
        log.warning("no enabled cameras")
        return {"cameras": {}}
    if model_path is None:  # the published champion, swapped in without restart when it changes
        from .registry import ChampionDetector

        detector = ChampionDetector(data_dir, check_s=champion_check_s, threads=threads)
    else:
        detector = load_detector(model_path, threads=threads)
    publisher = None
    url = mqtt_url or default_mqtt_url()
    try:
        publisher = MqttPublisher(url)
        if not publisher.wait_connected(5.0):
            from qhse.mqtt_address import redact_url

            log.warning("MQTT broker %s not reachable yet; events are stored and publishing retries", redact_url(url))
    except Exception as exc:  # noqa: BLE001
        log.error("MQTT disabled: %s", exc)
        publisher = None
    stop = stop_event or threading.Event()
    runners: list[CameraRunner] = []
    for spec in specs:
        src = FrameSource(spec.source_url, detect_fps=spec.detect_fps, loop=spec.config.loop,
                          realtime=realtime, stop_event=stop)
        pipe = CameraPipeline(detector, spec.zones, spec.config, spec.tz, prefix=f"c{spec.info.id}-")
        writer = EventWriter(engine, data_dir, spec.info, publisher,
                             clips=ClipBuffer(clip_pre_s, clip_post_s) if clips else None)
        r = CameraRunner(spec, pipe, src, writer)
        r.thread = threading.Thread(target=r.loop, name=f"camera-{spec.info.id}", daemon=True)
        runners.append(r)
    for r in runners:
        r.thread.start()
    t0 = time.monotonic()
    last_purge = None
    try:
        while not stop.is_set():
            if duration_s is not None and time.monotonic() - t0 >= duration_s:
                break
            if clips and (last_purge is None or time.monotonic() - last_purge >= 3600):
                last_purge = time.monotonic()
                try:
                    removed = purge_clips(data_dir)
                    if removed:
                        log.info("clip retention: %d old clips deleted", removed)
                except (OSError, ValueError) as exc:
                    log.error("clip retention: %s", exc)
            if all(not r.thread.is_alive() for r in runners):
                break
            if hasattr(detector, "maybe_reload"):
                detector.maybe_reload()
            if progress is not None:
                progress(time.monotonic() - t0, runners)
            stop.wait(0.5)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        stop.set()
        for r in runners:
            r.thread.join(timeout=15)
        if publisher is not None:
            publisher.close()
    out = {}
    for r in runners:
        s = r.pipeline.stats
        out[r.spec.info.id] = {
            "name": r.spec.info.name, "frames": s.frames, "detect_runs": s.detect_runs,
            "skipped_no_motion": s.skipped_no_motion, "violations": s.violations,
            "events_started": r.writer.written["start"], "events_ended": r.writer.written["end"],
            "write_errors": r.writer.errors, "reconnects": r.source.stats.reconnects, "error": r.error,
        }
    return {"cameras": out, "seconds": round(time.monotonic() - t0, 1),
            "model_version": getattr(detector, "version", None), "model_reloads": getattr(detector, "reloads", 0)}


def start_in_background(**kwargs) -> tuple[threading.Thread, threading.Event]:
    """Run :func:`run` in a daemon thread (the demo keeps the dashboard in the foreground).

    Returns the thread and the event that stops it: ``stop.set(); thread.join()``.
    """
    stop = kwargs.pop("stop_event", None) or threading.Event()
    result: dict = {}

    def target() -> None:
        try:
            result.update(run(stop_event=stop, **kwargs))
        except Exception:  # noqa: BLE001 - logged; the demo goes on without vision
            log.exception("vision worker stopped")

    t = threading.Thread(target=target, name="vision-worker", daemon=True)
    t.result = result  # type: ignore[attr-defined]
    t.start()
    return t, stop
