"""KPI formulas (qhse.domain.kpi) by hand, without a database: rates per hours worked, severity conventions,
ratios with empty denominators, group roll-ups from sums, change direction and benchmarks."""

from __future__ import annotations

import statistics

import pytest

from qhse.domain import kpi
from qhse.domain.kpi import KpiCounts, SeverityConvention


# ---------------------------------------------------------------------------------- formulas
def test_trir_dart_ltifr_by_hand():
    # 3 recordable cases in 150,000 h: 3 x 200,000 / 150,000 = 4.0
    assert kpi.trir(3, 150_000) == pytest.approx(4.0)
    # 2 days-away + 1 restricted case in 400,000 h: 3 x 200,000 / 400,000 = 1.5
    assert kpi.dart(2, 1, 400_000) == pytest.approx(1.5)
    # 1 lost-time injury in 250,000 h: 1 x 1,000,000 / 250,000 = 4.0
    assert kpi.ltifr(1, 250_000) == pytest.approx(4.0)
    assert kpi.trir(0, 100_000) == 0.0


def test_severity_rate_conventions():
    # 12 days away and 8 restricted days in 80,000 h
    assert kpi.severity_rate(12, 8, 80_000) == pytest.approx(12 * 200_000 / 80_000)  # 30.0
    both = SeverityConvention(days="days_away_and_restricted")
    assert kpi.severity_rate(12, 8, 80_000, both) == pytest.approx(20 * 200_000 / 80_000)  # 50.0
    ilo = SeverityConvention(days="days_away", base=1_000_000)
    assert kpi.severity_rate(12, 8, 80_000, ilo) == pytest.approx(150.0)
    with pytest.raises(ValueError):
        SeverityConvention(days="calendar_days")


@pytest.mark.parametrize("hours", [0, 0.0, None, -5])
def test_zero_hours_is_not_available(hours):
    assert kpi.trir(2, hours) is None
    assert kpi.dart(1, 1, hours) is None
    assert kpi.ltifr(1, hours) is None
    assert kpi.severity_rate(5, 0, hours) is None
    assert kpi.fmt(kpi.trir(2, hours)) == "n/a"


def test_ratios_by_hand_and_empty_denominators():
    assert kpi.near_miss_ratio(9, 3) == pytest.approx(3.0)
    assert kpi.near_miss_ratio(4, 0) is None  # no injury: ratio not available
    assert kpi.hazard_closure_rate(45, 50) == pytest.approx(90.0)
    assert kpi.on_time_rectification_rate(49, 50) == pytest.approx(98.0)
    assert kpi.training_coverage(7, 8) == pytest.approx(87.5)
    assert kpi.inspection_completion(29, 31) == pytest.approx(93.548387, rel=1e-6)
    for f in (kpi.hazard_closure_rate, kpi.on_time_rectification_rate, kpi.training_coverage,
              kpi.inspection_completion):
        assert f(0, 0) is None
    with pytest.raises(ValueError):
        kpi.trir(-1, 1000)


def test_leading_and_lagging_are_labelled():
    assert set(kpi.LAGGING) == {"trir", "dart", "ltifr", "severity_rate"}
    assert {"near_miss_ratio", "hazard_closure_rate", "on_time_rectification_rate", "training_coverage",
            "inspection_completion"} <= set(kpi.LEADING)
    assert all(k.kind in ("leading", "lagging") for k in kpi.KPIS)


def test_group_rollup_uses_sums_not_averages():
    a = KpiCounts(hours=100_000, recordable=2)
    b = KpiCounts(hours=300_000, recordable=1)
    g = kpi.rollup([a, b])
    assert (g.hours, g.recordable) == (400_000, 3)
    group = kpi.compute(g)["trir"]
    assert group == pytest.approx(3 * 200_000 / 400_000)  # 1.5
    mean_of_rates = statistics.mean([kpi.compute(a)["trir"], kpi.compute(b)["trir"]])  # (4.0 + 0.667) / 2
    assert mean_of_rates == pytest.approx(2.3333, rel=1e-3)
    assert group != pytest.approx(mean_of_rates)


def test_compute_without_hours_known():
    c = KpiCounts(hours=0, recordable=1, hazards_reported=4, hazards_closed=3, hours_known=False)
    v = kpi.compute(c)
    assert v["trir"] is None and v["hazard_rate"] is None
    assert v["hazard_closure_rate"] == pytest.approx(75.0)


def test_change_direction_and_benchmarks():
    assert kpi.change(2.0, 3.0, higher_is_better=False).direction == "better"
    assert kpi.change(95.0, 90.0, higher_is_better=True).direction == "better"
    assert kpi.change(80.0, 90.0, higher_is_better=True).direction == "worse"
    assert kpi.change(1.0, 1.0, higher_is_better=True).direction == "same"
    assert kpi.change(None, 1.0, higher_is_better=True).direction == "n/a"
    assert kpi.median_and_best([4.0, 1.0, None, 2.0], higher_is_better=False) == (2.0, 1.0)
    assert kpi.median_and_best([80.0, 90.0], higher_is_better=True) == (85.0, 90.0)
    assert kpi.median_and_best([None], higher_is_better=True) == (None, None)
