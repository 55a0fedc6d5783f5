"""Pure helpers: locale formatting, SHAP waterfall arithmetic, photo checks, periods."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pandas as pd
import pytest

from dashboard import i18n
from dashboard.core import period_bounds
from qhse.domain.explain import logit, waterfall_steps
from qhse.services.uploads import MAX_PHOTO_BYTES, UploadError, store_photo, validate_photo


def test_numbers_and_dates_per_locale():
    assert i18n.format_number("en", 1234567.891, 2) == "1,234,567.89"
    assert i18n.format_number("zh", 123456, compact=True) == "12.3万"
    assert i18n.format_number("zh", 250_000_000, compact=True) == "2.5亿"
    assert i18n.format_number("en", 2_500_000, compact=True) == "2.5M"
    assert i18n.format_number("en", None) == "n/a" and i18n.format_number("zh", float("nan")) == "不适用"
    assert i18n.format_percent("en", 0.953) == "95.3 %" and i18n.format_percent("zh", 0.953) == "95.3%"
    d = dt.date(2026, 11, 1)
    assert i18n.format_date("en", d) == "1 Nov 2026"
    assert i18n.format_date("zh", d) == "2026年11月1日"
    assert i18n.format_month("zh", d) == "2026年11月" and i18n.format_month("en", d) == "Nov 2026"
    t = dt.datetime(2026, 10, 31, 18, 5, tzinfo=dt.UTC)
    assert i18n.format_datetime("zh", t, ZoneInfo("Asia/Shanghai")) == "2026年11月1日 02:05"
    assert i18n.format_datetime("en", pd.NaT) == ""
    assert i18n.format_duration_h("en", 0.5) == "30 min" and i18n.format_duration_h("zh", 72) == "3.0 天"
    assert i18n.format_duration_h("en", -5) == "-5.0 h"


def test_every_string_has_both_languages():
    for key, (en, zh) in i18n.STRINGS.items():
        assert en and zh, key
    assert i18n.lookup("zh", "denied", role="x") == "您的角色（x）无权访问此页面。"
    assert i18n.lookup("en", "no.such.key") == "no.such.key"


def test_waterfall_ends_at_the_model_margin():
    contribs = [{"feature": "vibration_slope_7d", "value": 0.2, "contribution": 0.8},
                {"feature": "tool_wear", "value": 210.0, "contribution": -0.3}]
    base, steps, margin = waterfall_steps(0.25, -1.5, contribs)
    assert math.isclose(margin, logit(0.25))
    assert math.isclose(base + sum(s["contribution"] for s in steps), margin)
    assert steps[-1]["feature"] == "other features"
    # When the stored reasons already explain everything, no remainder step is added.
    base, steps, margin = waterfall_steps(1 / (1 + math.exp(-(-1.5 + 0.5))), -1.5,
                                          [{"feature": "a", "value": 1.0, "contribution": 0.5}])
    assert [s["feature"] for s in steps] == ["a"]


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


def test_period_bounds_are_whole_months_with_the_previous_period():
    tz = ZoneInfo("Asia/Shanghai")
    b = period_bounds("3m", dt.date(2026, 10, 1), tz)
    assert (b["start_month"], b["end_month"], b["prev_start_month"]) == (dt.date(2026, 8, 1), dt.date(2026, 11, 1),
                                                                         dt.date(2026, 5, 1))
    assert b["start"] == dt.datetime(2026, 7, 31, 16, tzinfo=dt.UTC)  # local midnight, in UTC
    assert b["prev_end"] == b["start"]
    y = period_bounds("ytd", dt.date(2026, 3, 1), tz)
    assert (y["start_month"], y["end_month"], y["prev_start_month"]) == (dt.date(2026, 1, 1), dt.date(2026, 4, 1),
                                                                         dt.date(2025, 10, 1))
    one = period_bounds("1m", dt.date(2026, 1, 1), tz)
    assert (one["start_month"], one["prev_start_month"]) == (dt.date(2026, 1, 1), dt.date(2025, 12, 1))
