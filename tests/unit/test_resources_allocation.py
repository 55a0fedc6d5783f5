"""Resource distribution rules: the area risk index by hand and the allocation (minimums, more where
risk is higher, largest remainders)."""

from __future__ import annotations

import numpy as np
import pytest

from qhse.domain import resources as res
from qhse.domain.performance import ResourceKindCfg, ResourcesCfg


def test_allocate_by_hand():
    # 10 units, minimum 1 each; the 7 left go 10:5:0 -> 4.67, 2.33, 0 -> 4, 2, 0 + the remainder to the largest part
    assert res.allocate(10, {"a": 10.0, "b": 5.0, "c": 0.0}, {"a": 1, "b": 1, "c": 1}) == {"a": 6, "b": 3, "c": 1}
    # Fewer units than the minimums need: every area gets its minimum (the gap is bought).
    assert res.allocate(2, {"a": 9.0, "b": 1.0, "c": 5.0}, {"a": 1, "b": 1, "c": 1}) == {"a": 1, "b": 1, "c": 1}
    # No risk anywhere: shared evenly.
    assert res.allocate(6, {"a": 0.0, "b": 0.0, "c": 0.0}, {}) == {"a": 2, "b": 2, "c": 2}
    assert res.allocate(5, {}, {}) == {}
    with pytest.raises(ValueError):
        res.allocate(-1, {"a": 1.0}, {"a": 0})


def test_allocate_more_where_risk_is_higher_never_below_minimum():
    rng = np.random.default_rng(3)
    for _ in range(500):
        n = int(rng.integers(1, 9))
        risks = {i: float(rng.choice([0.0, rng.uniform(0, 100)])) for i in range(n)}
        mins = {i: int(rng.integers(0, 4)) for i in range(n)}
        total = int(rng.integers(0, 40))
        out = res.allocate(total, risks, mins)
        assert sum(out.values()) == max(total, sum(mins.values()))
        for i in range(n):
            assert out[i] >= mins[i]
            for j in range(n):
                if mins[i] == mins[j] and risks[i] > risks[j]:
                    assert out[i] >= out[j], (risks, mins, total, out)


def test_risk_index_by_hand():
    cfg = ResourcesCfg()  # weights .35 class, .2 hazards, .15 alarms, .15 predicted failures, .15 PPE
    areas = [
        dict(area_id=1, site_id=1, risk_class="A", hazards_by_severity={"high": 2, "low": 2},
             alarms_by_severity={"critical": 2}, predicted_failures=0.5, ppe_violations=2),
        dict(area_id=2, site_id=1, risk_class="C", hazards_by_severity={"high": 1, "low": 1},
             alarms_by_severity={}, predicted_failures=0.0, ppe_violations=0),
    ]
    r = res.risk_indices(areas, cfg)
    # Area 1 has the peak of every count component: 100 x (.35 x 1.0 + .2 + .15 + .15 + .15) = 100
    assert r[1]["index"] == pytest.approx(100.0)
    # Area 2: class C scores .25, hazards (4 + 1 = 5) are half of area 1's (8 + 2 = 10), nothing else
    assert r[2]["index"] == pytest.approx(100 * (0.35 * 0.25 + 0.20 * 0.5))  # 18.75
    assert sum(r[2]["contributions"].values()) == pytest.approx(r[2]["index"])


def test_recommendation_from_inputs_per_plant():
    cfg = ResourcesCfg(kinds={"gas_detector": ResourceKindCfg(minimum=1, gas_areas_only=True)})
    areas = [
        dict(area_id=1, site_id=1, risk_class="A", is_gas_area=True, hazards_by_severity={"high": 3},
             stocked={"gas_detector": 1}),
        dict(area_id=2, site_id=1, risk_class="C", is_gas_area=True, stocked={"gas_detector": 4}),
        dict(area_id=3, site_id=1, risk_class="B", is_gas_area=False, stocked={"gas_detector": 1}),
    ]
    rows_a, rows, summary = res.recommend_from_inputs(areas, cfg)
    by = {r["area_id"]: r for r in rows}
    assert by[3]["needed"] is False and by[3]["recommended"] == 0 and by[3]["gap"] == -1
    assert by[1]["recommended"] >= by[2]["recommended"] >= 1
    assert by[1]["recommended"] + by[2]["recommended"] == 6  # the plant's stock is shared out
    assert summary == [dict(site_id=1, site_code=None, resource="gas_detector", stocked=6, recommended=6,
                            shortage=by[1]["gap"] + max(by[2]["gap"], 0), surplus=1 + max(-by[2]["gap"], 0),
                            to_buy=0)]
    assert {a["area_id"] for a in rows_a} == {1, 2, 3}
