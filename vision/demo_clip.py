"""Assemble the demo "camera" clip from images of the Public Domain hard-hat dataset.

Each chosen image is shown for a few seconds with a slow zoom (so the motion gate sees
movement, like a PTZ camera), letterboxed onto a 3:2 canvas (the images' own shape).  Images with bare heads
(violations) alternate with images where everyone wears a hard hat.  The file list is
written next to the clip for attribution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
DEFAULT_CLIP = SAMPLES_DIR / "ppe_demo.mp4"


def _boxes(label: Path) -> list[tuple[int, float]]:
    """(class, normalised area) per box."""
    if not label.is_file():
        return []
    out = []
    for line in label.read_text().splitlines():
        p = line.split()
        if len(p) >= 5:
            out.append((int(p[0]), float(p[3]) * float(p[4])))
    return out


def choose_images(dataset_dir: Path, split: str = "test", n_violation: int = 6, n_ok: int = 3,
                  min_area: float = 0.006) -> list[Path]:
    """Deterministic pick: images with bare heads (class 0) and helmet-only images (class 1),
    at most 6 boxes each, none smaller than ``min_area`` of the image (a camera close enough
    to see heads)."""
    img_dir = Path(dataset_dir) / split / "images"
    lbl_dir = Path(dataset_dir) / split / "labels"
    viol, ok = [], []
    for img in sorted(img_dir.glob("*.jpg")):
        boxes = _boxes(lbl_dir / f"{img.stem}.txt")
        if not boxes or len(boxes) > 6 or min(a for _, a in boxes) < min_area:
            continue
        cls = [c for c, _ in boxes]
        if 0 in cls:
            viol.append(img)
        elif set(cls) == {1}:
            ok.append(img)
    viol, ok = viol[:n_violation], ok[:n_ok]
    out: list[Path] = []
    while viol or ok:
        out += viol[:2]
        viol = viol[2:]
        if ok:
            out.append(ok.pop(0))
    return out


def build_clip(images: list[Path], out: Path = DEFAULT_CLIP, size: tuple[int, int] = (480, 320),
               fps: int = 8, seconds_each: float = 3.0, zoom: float = 0.06) -> Path:
    import cv2

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {out}")
    n = max(1, int(round(fps * seconds_each)))
    for p in images:
        img = cv2.imread(str(p))
        if img is None:
            raise FileNotFoundError(p)
        ih, iw = img.shape[:2]
        for k in range(n):
            z = 1.0 + zoom * k / max(1, n - 1)
            cw, ch = iw / z, ih / z
            x0, y0 = (iw - cw) / 2, (ih - ch) / 2
            m = np.array([[1 / 1.0, 0, -x0], [0, 1, -y0]], np.float32)
            crop = cv2.warpAffine(img, m, (int(cw), int(ch)), flags=cv2.INTER_LINEAR)
            scale = min(w / crop.shape[1], h / crop.shape[0])
            nw, nh = int(crop.shape[1] * scale), int(crop.shape[0] * scale)
            frame = np.full((h, w, 3), 40, np.uint8)
            x, y = (w - nw) // 2, (h - nh) // 2
            frame[y:y + nh, x:x + nw] = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
            writer.write(frame)
    writer.release()
    (out.parent / (out.stem + ".sources.txt")).write_text(
        "Frames of ppe_demo.mp4, in order (Hard Hat Workers, Public Domain; see ATTRIBUTION.md):\n"
        + "\n".join(p.name for p in images) + "\n")
    return out


if __name__ == "__main__":  # pragma: no cover
    import sys

    ds = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/ppe-hardhat")
    print(build_clip(choose_images(ds)))
