"""Vision events: annotated snapshots, ``vision_event`` rows and MQTT messages.

:class:`EventWriter` turns the tracker's start / update / end changes into

* a JPEG snapshot (the frame with the violation box drawn) under
  ``<data dir>/snapshots/vision/<camera id>/<date>/``; it is replaced while the event
  lasts whenever a higher score is seen (the best view is kept);
* with ``clips`` (a :class:`vision.clips.ClipBuffer` fed every frame through
  :meth:`EventWriter.observe`), a short H.264 clip of the seconds before and after the
  start, written next to the snapshot (``<snapshot>.mp4``);
* one ``vision_event`` row per event, inserted on start, updated (at most once per
  ``update_interval_s``) while it lasts, closed with ``ended_at`` when it ends;
* a JSON message on ``qhse/<site code>/vision/events`` for every change written.

A failing broker or database never stops the camera: the error is logged and counted,
and the next change is tried again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .clips import ClipBuffer, clip_path_for
from .detector import Detection
from .tracking import EventChange

log = logging.getLogger(__name__)

COLORS = {"head": (0, 0, 255), "no_helmet": (0, 0, 255), "no_vest": (0, 140, 255),
          "helmet": (0, 200, 0), "vest": (0, 200, 200), "person": (200, 120, 0)}


def clean_snapshot_path(snapshot: Path | str) -> Path:
    """Where the unannotated copy of a snapshot is kept."""
    p = Path(snapshot)
    return p.with_name(p.stem + "-clean" + p.suffix)


def topic_for(site_code: str) -> str:
    return f"qhse/{site_code}/vision/events"


def annotate(frame: np.ndarray, main: Detection, label: str, others: list[Detection] | None = None,
             zone_polygon=None) -> np.ndarray:
    """A copy of ``frame`` with the violation box (thick) and other detections (thin)."""
    import cv2

    img = frame.copy()
    h, w = img.shape[:2]
    if zone_polygon:
        pts = np.array([[int(x * w), int(y * h)] for x, y in zone_polygon], np.int32)
        cv2.polylines(img, [pts], True, (255, 255, 0), 1)
    for d in others or []:
        x1, y1, x2, y2 = (int(v) for v in d.xyxy)
        cv2.rectangle(img, (x1, y1), (x2, y2), COLORS.get(d.label, (160, 160, 160)), 1)
    x1, y1, x2, y2 = (int(v) for v in main.xyxy)
    color = COLORS.get(label, (0, 0, 255))
    cv2.rectangle(img, (x1, y1), (x2, y2), color, 3)
    text = f"{label} {main.score:.2f}"
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    ty = max(th + 4, y1)
    cv2.rectangle(img, (x1, ty - th - 4), (x1 + tw + 4, ty), color, -1)
    cv2.putText(img, text, (x1 + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return img


class MqttPublisher:
    """A small paho-mqtt 2 client that publishes JSON; reconnects in the background."""

    def __init__(self, url: str, client_id: str | None = None):
        import paho.mqtt.client as mqtt

        u = urlparse(url)
        if u.scheme not in ("mqtt", "mqtts", "tcp"):
            from qhse.mqtt_address import redact_url

            raise ValueError(f"unsupported MQTT URL {redact_url(url)!r} (use mqtt://host:1883)")
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or (8883 if u.scheme == "mqtts" else 1883)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  protocol=mqtt.MQTTv311)
        from qhse.mqtt_address import settings_address

        # Credentials and CA from QHSE_MQTT_USERNAME / _PASSWORD / _CA_FILE (or the URL).
        settings_address(url).apply(self.client)
        self.client.reconnect_delay_set(1, 30)
        self._connected = threading.Event()
        self._ever_waited = False
        self.client.on_connect = lambda c, ud, flags, rc, props=None: (
            self._connected.set() if not rc.is_failure else None)
        self.client.on_disconnect = lambda c, ud, flags, rc, props=None: self._connected.clear()
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout: float = 5.0) -> bool:
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: dict, qos: int = 1, timeout: float = 2.0) -> bool:
        """Publish; True once the broker acknowledged it.  While the broker is away the
        message is queued by the client and sent after it reconnects (never blocks long)."""
        if not self._connected.is_set() and not self._ever_waited:
            self._ever_waited = True
            self._connected.wait(timeout)
        info = self.client.publish(topic, json.dumps(payload, default=str), qos=qos)
        if not self._connected.is_set():
            return False
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class CameraInfo:
    id: int
    site_id: int
    site_code: str
    area_id: int | None
    name: str


@dataclass
class _Open:
    event_id: int
    snapshot_path: Path
    max_score: float
    last_write: float
    started_at: dt.datetime


@dataclass
class EventWriter:
    engine: object  # sqlalchemy Engine
    data_dir: Path
    camera: CameraInfo
    publisher: MqttPublisher | None = None
    update_interval_s: float = 2.0
    jpeg_quality: int = 85
    open_events: dict[str, _Open] = field(default_factory=dict)
    clips: ClipBuffer | None = None
    errors: int = 0
    written: dict[str, int] = field(default_factory=lambda: {"start": 0, "update": 0, "end": 0})

    def _snapshot(self, change: EventChange, frame: np.ndarray, detections: list[Detection],
                  path: Path | None = None) -> Path:
        import cv2

        v = change.track.last_violation
        started = change.track.first_seen.astimezone(dt.UTC)
        if path is None:
            folder = Path(self.data_dir) / "snapshots" / "vision" / str(self.camera.id) / started.strftime("%Y%m%d")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"cam{self.camera.id}-{started:%Y%m%dT%H%M%S}-{change.track.id}.jpg"
        ok, clean = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if ok:  # the unannotated frame, for turning reviews into training data
            clean_path = clean_snapshot_path(path)
            tmp = clean_path.with_suffix(".tmp")
            tmp.write_bytes(clean.tobytes())
            tmp.replace(clean_path)
        img = annotate(frame, v.detection, change.track.label,
                       [d for d in detections if d is not v.detection], v.zone.polygon)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise OSError("JPEG encoding failed")
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(buf.tobytes())
        tmp.replace(path)
        return path.resolve()

    def _payload(self, kind: str, change: EventChange, event_id: int, snap: Path | None,
                 ended_at: dt.datetime | None) -> dict:
        t = change.track
        v = t.last_violation
        return {
            "type": kind,
            "event_id": event_id,
            "camera_id": self.camera.id,
            "camera": self.camera.name,
            "site_id": self.camera.site_id,
            "site": self.camera.site_code,
            "area_id": t.zone.area_id if t.zone.area_id is not None else self.camera.area_id,
            "zone_id": t.zone.id,
            "zone": t.zone.name,
            "label": t.label,
            "score": round(change.score, 4),
            "max_score": round(t.max_score, 4),
            "box": [round(float(x), 1) for x in v.detection.xyxy],
            "track_id": t.id,
            "started_at": t.first_seen.isoformat(),
            "updated_at": t.last_seen.isoformat(),
            "ended_at": ended_at.isoformat() if ended_at else None,
            "snapshot_path": str(snap) if snap else None,
            "clip_path": str(clip_path_for(snap)) if snap and self.clips is not None else None,
        }

    def _publish(self, payload: dict) -> None:
        if self.publisher is None:
            return
        try:
            if not self.publisher.publish(topic_for(self.camera.site_code), payload):
                log.warning("camera %s: MQTT publish of event %s not confirmed", self.camera.name, payload["event_id"])
        except Exception as exc:  # noqa: BLE001 - the camera keeps running
            self.errors += 1
            log.error("camera %s: MQTT publish failed: %s", self.camera.name, exc)

    def observe(self, ts: float, frame: np.ndarray) -> None:
        """Every analysed frame of the camera (feeds the clip ring); never raises."""
        if self.clips is None:
            return
        try:
            self.clips.observe(ts, frame)
        except Exception as exc:  # noqa: BLE001 - clips must not stop the camera
            self.errors += 1
            log.error("camera %s: clip buffer failed: %s", self.camera.name, exc)

    def close(self) -> None:
        """Write the clips still collecting and wait for them."""
        if self.clips is not None:
            try:
                self.clips.close()
            except Exception as exc:  # noqa: BLE001
                self.errors += 1
                log.error("camera %s: clips not finished: %s", self.camera.name, exc)

    def handle(self, changes: list[EventChange], frame: np.ndarray, detections: list[Detection]) -> None:
        for ch in changes:
            try:
                getattr(self, "_" + ch.kind)(ch, frame, detections)
            except Exception as exc:  # noqa: BLE001 - a bad write must not stop the camera
                self.errors += 1
                log.exception("camera %s: cannot write %s of track %s: %s", self.camera.name, ch.kind, ch.track.id, exc)

    def _boxes(self, change: EventChange) -> list[dict]:
        v = change.track.last_violation
        return [v.detection.to_dict()] + [d.to_dict() for d in v.related]

    def _start(self, ch: EventChange, frame, detections) -> None:
        import sqlalchemy as sa

        from db.models import VisionEvent

        t = ch.track
        snap = self._snapshot(ch, frame, detections)
        if self.clips is not None:
            self.clips.start(clip_path_for(snap), t.first_seen.timestamp())
        values = dict(
            camera_id=self.camera.id, zone_id=t.zone.id, site_id=self.camera.site_id,
            area_id=t.zone.area_id if t.zone.area_id is not None else self.camera.area_id,
            label=t.label, score=float(ch.score), max_score=float(t.max_score), boxes=self._boxes(ch),
            track_id=t.id, started_at=t.first_seen, updated_at=t.last_seen, ended_at=None,
            snapshot_path=str(snap), review_status="new",
        )
        with self.engine.begin() as conn:
            event_id = conn.execute(sa.insert(VisionEvent).values(**values).returning(VisionEvent.id)).scalar_one()
        self.open_events[t.id] = _Open(event_id, snap, t.max_score, time.monotonic(), t.first_seen)
        self.written["start"] += 1
        self._publish(self._payload("new", ch, event_id, snap, None))

    def _update(self, ch: EventChange, frame, detections) -> None:
        import sqlalchemy as sa

        from db.models import VisionEvent

        t = ch.track
        op = self.open_events.get(t.id)
        if op is None:
            return
        better = t.max_score > op.max_score
        if not better and time.monotonic() - op.last_write < self.update_interval_s:
            return
        if better:
            self._snapshot(ch, frame, detections, op.snapshot_path)
            op.max_score = t.max_score
        with self.engine.begin() as conn:
            conn.execute(sa.update(VisionEvent).where(VisionEvent.id == op.event_id).values(
                score=float(ch.score), max_score=float(t.max_score), boxes=self._boxes(ch), updated_at=t.last_seen))
        op.last_write = time.monotonic()
        self.written["update"] += 1
        self._publish(self._payload("update", ch, op.event_id, op.snapshot_path, None))

    def _end(self, ch: EventChange, frame, detections) -> None:
        import sqlalchemy as sa

        from db.models import VisionEvent

        t = ch.track
        op = self.open_events.pop(t.id, None)
        if op is None:
            return
        with self.engine.begin() as conn:
            conn.execute(sa.update(VisionEvent).where(VisionEvent.id == op.event_id).values(
                max_score=float(t.max_score), updated_at=t.last_seen, ended_at=ch.at))
        self.written["end"] += 1
        self._publish(self._payload("end", ch, op.event_id, op.snapshot_path, ch.at))
