"""Photo uploads (hazard reports): checked, decoded and stored under the data dir.

The checks on the bytes (signature, declared dimensions against decompression bombs,
metadata removal) are :mod:`qhse.domain.uploads`; here the image is decoded to prove it
is readable and matches its header, then written with a random name.  Metadata that can
carry a location is removed from the stored bytes unless ``QHSE_UPLOAD_KEEP_EXIF`` is
set.  Refused uploads raise ``UploadError`` with a message for the user; nothing is
written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from qhse.domain.uploads import ALLOWED, MAX_PHOTO_BYTES, Photo, UploadError, check_declared, strip_metadata


def _limits() -> tuple[int, bool]:
    from qhse.settings import get_settings

    s = get_settings()
    return s.upload_max_pixels, s.upload_keep_exif


def validate_photo(data: bytes, filename: str = "", max_bytes: int = MAX_PHOTO_BYTES,
                   max_pixels: int | None = None) -> Photo:
    """Check an upload; ``max_pixels`` defaults to the ``QHSE_UPLOAD_MAX_PIXELS`` setting."""
    kind, w, h = check_declared(data, filename, max_bytes, _limits()[0] if max_pixels is None else max_pixels)

    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise UploadError(f"{filename or 'the file'} looks like a {kind.upper()} image but cannot be read (damaged?)")
    dh, dw = img.shape[:2]
    if (dw, dh) != (w, h):
        raise UploadError(f"{filename or 'the file'} declares {w}x{h} pixels but holds {dw}x{dh} (damaged?)")
    return Photo(kind=kind, ext=ALLOWED[kind], width=w, height=h, size=len(data))


def store_photo(data: bytes, photo: Photo, folder: Path, prefix: str = "hazard",
                keep_exif: bool | None = None) -> Path:
    """Write the checked bytes under ``folder/YYYY/MM/`` with a random name; returns the path.

    Metadata is stripped first unless ``keep_exif`` (default: the ``QHSE_UPLOAD_KEEP_EXIF`` setting).
    """
    if keep_exif is None:
        keep_exif = _limits()[1]
    if not keep_exif:
        data = strip_metadata(data, photo.kind)
    now = dt.datetime.now(dt.UTC)
    d = folder / f"{now:%Y}" / f"{now:%m}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{prefix}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.{photo.ext}"
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path.resolve()
