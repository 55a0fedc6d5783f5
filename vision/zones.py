"""Zones and PPE rules.

A zone is a polygon (normalised 0..1 frame coordinates) on one camera with the PPE it
requires and, optionally, the hours it is active.  Rules turn the detector's boxes into
violations:

* ``helmet`` required: every bare ``head`` (or ``no_helmet``) box whose centre lies in
  the zone is a ``no_helmet`` violation.
* ``vest`` required: every ``no_vest`` box whose centre lies in the zone is a ``no_vest``
  violation, and so is every ``person``/``worker`` box whose feet (bottom centre) lie in
  the zone and that overlaps neither a ``vest`` nor a ``no_vest`` box.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .detector import Detection

PPE_ITEMS = ("helmet", "vest")
HEAD_LABELS = ("head", "no_helmet")
PERSON_LABELS = ("person", "worker")
VEST_LABELS = ("vest",)
NO_VEST_LABELS = ("no_vest",)
VIOLATION_LABELS = {"helmet": "no_helmet", "vest": "no_vest"}


class ZoneError(ValueError):
    """A zone definition is invalid."""


@dataclass(frozen=True)
class Zone:
    id: int | None
    name: str
    polygon: tuple[tuple[float, float], ...]
    required_ppe: frozenset[str]
    active_from: dt.time | None = None
    active_to: dt.time | None = None
    cooldown_s: int = 60
    area_id: int | None = None

    @classmethod
    def build(
        cls,
        name: str,
        polygon: Sequence[Sequence[float]],
        required_ppe: Iterable[str],
        active_from: dt.time | None = None,
        active_to: dt.time | None = None,
        cooldown_s: int = 60,
        id: int | None = None,  # noqa: A002
        area_id: int | None = None,
    ) -> Zone:
        try:
            pts = tuple((float(p[0]), float(p[1])) for p in polygon)
        except (TypeError, ValueError, IndexError):
            raise ZoneError(f"zone {name!r}: polygon must be a list of [x, y] pairs") from None
        if len(pts) < 3:
            raise ZoneError(f"zone {name!r}: a polygon needs at least 3 points")
        if any(not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) for x, y in pts):
            raise ZoneError(f"zone {name!r}: polygon points must be normalised to 0..1")
        ppe = frozenset(str(p) for p in required_ppe)
        bad = ppe - set(PPE_ITEMS)
        if bad:
            raise ZoneError(f"zone {name!r}: unknown PPE {sorted(bad)} (known: {list(PPE_ITEMS)})")
        if cooldown_s < 0:
            raise ZoneError(f"zone {name!r}: cooldown_s must be >= 0")
        return cls(id, name, pts, ppe, active_from, active_to, int(cooldown_s), area_id)

    def is_active(self, when: dt.time) -> bool:
        """Active hours; ``from > to`` spans midnight; no hours means always active."""
        a, b = self.active_from, self.active_to
        if a is None and b is None:
            return True
        a = a or dt.time(0, 0)
        b = b or dt.time(23, 59, 59, 999999)
        if a <= b:
            return a <= when <= b
        return when >= a or when <= b

    def contains(self, x: float, y: float, width: int, height: int) -> bool:
        """Is the pixel point (x, y) of a ``width`` x ``height`` frame inside the zone?"""
        return point_in_polygon(x / width, y / height, self.polygon)


def point_in_polygon(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Even-odd ray casting; points on an edge count as inside."""
    n = len(polygon)
    inside = False
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        # on-edge test
        cross = (x - x1) * (y2 - y1) - (y - y1) * (x2 - x1)
        on_x = min(x1, x2) - 1e-12 <= x <= max(x1, x2) + 1e-12
        on_y = min(y1, y2) - 1e-12 <= y <= max(y1, y2) + 1e-12
        if abs(cross) < 1e-12 and on_x and on_y:
            return True
        if (y1 > y) != (y2 > y):
            xin = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xin:
                inside = not inside
    return inside


def overlap_fraction(inner: tuple[float, ...], outer: tuple[float, ...]) -> float:
    """Share of ``inner``'s area that lies inside ``outer`` (intersection over inner)."""
    ix1, iy1 = max(inner[0], outer[0]), max(inner[1], outer[1])
    ix2, iy2 = min(inner[2], outer[2]), min(inner[3], outer[3])
    inter = max(0.0, ix2 - ix1) * max(0.0, iy2 - iy1)
    area = max(0.0, inner[2] - inner[0]) * max(0.0, inner[3] - inner[1])
    return inter / area if area > 0 else 0.0


@dataclass(frozen=True)
class Violation:
    label: str  # no_helmet / no_vest
    zone: Zone
    detection: Detection  # the box the violation is about
    related: tuple[Detection, ...] = field(default_factory=tuple)

    @property
    def score(self) -> float:
        return self.detection.score


def find_violations(
    detections: Sequence[Detection],
    zones: Sequence[Zone],
    frame_size: tuple[int, int],
    when: dt.time,
    vest_overlap: float = 0.3,
) -> list[Violation]:
    """PPE violations in one frame. ``frame_size`` is (width, height)."""
    w, h = frame_size
    heads = [d for d in detections if d.label in HEAD_LABELS]
    persons = [d for d in detections if d.label in PERSON_LABELS]
    vests = [d for d in detections if d.label in VEST_LABELS]
    no_vests = [d for d in detections if d.label in NO_VEST_LABELS]
    out: list[Violation] = []
    for zone in zones:
        if not zone.required_ppe or not zone.is_active(when):
            continue
        if "helmet" in zone.required_ppe:
            for d in heads:
                cx, cy = d.center
                if zone.contains(cx, cy, w, h):
                    out.append(Violation("no_helmet", zone, d))
        if "vest" in zone.required_ppe:
            for d in no_vests:
                cx, cy = d.center
                if zone.contains(cx, cy, w, h):
                    out.append(Violation("no_vest", zone, d))
            for p in persons:
                fx, fy = (p.xyxy[0] + p.xyxy[2]) / 2.0, p.xyxy[3]
                if not zone.contains(fx, min(fy, h - 1e-6), w, h):
                    continue
                covered = [v for v in vests + no_vests if overlap_fraction(v.xyxy, p.xyxy) >= vest_overlap]
                if not covered:
                    out.append(Violation("no_vest", zone, p))
    return out
