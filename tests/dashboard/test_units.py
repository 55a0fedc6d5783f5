"""Pure page helpers: locale formatting, periods (the SHAP waterfall and photo checks: tests/unit)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from dashboard import i18n
from dashboard.core import period_bounds


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
