"""The default period ends with the last complete month, and says so; a month not complete yet can be
chosen, and every figure of it compared with full months is marked (AppTest, on the seeded data:
history ends 2026-11-01, and on a fixed 'today' in the middle of October)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from .helpers import assert_ok, open_page, texts

SEP, OCT, NOV = dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)
MID_OCTOBER = dt.datetime(2026, 10, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def scored(dash_engine):
    from qhse.services.scorecards import compute_month

    for month in (SEP, OCT):
        compute_month(dash_engine, month, tz="Asia/Shanghai")
    return dash_engine


@pytest.fixture
def mid_october(monkeypatch):
    from dashboard import core

    monkeypatch.setattr(core, "now_local", lambda: MID_OCTOBER)


def test_default_period_is_the_last_complete_month_of_the_data(dash_env, dash_users, dash_engine):
    # The seeded history ends on 1 November, so October is the last complete month; other tests in
    # this session may have written events since (a hazard reported today), which moves the end of
    # the data: the expected month follows the data's last event, as a user would see it.
    from dashboard.core import add_months
    from db.queries.org import data_horizon
    from qhse.domain.access import SYSTEM

    tz = ZoneInfo("Asia/Shanghai")
    horizon = data_horizon(dash_engine, SYSTEM).astimezone(tz)
    now = dt.datetime.now(tz)
    expected = add_months(min(now, horizon + dt.timedelta(hours=12)).date().replace(day=1), -1)
    if horizon < dt.datetime(2026, 11, 2, tzinfo=tz):
        assert expected == OCT
    at = open_page(dash_users["group.manager"], "app_pages/overview.py")
    assert_ok(at)
    assert at.selectbox(key="w.end").value == expected
    assert at.session_state["flt.end"] == expected
    caption = at.caption[0].value
    first = add_months(expected, -2)
    assert f"{first:%b %Y} – {expected:%b %Y}" in caption or f"{first:%B %Y} – {expected:%B %Y}" in caption, caption
    assert "up to the last complete month" in caption and "◐" not in caption
    assert not [m for m in at.metric if m.delta and "◐" in str(m.delta)]
    # The month after it (the data's last, incomplete month) is offered, marked as not complete.
    nxt = add_months(expected, 1)
    opts = at.selectbox(key="w.end").options
    assert any(o in (f"{nxt:%b %Y} (not complete)", f"{nxt:%B %Y} (not complete)") for o in opts), opts


def test_mid_month_the_month_in_progress_is_not_the_default(dash_env, dash_users, mid_october):
    at = open_page(dash_users["group.manager"], "app_pages/overview.py")
    assert_ok(at)
    assert at.selectbox(key="w.end").value == SEP  # not October, half a month old
    assert "up to the last complete month" in at.caption[0].value
    assert "(not complete)" in at.selectbox(key="w.end").options[0]


def test_a_partial_month_chosen_is_marked_on_every_comparison(dash_env, dash_users, mid_october, scored):
    at = open_page(dash_users["group.manager"], "app_pages/overview.py", state={"flt.end": OCT, "flt.period": "1m"})
    assert_ok(at)
    caption = at.caption[0].value
    assert "◐" in caption and "is not complete (data up to 15 Oct 2026 10:00)" in caption, caption
    deltas = [str(m.delta) for m in at.metric if m.delta]
    assert deltas and all(d.endswith("◐") for d in deltas), deltas

    sc = open_page(dash_users["group.manager"], "app_pages/scorecards.py", state={"flt.end": OCT})
    assert_ok(sc)
    assert sc.selectbox(key="sc.month").value == OCT
    assert "is not complete" in texts(sc)
    assert "vs last month ◐ partial month" in _column_labels(sc)

    cmp_ = open_page(dash_users["group.manager"], "app_pages/site_comparison.py", state={"flt.end": OCT})
    assert_ok(cmp_)
    assert "is not complete" in cmp_.caption[0].value
    assert "vs last month ◐ partial month" in _column_labels(cmp_)

    # The last complete month: no marking.
    sc = open_page(dash_users["group.manager"], "app_pages/scorecards.py", state={"flt.end": SEP})
    assert_ok(sc)
    assert sc.selectbox(key="sc.month").value == SEP and "is not complete" not in texts(sc)
    assert "◐" not in _column_labels(sc)


def _column_labels(at) -> str:
    """The column headings the page's tables show (their column configuration, as sent to the browser)."""
    labels = []
    for d in at.dataframe:
        config = json.loads(d.proto.columns or "{}")
        labels += [str(c.get("label", "")) for c in config.values() if isinstance(c, dict)]
    return "\n".join(labels)
