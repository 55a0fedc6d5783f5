"""Ledger rules without a database: the request check, period bounds, how each line is judged, totals."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from qhse.domain import ledgers as D

SH = ZoneInfo("Asia/Shanghai")
T1 = dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)


def test_request_and_period():
    D.check_request("training", dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    with pytest.raises(D.LedgerError, match="unknown ledger 'noise'"):
        D.check_request("noise", dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    with pytest.raises(D.LedgerError, match="ends"):
        D.check_request("training", dt.date(2026, 10, 2), dt.date(2026, 10, 1))
    with pytest.raises(D.LedgerError, match="longer than"):
        D.check_request("training", dt.date(2020, 1, 1), dt.date(2026, 1, 1))
    t0, t1 = D.period_bounds(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "Asia/Shanghai")
    assert t0 == dt.datetime(2026, 9, 30, 16, tzinfo=dt.UTC) and t1 == T1


def _exceedance(alarm_id, ack=None, cleared=None):
    return {"ts": dt.datetime(2026, 10, 5, 2, 0, tzinfo=dt.UTC), "sensor_id": 4, "sensor_code": "VOC-1",
            "area_code": "PAINT", "gas": "voc", "value": 120.5, "direction": ">", "limit_value": 100.0, "unit": "ppm",
            "alarm_id": alarm_id, "acknowledged_by": "ann" if ack else None, "acknowledged_at": ack,
            "cleared_at": cleared}


def test_waste_gas_handling():
    ack = dt.datetime(2026, 10, 5, 2, 5, tzinfo=dt.UTC)
    src = [_exceedance(None), _exceedance(1), _exceedance(2, ack=ack), _exceedance(3, ack=ack, cleared=ack),
           _exceedance(4, cleared=T1)]  # cleared exactly at the period's end: still open in the period
    pts = [{"sensor_id": 4, "sensor_code": "VOC-1", "area_code": "PAINT", "gas": "voc", "unit": "ppm", "readings": 10,
            "min_value": 1.0, "avg_value": 50.25, "max_value": 120.5, "alarm_high": 100.0, "alarm_low": None,
            "exceedances": 5}]
    cols, rows, totals, points = D.waste_gas_lines(src, pts, 7, T1, SH)
    assert [r["handling"] for r in rows] == ["no alarm", "open", "acknowledged", "cleared", "open"]
    assert rows[0]["source"] == "sensor_reading#4@2026-10-05T02:00:00Z" and rows[0]["time"] == "2026-10-05 10:00"
    assert rows[2]["acknowledged"] == "ann 2026-10-05 10:05" and rows[0]["gas"] == "VOC"
    assert dict(totals) == {"lines": 5, "monitoring_points": 1, "readings": 10, "exceedances": 5, "alarms_linked": 4,
                            "alarms_linked_cleared": 1, "alarms_raised": 7, "exceedances_without_alarm": 1}
    assert points[0]["limit"] == "> 100" and points[0]["avg"] == "50.25"
    assert [c.key for c in cols][0] == "source"


def test_training_status_at_period_end():
    end = dt.date(2026, 10, 31)
    base = {"completed_on": dt.date(2026, 10, 3), "employee_no": "E1", "person": "Li", "department": "FAC",
            "course_code": "H2S", "course": "H2S safety", "score": 90.0}
    src = [base | {"id": 1, "passed": False, "expires_on": None},
           base | {"id": 2, "passed": True, "expires_on": None},
           base | {"id": 3, "passed": True, "expires_on": end},
           base | {"id": 4, "passed": True, "expires_on": dt.date(2026, 10, 30), "employee_no": "E2", "score": 70.0}]
    _, rows, totals, _ = D.training_lines(src, end)
    assert [r["status"] for r in rows] == ["failed", "no expiry", "valid", "expired"]
    assert dict(totals) == {"lines": 4, "people": 2, "passed": 3, "failed": 1, "expired_at_period_end": 1,
                            "average_score": 85.0}


def test_inspection_totals_and_failed_items():
    base = {"due_at": T1, "area_code": "A", "route": "R1", "performed_at": None, "inspector": None,
            "inspector_no": None, "findings": None, "results": None}
    src = [base | {"id": 1, "status": "done", "results": {"guard": False, "sign": True}, "findings": 2,
                   "inspector": "Wang", "inspector_no": "E9"},
           base | {"id": 2, "status": "missed"}, base | {"id": 3, "status": "scheduled"}]
    _, rows, totals, _ = D.inspection_lines(src, SH)
    assert rows[0]["failed_items"] == "guard" and rows[0]["inspector"] == "Wang (E9)"
    assert dict(totals) == {"lines": 3, "done": 1, "missed": 1, "scheduled": 1, "findings": 2,
                            "completion_rate_pct": 50.0}
    assert D.inspection_lines([], SH)[2][-1] == ("completion_rate_pct", "")


def test_csv_cells_cannot_start_a_formula():
    assert D.csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and D.csv_cell("-3.5") == "-3.5" and D.csv_cell(7) == 7
