"""Safety health index rules: dimensions by hand, weights, ranking with ties, month-on-month change."""

from __future__ import annotations

import datetime as dt

import pytest

from qhse.domain.health_index import HealthInputs, combine, dimension_scores, health_index, rank, ranking
from qhse.domain.performance import HealthIndexCfg


def test_health_index_by_hand():
    cfg = HealthIndexCfg()  # weights .25 / .35 / .20 / .20, density 0 at 8 per area-month
    inp = HealthInputs(hazards=4, areas=2, rectified=3, repeats=1,
                       severity={"low": 1, "normal": 1, "high": 1, "severe": 1})
    s = dimension_scores(inp, cfg)
    assert s["hazard_density"] == pytest.approx(75.0)  # 2 per area: 100 x (1 - 2/8)
    assert s["rectification_rate"] == pytest.approx(75.0)
    assert s["repeat_rate"] == pytest.approx(75.0)
    assert s["severity_mix"] == pytest.approx(50.0)  # mean weight (0 + .33 + .67 + 1) / 4 = .5
    idx, _ = health_index(inp, cfg)
    assert idx == pytest.approx(0.25 * 75 + 0.35 * 75 + 0.20 * 75 + 0.20 * 50)  # 70.0


def test_health_index_without_hazards_and_custom_weights():
    cfg = HealthIndexCfg()
    idx, s = health_index(HealthInputs(hazards=0, areas=3), cfg)
    assert idx == pytest.approx(100.0) and s["rectification_rate"] is None
    assert health_index(HealthInputs(hazards=0, areas=0), cfg)[0] is None
    assert dimension_scores(HealthInputs(hazards=40, areas=2), cfg)["hazard_density"] == 0.0  # capped at 0
    only_rect = {"hazard_density": 0, "rectification_rate": 1, "repeat_rate": 0, "severity_mix": 0}
    assert combine({"hazard_density": 10, "rectification_rate": 80, "repeat_rate": 5, "severity_mix": 5},
                   only_rect) == pytest.approx(80.0)
    with pytest.raises(ValueError):
        HealthIndexCfg(weights={"hazard_density": 0, "rectification_rate": 0, "repeat_rate": 0, "severity_mix": 0})


def test_ranking_with_ties():
    assert rank({"a": 90.0, "b": 75.0, "c": 90.0, "d": None, "e": 10.0}) == {"a": 1, "c": 1, "b": 3, "e": 4,
                                                                            "d": None}


def _counts(unit, hazards, rect, areas=1):
    return {"unit": unit, "site_id": 1, "site_code": "S", "stage": "general", "hazards": hazards, "areas": areas,
            "rectified": rect, "repeats": 0, "sev_low": hazards, "sev_normal": 0, "sev_high": 0, "sev_severe": 0}


def test_ranking_reports_rank_and_change_against_last_month():
    month = dt.date(2026, 10, 1)
    cur = {1: _counts("A", 2, 2), 2: _counts("B", 2, 0), 3: _counts("C", 0, 0, areas=0)}
    prev = {1: _counts("A", 2, 0), 2: _counts("B", 2, 2)}
    rows = ranking(cur, prev, month, HealthIndexCfg())
    assert [r["unit"] for r in rows] == ["A", "B", "C"]  # unranked (no data) last
    a, b, c = rows
    assert a["rank"] == 1 and a["previous_rank"] == 2 and a["rank_change"] == 1
    assert b["rank"] == 2 and b["rank_change"] == -1
    assert a["change"] == pytest.approx(a["index"] - a["previous_index"]) and a["change"] > 0
    assert c["index"] is None and c["rank"] is None and c["change"] is None
    assert a["month"] == month and a["score_rectification_rate"] == pytest.approx(100.0)
