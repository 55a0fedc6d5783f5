"""The byte checks of an upload (qhse.domain.uploads) without decoding or files."""

from __future__ import annotations

import struct
import zlib

import pytest

from qhse.domain.uploads import MIN_SIDE_PX, UploadError, check_declared, sniff


def png_header(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_sniff_by_signature_only():
    assert sniff(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff(png_header(40, 40)) == "png"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff(b"GIF89a") is None


def test_declared_size_checked_before_any_decoding():
    assert check_declared(png_header(640, 480), "a.png", max_pixels=1_000_000) == ("png", 640, 480)
    with pytest.raises(UploadError, match=r"a.png is too large \(20000x20000 pixels; at most 50 megapixels\)"):
        check_declared(png_header(20000, 20000), "a.png", max_pixels=50_000_000)
    with pytest.raises(UploadError, match=f"at least {MIN_SIDE_PX} px per side"):
        check_declared(png_header(640, 8), max_pixels=1_000_000)


def test_refusals_in_words():
    with pytest.raises(UploadError, match="x.jpg is empty"):
        check_declared(b"", "x.jpg")
    with pytest.raises(UploadError, match="photos may be at most 1 MB"):
        check_declared(b"\xff\xd8\xff" + b"\0" * 1_500_000, max_bytes=1_000_000)
    with pytest.raises(UploadError, match="is not a JPEG, PNG or WebP image"):
        check_declared(b"%PDF-1.7")
    with pytest.raises(UploadError, match="its header cannot be read"):
        check_declared(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
