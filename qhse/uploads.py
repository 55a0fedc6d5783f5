"""Photo uploads (hazard reports): checked by content, size and dimensions, stored under the data dir.

The file name and the browser's claimed type are not trusted: the first bytes must be a
JPEG, PNG or WebP signature and the image must decode.  Refused uploads raise
``UploadError`` with a message for the user; nothing is written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MIN_SIDE_PX = 32
MAX_PIXELS = 50_000_000  # decompression bombs
ALLOWED = {"jpeg": "jpg", "png": "png", "webp": "webp"}


class UploadError(ValueError):
    """An upload refused, with the reason in words."""


@dataclass(frozen=True)
class Photo:
    kind: str  # jpeg / png / webp
    ext: str
    width: int
    height: int
    size: int


def sniff(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def validate_photo(data: bytes, filename: str = "", max_bytes: int = MAX_PHOTO_BYTES) -> Photo:
    import cv2
    import numpy as np

    size = len(data)
    if size == 0:
        raise UploadError(f"{filename or 'the file'} is empty")
    if size > max_bytes:
        raise UploadError(f"{filename or 'the file'} is {size / 1e6:.1f} MB; photos may be at most "
                          f"{max_bytes / 1e6:.0f} MB")
    kind = sniff(data)
    if kind is None:
        raise UploadError(f"{filename or 'the file'} is not a JPEG, PNG or WebP image")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise UploadError(f"{filename or 'the file'} looks like a {kind.upper()} image but cannot be read (damaged?)")
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE_PX:
        raise UploadError(f"{filename or 'the image'} is only {w}x{h} pixels; at least {MIN_SIDE_PX} px per side")
    if h * w > MAX_PIXELS:
        raise UploadError(f"{filename or 'the image'} is too large ({w}x{h} pixels)")
    return Photo(kind=kind, ext=ALLOWED[kind], width=w, height=h, size=size)


def store_photo(data: bytes, photo: Photo, folder: Path, prefix: str = "hazard") -> Path:
    """Write the checked bytes under ``folder/YYYY/MM/`` with a random name; returns the path."""
    now = dt.datetime.now(dt.UTC)
    d = folder / f"{now:%Y}" / f"{now:%m}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{prefix}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.{photo.ext}"
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path.resolve()
