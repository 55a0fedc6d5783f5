"""Site comparison rules: drill-down levels and the median / best benchmarks."""

from __future__ import annotations

import pytest

from qhse.domain.kpi import KPIS
from qhse.domain.site_comparison import benchmarks, check_level


def test_levels():
    check_level("site", None)
    check_level("area", ("site", 3))
    with pytest.raises(ValueError, match="level must be one of"):
        check_level("plant", None)
    with pytest.raises(ValueError, match="needs a plant"):
        check_level("area", ("region", 1))


def test_benchmarks_median_and_best_by_direction():
    rows = [{k.code: None for k in KPIS} for _ in range(3)]
    for r, trir, closure in zip(rows, (1.0, 3.0, 2.0), (80.0, 95.0, None), strict=True):
        r["trir"], r["hazard_closure_rate"] = trir, closure
    b = benchmarks(rows)
    assert set(b) == {k.code for k in KPIS}
    assert b["trir"]["median"] == pytest.approx(2.0) and b["trir"]["best"] == pytest.approx(1.0)
    assert b["hazard_closure_rate"]["best"] == pytest.approx(95.0)
    assert b["hazard_closure_rate"]["median"] == pytest.approx(87.5)
    assert b["trir"]["higher_is_better"] is False
