"""Tracking of violations across frames and event debounce (Frigate style).

Each violation box is associated with a track of the same zone and label (greedy IoU,
falling back to centroid distance for small fast boxes).  A track keeps the scores of
its last ``window`` frames (0.0 for frames where it was missed).  An event *starts* when
the median of that history, padded with zeros up to ``min_frames`` entries, reaches the
threshold: with the defaults (window 5, padded to 5) at least 3 of the last 5
frames must see the violation, so a one-frame blip never fires.  A started event is *updated* while
its track is seen and *ends* when the track has been missed ``max_missed`` frames in a
row.  Per zone and label a cool-down applies: no new event starts within ``cooldown_s``
of the last moment an event of that zone and label was active.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections import deque
from dataclasses import dataclass, field

from .detector import box_iou
from .zones import Violation, Zone


@dataclass
class TrackerConfig:
    threshold: float = 0.5  # median score an event needs to start
    window: int = 5  # frames of score history
    min_frames: int = 5  # history is padded with zeros up to this many entries
    max_missed: int = 4  # frames a track may be missed before it ends
    iou_threshold: float = 0.2
    centroid_factor: float = 0.75  # or centres closer than this x box size

    @classmethod
    def from_dict(cls, d: dict | None) -> TrackerConfig:
        d = dict(d or {})
        allowed = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        unknown = set(d) - set(allowed)
        if unknown:
            raise ValueError(f"unknown tracker settings: {', '.join(sorted(unknown))}")
        cfg = cls(**allowed)
        if not (0 < cfg.threshold <= 1) or cfg.window < 1 or cfg.min_frames < 1 or cfg.max_missed < 0:
            raise ValueError("tracker settings out of range")
        return cfg


@dataclass
class Track:
    id: str
    label: str
    zone: Zone
    box: tuple[float, float, float, float]
    first_seen: dt.datetime
    last_seen: dt.datetime
    history: deque = field(default_factory=deque)
    missed: int = 0
    max_score: float = 0.0
    fired: bool = False
    last_violation: Violation | None = None

    def computed_score(self, min_frames: int) -> float:
        scores = list(self.history)
        if len(scores) < min_frames:
            scores += [0.0] * (min_frames - len(scores))
        return float(statistics.median(scores))


@dataclass(frozen=True)
class EventChange:
    kind: str  # start / update / end
    track: Track
    score: float  # median score at this moment
    at: dt.datetime


def _zone_key(zone: Zone) -> object:
    return zone.id if zone.id is not None else zone.name


class ViolationTracker:
    def __init__(self, config: TrackerConfig | None = None, prefix: str = "t"):
        self.config = config or TrackerConfig()
        self.prefix = prefix
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self._zone_active: dict[tuple[object, str], dt.datetime] = {}

    def _match(self, tracks: list[Track], violations: list[Violation]) -> list[tuple[int, int]]:
        if not tracks or not violations:
            return []
        tb = [t.box for t in tracks]
        vb = [v.detection.xyxy for v in violations]
        ious = box_iou(tb, vb)
        pairs = []
        for i, t in enumerate(tracks):
            tcx, tcy = (t.box[0] + t.box[2]) / 2, (t.box[1] + t.box[3]) / 2
            size = max(t.box[2] - t.box[0], t.box[3] - t.box[1], 1.0)
            for j, v in enumerate(violations):
                score = float(ious[i, j])
                if score < self.config.iou_threshold:
                    vcx, vcy = v.detection.center
                    dist = ((vcx - tcx) ** 2 + (vcy - tcy) ** 2) ** 0.5
                    if dist > self.config.centroid_factor * size:
                        continue
                    score = 1e-3 * (1.0 - dist / (self.config.centroid_factor * size + 1e-9))
                pairs.append((score, i, j))
        pairs.sort(reverse=True)
        used_t, used_v, out = set(), set(), []
        for _, i, j in pairs:
            if i in used_t or j in used_v:
                continue
            used_t.add(i)
            used_v.add(j)
            out.append((i, j))
        return out

    def update(self, violations: list[Violation], now: dt.datetime) -> list[EventChange]:
        cfg = self.config
        changes: list[EventChange] = []
        groups: dict[tuple[object, str], list[Violation]] = {}
        for v in violations:
            groups.setdefault((_zone_key(v.zone), v.label), []).append(v)
        matched_tracks: set[int] = set()
        for key, vs in groups.items():
            tracks = [t for t in self.tracks if (_zone_key(t.zone), t.label) == key]
            pairs = self._match(tracks, vs)
            seen_v = set()
            for i, j in pairs:
                t, v = tracks[i], vs[j]
                t.box = v.detection.xyxy
                t.history.append(v.score)
                t.missed = 0
                t.last_seen = now
                t.max_score = max(t.max_score, v.score)
                t.last_violation = v
                matched_tracks.add(id(t))
                seen_v.add(j)
            for j, v in enumerate(vs):
                if j in seen_v:
                    continue
                t = Track(
                    id=f"{self.prefix}{next(self._ids)}", label=v.label, zone=v.zone, box=v.detection.xyxy,
                    first_seen=now, last_seen=now, history=deque([v.score], maxlen=cfg.window),
                    max_score=v.score, last_violation=v,
                )
                self.tracks.append(t)
                matched_tracks.add(id(t))
        alive: list[Track] = []
        for t in self.tracks:
            if t.history.maxlen is None:
                t.history = deque(t.history, maxlen=cfg.window)
            seen = id(t) in matched_tracks
            if not seen:
                t.history.append(0.0)
                t.missed += 1
            key = (_zone_key(t.zone), t.label)
            if t.missed > cfg.max_missed:
                if t.fired:
                    changes.append(EventChange("end", t, t.computed_score(cfg.min_frames), t.last_seen))
                continue
            alive.append(t)
            score = t.computed_score(cfg.min_frames)
            if t.fired:
                if seen:
                    self._zone_active[key] = now
                    changes.append(EventChange("update", t, score, now))
                continue
            if seen and score >= cfg.threshold:
                last = self._zone_active.get(key)
                if last is not None and (now - last).total_seconds() < t.zone.cooldown_s:
                    continue
                t.fired = True
                self._zone_active[key] = now
                changes.append(EventChange("start", t, score, now))
        self.tracks = alive
        return changes

    def flush(self, now: dt.datetime) -> list[EventChange]:
        """End every open event (the camera stops)."""
        out = [EventChange("end", t, t.computed_score(self.config.min_frames), t.last_seen)
               for t in self.tracks if t.fired]
        self.tracks = []
        return out
