"""Motion gate: frame differencing on a downscaled, blurred grey frame.

Detection is skipped on frames where nothing moved.  The gate keeps a running average
of the background (so slow lighting changes fade in), thresholds the absolute
difference, dilates, and reports the moving regions as boxes in full-frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MotionConfig:
    width: int = 160  # frames are downscaled to this width before differencing
    threshold: int = 25  # grey-level change that counts as a moving pixel
    min_area: float = 0.002  # fraction of the frame a region must cover
    blur: int = 5  # Gaussian kernel (odd)
    alpha: float = 0.2  # background running-average weight of the new frame
    padding: float = 0.1  # regions are grown by this fraction of their size

    @classmethod
    def from_dict(cls, d: dict | None) -> MotionConfig:
        d = dict(d or {})
        allowed = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        unknown = set(d) - set(allowed)
        if unknown:
            raise ValueError(f"unknown motion settings: {', '.join(sorted(unknown))}")
        cfg = cls(**allowed)
        if cfg.width < 16 or not (0 < cfg.threshold < 256) or not (0 <= cfg.min_area < 1):
            raise ValueError("motion settings out of range (width>=16, 0<threshold<256, 0<=min_area<1)")
        if cfg.blur % 2 == 0:
            cfg.blur += 1
        return cfg


@dataclass
class MotionResult:
    moving: bool
    fraction: float  # share of (downscaled) pixels that changed
    regions: list[tuple[int, int, int, int]] = field(default_factory=list)  # xyxy, frame pixels

    def union(self) -> tuple[int, int, int, int] | None:
        if not self.regions:
            return None
        r = np.asarray(self.regions)
        return int(r[:, 0].min()), int(r[:, 1].min()), int(r[:, 2].max()), int(r[:, 3].max())


class MotionGate:
    def __init__(self, config: MotionConfig | None = None):
        self.config = config or MotionConfig()
        self._bg: np.ndarray | None = None
        self._shape: tuple[int, int] | None = None

    def reset(self) -> None:
        self._bg = None

    def update(self, frame: np.ndarray) -> MotionResult:
        import cv2

        cfg = self.config
        h, w = frame.shape[:2]
        sw = min(cfg.width, w)
        sh = max(1, int(round(h * sw / w)))
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        small = cv2.resize(grey, (sw, sh), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (cfg.blur, cfg.blur), 0).astype(np.float32)
        if self._bg is None or self._shape != (h, w):
            self._bg = small
            self._shape = (h, w)
            # the first frame has nothing to compare with: treat it as motion so the
            # scene is looked at once
            return MotionResult(True, 1.0, [(0, 0, w, h)])
        diff = cv2.absdiff(small, self._bg)
        cv2.accumulateWeighted(small, self._bg, cfg.alpha)
        mask = (diff > cfg.threshold).astype(np.uint8)
        fraction = float(mask.mean())
        if fraction == 0.0:
            return MotionResult(False, 0.0, [])
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_px = cfg.min_area * sw * sh
        sx, sy = w / sw, h / sh
        regions = []
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            if area < min_px:
                continue
            px, py = bw * cfg.padding, bh * cfg.padding
            regions.append(
                (
                    max(0, int((x - px) * sx)),
                    max(0, int((y - py) * sy)),
                    min(w, int(np.ceil((x + bw + px) * sx))),
                    min(h, int(np.ceil((y + bh + py) * sy))),
                )
            )
        return MotionResult(bool(regions), fraction, regions)
