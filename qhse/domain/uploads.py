"""Photo uploads judged by their bytes: the type from the signature, the pixel size from the
header, and the metadata that can carry a location.  Pure (takes bytes, opens no file);
``qhse/services/uploads.py`` decodes the image to prove it is readable and stores it.

The file name and the browser's claimed type are not trusted: the first bytes must be a
JPEG, PNG or WebP signature (:func:`sniff`).  The pixel dimensions are read from the file
header (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X: :func:`header_size`) *before* anything is
decoded, so a small file that claims a huge canvas (a decompression bomb) is refused
without allocating its pixels (:func:`check_declared`).  Metadata that can carry a
location (EXIF, with its GPS block; XMP; text chunks) is removed by
:func:`strip_metadata`; the pixel data is left untouched (no re-encode).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MIN_SIDE_PX = 32
MAX_PIXELS = 50_000_000  # default of QHSE_UPLOAD_MAX_PIXELS (decompression bombs)
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


# -- dimensions from the header ------------------------------------------------------------
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        (seg_len,) = struct.unpack(">H", data[i + 2:i + 4])
        if seg_len < 2:
            return None
        if marker in _JPEG_SOF:
            if i + 9 > n:
                return None
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + seg_len
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
        return w, h
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) as the file header declares them, without decoding; None if unreadable."""
    return {"png": _png_size, "jpeg": _jpeg_size, "webp": _webp_size}[kind](data)


# -- metadata removal ------------------------------------------------------------------------
def _strip_jpeg(data: bytes) -> bytes:
    """Drop APP1..APP15 (EXIF, XMP, vendor blocks) and COM segments; keep APP0 (JFIF) and APP2 (ICC)."""
    out = bytearray(data[:2])
    i, n = 2, len(data)
    while i + 4 <= n and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        if marker in (0x01, *range(0xD0, 0xD8)):
            out += data[i:i + 2]
            i += 2
            continue
        (seg_len,) = struct.unpack(">H", data[i + 2:i + 4])
        end = i + 2 + seg_len
        drop = (0xE1 <= marker <= 0xEF and marker != 0xE2) or marker == 0xFE
        if not drop:
            out += data[i:end]
        i = end
    out += data[i:]
    return bytes(out)


_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}


def _strip_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    i, n = 8, len(data)
    while i + 12 <= n:
        (length,) = struct.unpack(">I", data[i:i + 4])
        ctype = data[i + 4:i + 8]
        end = i + 12 + length
        if ctype not in _PNG_DROP:
            out += data[i:end]
        i = end
        if ctype == b"IEND":
            break
    return bytes(out)


def _strip_webp(data: bytes) -> bytes:
    chunks = bytearray()
    i, n = 12, len(data)
    while i + 8 <= n:
        ctype = data[i:i + 4]
        (length,) = struct.unpack("<I", data[i + 4:i + 8])
        end = i + 8 + length + (length & 1)
        if ctype not in (b"EXIF", b"XMP "):
            chunk = bytearray(data[i:end])
            if ctype == b"VP8X":
                chunk[8] &= ~0x0C & 0xFF  # clear the EXIF (0x08) and XMP (0x04) flags
            chunks += chunk
        i = end
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + bytes(chunks)


def strip_metadata(data: bytes, kind: str) -> bytes:
    """The image bytes without EXIF (GPS), XMP and text metadata; pixels unchanged."""
    return {"jpeg": _strip_jpeg, "png": _strip_png, "webp": _strip_webp}[kind](data)


# -- the checks before decoding ----------------------------------------------------------------
def check_declared(data: bytes, filename: str = "", max_bytes: int = MAX_PHOTO_BYTES,
                   max_pixels: int = MAX_PIXELS) -> tuple[str, int, int]:
    """(kind, width, height) of an upload that passes the size, type and declared-dimension
    checks; UploadError with the reason otherwise."""
    size = len(data)
    if size == 0:
        raise UploadError(f"{filename or 'the file'} is empty")
    if size > max_bytes:
        raise UploadError(f"{filename or 'the file'} is {size / 1e6:.1f} MB; photos may be at most "
                          f"{max_bytes / 1e6:.0f} MB")
    kind = sniff(data)
    if kind is None:
        raise UploadError(f"{filename or 'the file'} is not a JPEG, PNG or WebP image")
    declared = header_size(data, kind)
    if declared is None:
        raise UploadError(f"{filename or 'the file'} looks like a {kind.upper()} image but its header cannot be "
                          "read (damaged?)")
    w, h = declared
    if w * h > max_pixels:
        raise UploadError(f"{filename or 'the image'} is too large ({w}x{h} pixels; at most "
                          f"{max_pixels / 1e6:.0f} megapixels)")
    if min(h, w) < MIN_SIDE_PX:
        raise UploadError(f"{filename or 'the image'} is only {w}x{h} pixels; at least {MIN_SIDE_PX} px per side")
    return kind, w, h
