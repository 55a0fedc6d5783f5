"""Photo uploads: dimensions from the header before any decoding (decompression bombs), metadata removal."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from qhse.domain import uploads
from qhse.domain.uploads import MAX_PHOTO_BYTES, UploadError, header_size, strip_metadata
from qhse.services.uploads import store_photo, validate_photo


def _chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def png_bomb(w: int = 20000, h: int = 20000) -> bytes:
    """A PNG whose header declares w x h RGB pixels; the IDAT holds only the first rows (small file)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * w) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def jpeg_with_size(w: int, h: int) -> bytes:
    """A real small JPEG whose SOF0 header is rewritten to declare w x h."""
    _ok, buf = cv2.imencode(".jpg", np.full((40, 40, 3), 90, np.uint8))
    data = bytearray(buf.tobytes())
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 9] = struct.pack(">HH", h, w)
    return bytes(data)


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (64, 48), (120, 130, 140))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (22.0, 32.0, 41.5), 3: "E", 4: (113.0, 56.0, 2.0)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=90)
    return buf.getvalue()


@pytest.fixture()
def no_decode(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the image was decoded before its header was checked")

    monkeypatch.setattr(cv2, "imdecode", refuse)


def test_png_bomb_is_refused_from_its_header_without_decoding(no_decode):
    bomb = png_bomb()
    assert len(bomb) < 200_000
    assert header_size(bomb, "png") == (20000, 20000)
    with pytest.raises(UploadError, match=r"too large \(20000x20000 pixels"):
        validate_photo(bomb, "bomb.png")


def test_jpeg_bomb_is_refused_from_its_sof_header(no_decode):
    data = jpeg_with_size(60000, 50000)
    assert header_size(data, "jpeg") == (60000, 50000)
    with pytest.raises(UploadError, match="too large"):
        validate_photo(data, "bomb.jpg")


def test_pixel_limit_is_a_setting(monkeypatch):
    from qhse.settings import reset_settings_cache

    _ok, buf = cv2.imencode(".png", np.zeros((100, 100, 3), np.uint8))
    monkeypatch.setenv("QHSE_UPLOAD_MAX_PIXELS", "5000")
    reset_settings_cache()
    try:
        with pytest.raises(UploadError, match="too large"):
            validate_photo(buf.tobytes(), "x.png")
        assert validate_photo(buf.tobytes(), "x.png", max_pixels=20_000).width == 100
    finally:
        monkeypatch.delenv("QHSE_UPLOAD_MAX_PIXELS")
        reset_settings_cache()
    assert validate_photo(buf.tobytes(), "x.png").height == 100


def test_header_sizes_match_decoded_sizes_for_every_format():
    img = np.random.default_rng(1).integers(0, 255, (37, 53, 3), np.uint8)
    for ext, params in ((".png", []), (".jpg", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
                        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101])):  # lossy VP8 and lossless VP8L
        _ok, buf = cv2.imencode(ext, img, params)
        data = buf.tobytes()
        kind = uploads.sniff(data)
        assert header_size(data, kind) == (53, 37), (ext, params)
    pil = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "x"
    Image.fromarray(img).save(pil, "WEBP", exif=exif)  # extended format (VP8X) because of the EXIF chunk
    data = pil.getvalue()
    assert data[12:16] == b"VP8X" and header_size(data, "webp") == (53, 37)
    stripped = strip_metadata(data, "webp")
    assert b"EXIF" not in stripped and Image.open(io.BytesIO(stripped)).size == (53, 37)


def test_gps_exif_is_removed_from_stored_jpeg(tmp_path):
    data = jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the fixture really carries GPS
    photo = validate_photo(data, "phone.jpg")
    path = store_photo(data, photo, tmp_path)
    stored = path.read_bytes()
    assert b"Exif" not in stored and b"PhoneMaker" not in stored
    im = Image.open(io.BytesIO(stored))
    assert not im.getexif() and im.size == (64, 48)
    # Pixels are untouched: the same decoded image (no re-encode).
    a = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    b = cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(a, b)


def test_exif_is_kept_when_the_setting_says_so(tmp_path):
    data = jpeg_with_gps()
    path = store_photo(data, validate_photo(data, "phone.jpg"), tmp_path, keep_exif=True)
    assert path.read_bytes() == data


def test_png_text_and_exif_chunks_are_removed(tmp_path):
    _ok, buf = cv2.imencode(".png", np.full((40, 40, 3), 7, np.uint8))
    png = buf.tobytes()
    i = png.index(b"IDAT") - 4
    tagged = png[:i] + _chunk(b"eXIf", b"MM\x00*GPS") + _chunk(b"tEXt", b"Comment\x00home address") + png[i:]
    path = store_photo(tagged, validate_photo(tagged, "t.png"), tmp_path)
    stored = path.read_bytes()
    assert b"eXIf" not in stored and b"home address" not in stored and stored == png


def _png(w=64, h=48) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((h, w, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def test_photo_checks(tmp_path):
    p = validate_photo(_png(), "ok.png")
    assert (p.kind, p.width, p.height) == ("png", 64, 48)
    ok, jpg = cv2.imencode(".jpg", np.zeros((40, 40, 3), np.uint8))
    assert validate_photo(jpg.tobytes(), "x.jpg").ext == "jpg"
    with pytest.raises(UploadError, match="not a JPEG, PNG or WebP"):
        validate_photo(b"hello, I am a text file", "notes.jpg")
    with pytest.raises(UploadError, match="cannot be read"):
        validate_photo(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "broken.png")
    with pytest.raises(UploadError, match="at most"):
        validate_photo(b"\xff\xd8\xff" + b"\x00" * MAX_PHOTO_BYTES, "huge.jpg")
    with pytest.raises(UploadError, match="empty"):
        validate_photo(b"", "empty.png")
    with pytest.raises(UploadError, match="pixels"):
        validate_photo(_png(10, 10), "tiny.png")
    path = store_photo(_png(), p, tmp_path)
    assert path.is_file() and path.suffix == ".png" and path.read_bytes() == _png()
