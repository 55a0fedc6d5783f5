"""KPI report rules and overview tiles without a database: the window, rows from counts, the comparison
with the previous period, the total line, flat records."""

from __future__ import annotations

import datetime as dt

import pytest

from qhse.domain import kpi_report as R
from qhse.domain.overview import TILE_KPIS, kpi_tiles, operational_tile


def _counts(key, label, hours, recordable, **kw):
    return {"key": key, "label": label, "hours": hours, "recordable": recordable, "code": f"S{key}", **kw}


def test_report_window():
    assert R.report_window(dt.date(2026, 10, 17), 1) == (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    assert R.report_window(dt.date(2026, 1, 1), 3) == (dt.date(2025, 11, 1), dt.date(2026, 2, 1))
    with pytest.raises(ValueError, match="at least 1"):
        R.report_window(dt.date(2026, 1, 1), 0)


def test_rows_change_and_total():
    now = R.row_from_counts(_counts(1, "Plant One", 200_000, 2))
    before = R.row_from_counts(_counts(1, "Plant One", 200_000, 4))
    assert now.values["trir"] == pytest.approx(2.0) and now.meta == {"code": "S1"}
    R.attach_previous(now, before.values)
    assert now.previous["trir"] == pytest.approx(4.0) and now.changes["trir"].direction == "better"
    total = R.total_row(_counts("group", "Group", 400_000, 6))
    assert total.label == "Total" and total.meta["code"] == "TOTAL" and total.values["trir"] == pytest.approx(3.0)
    empty = R.total_row(None)
    assert empty.values["trir"] is None and empty.label == "Total"
    rep = R.KpiReport(start=dt.date(2026, 9, 1), end=dt.date(2026, 11, 1), by="site", rows=[now], total=total)
    assert rep.period_label == "2026-09 .. 2026-10"
    recs = R.report_records(rep)
    assert [r["unit"] for r in recs] == ["Plant One", "Total"]
    assert recs[0]["trir_change"] == pytest.approx(-2.0) and recs[0]["trir_direction"] == "better"
    assert recs[1]["trir_direction"] == "n/a"  # no previous period attached
    assert {d["code"] for d in R.kpi_definitions()} >= {"trir", "ltifr", "dart"}


def test_overview_tiles():
    cur = {code: 1.0 for code in TILE_KPIS} | {"trir": 2.0, "hazard_closure_rate": 90.0}
    prev = {code: 1.0 for code in TILE_KPIS} | {"trir": 3.0, "hazard_closure_rate": None}
    tiles = {t.code: t for t in kpi_tiles(cur, prev)}
    assert list(tiles) == list(TILE_KPIS)
    assert tiles["trir"].direction == "better" and tiles["trir"].delta == pytest.approx(-1.0)
    assert tiles["hazard_closure_rate"].direction == "n/a"
    t = operational_tile("open_alarms", "Open alarms", "at period end", False, "alarms not cleared", 5, 3)
    assert (t.kind, t.current, t.previous, t.direction) == ("operational", 5.0, 3.0, "worse")
