"""Risk matrix rules: the 5x5 classes, the counts per cell and the area heat map rows."""

from __future__ import annotations

import pandas as pd
import pytest

from qhse.domain import risk
from qhse.domain.performance import ResourcesCfg


@pytest.mark.parametrize("lk,cq,cls", [(1, 1, "low"), (2, 2, "low"), (1, 5, "medium"), (3, 3, "medium"),
                                       (2, 5, "high"), (4, 4, "high"), (4, 5, "extreme"), (5, 5, "extreme")])
def test_risk_matrix_classes(lk, cq, cls):
    assert risk.classify(lk, cq) == cls


def test_risk_matrix_counts():
    with pytest.raises(ValueError):
        risk.classify(0, 3)
    reg = pd.DataFrame({"likelihood": [5, 5, 1, 3], "consequence": [4, 4, 1, 2]})
    counts, classes = risk.matrix(reg)
    assert counts.loc[5, 4] == 2 and counts.loc[1, 1] == 1 and counts.loc[3, 2] == 1
    assert int(counts.values.sum()) == 4
    assert list(counts.index) == [5, 4, 3, 2, 1] and list(counts.columns) == [1, 2, 3, 4, 5]
    assert classes.loc[5, 4] == "extreme" and classes.loc[1, 1] == "low"


def test_heatmap_rows_sorted_by_site_then_index():
    areas = [
        dict(area_id=1, site_id=1, site_code="B", name="Store", code="ST", risk_class="C", hazards=1,
             hazards_by_severity={"low": 1}, alarms_by_severity={}, predicted_failures=None, ppe_violations=None),
        dict(area_id=2, site_id=1, site_code="B", name="Boiler", code="BO", risk_class="A", hazards=3,
             hazards_by_severity={"severe": 1, "high": 1, "low": 1}, alarms_by_severity={"critical": 2, "minor": 1},
             predicted_failures=0.4, ppe_violations=2),
        dict(area_id=3, site_id=2, site_code="A", name="Line", code="LN", risk_class="B", hazards=0,
             hazards_by_severity={}, alarms_by_severity={}, predicted_failures=0.0, ppe_violations=0),
    ]
    df = risk.heatmap(areas, ResourcesCfg())
    assert list(df["area_id"]) == [3, 2, 1]
    boiler = df[df["area_id"] == 2].iloc[0]
    assert boiler["severe_hazards"] == 2 and boiler["alarms"] == 3 and boiler["critical_alarms"] == 2
    assert boiler["index"] > df[df["area_id"] == 1].iloc[0]["index"]
    assert list(df.columns) == risk.HEATMAP_COLUMNS
    assert risk.heatmap([], ResourcesCfg()).empty
