"""Safety health index, site comparison and risk-based resource allocation."""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import pytest
import sqlalchemy as sa

from qhse.services import resources as res
from qhse.services.health_index import HealthInputs, combine, dimension_scores, health_index, health_ranking, rank
from qhse.domain.performance import (HealthIndexCfg, PerformanceConfig, PerformanceConfigError, ResourceKindCfg, ResourcesCfg,
                              load_performance_config)
from qhse.services.site_comparison import comparison

OCT = dt.date(2026, 10, 1)
TZ = "Asia/Shanghai"


# ---------------------------------------------------------------------------- health index
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


def test_department_ranking_on_seeded_data(seeded_engine):
    rows = health_ranking(seeded_engine, month=OCT, tz=TZ)
    ranked = [r for r in rows if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == sorted(r["rank"] for r in ranked)
    assert all(a["index"] >= b["index"] for a, b in zip(ranked, ranked[1:]))
    # One department recomputed by hand from its hazards.
    d = next(r for r in ranked if r["hazards"] >= 3)
    with seeded_engine.connect() as c:
        h = c.execute(sa.text("""
            SELECT count(*) AS n, count(*) FILTER (WHERE h.rectified_at < '2026-11-01 00:00+08') AS rect,
                   count(*) FILTER (WHERE h.is_repeat) AS rep,
                   avg(CASE h.severity WHEN 'low' THEN 0 WHEN 'normal' THEN 0.33 WHEN 'high' THEN 0.67 ELSE 1 END)
                       AS sev,
                   (SELECT count(*) FROM area WHERE department_id = :d) AS areas
            FROM hazard_report h JOIN area a ON a.id = h.area_id
            WHERE a.department_id = :d AND h.status <> 'rejected'
              AND h.reported_at >= '2026-10-01 00:00+08' AND h.reported_at < '2026-11-01 00:00+08'"""),
            {"d": d["unit_id"]}).one()
    dims = [100 * max(0, 1 - h.n / h.areas / 8), 100 * h.rect / h.n, 100 * (1 - h.rep / h.n), 100 * (1 - float(h.sev))]
    expected = sum(w * v for w, v in zip((0.25, 0.35, 0.20, 0.20), dims))
    assert d["index"] == pytest.approx(expected)
    # Change vs last month and rank change are reported.
    assert any(r["change"] is not None for r in ranked) and any(r["rank_change"] is not None for r in ranked)
    scoped = health_ranking(seeded_engine, month=OCT, scope=[1], tz=TZ)
    assert scoped and {r["site_id"] for r in scoped} == {1}


# ------------------------------------------------------------------------- site comparison
def test_site_comparison_benchmarks_and_scope(seeded_engine):
    c = comparison(seeded_engine, month=OCT, months=3, level="site")
    assert len(c.rows) == 3
    for code in ("trir", "hazard_closure_rate", "inspection_completion"):
        vals = [r[code] for r in c.rows if r[code] is not None]
        assert c.benchmarks[code]["median"] == pytest.approx(statistics.median(vals))
    assert c.benchmarks["trir"]["best"] == pytest.approx(min(r["trir"] for r in c.rows))
    assert c.benchmarks["hazard_closure_rate"]["best"] == pytest.approx(max(r["hazard_closure_rate"] for r in c.rows))
    assert all("health_index" in r for r in c.rows)
    # Local indicators of the plants (typhoon preparedness in the south, winter check in the east).
    local = {(x["site_code"], x["code"]) for x in c.local_indicators}
    assert ("SZ-ELEC", "typhoon_preparedness") in local and ("SU-MACH", "winter_heating_check") in local
    # Drill-down: region -> plants -> areas.
    regions = comparison(seeded_engine, month=OCT, level="region")
    assert len(regions.rows) == 2
    south = next(r for r in regions.rows if r["unit"] == "South China")
    plants = comparison(seeded_engine, month=OCT, level="site", parent=("region", south["key"]))
    assert len(plants.rows) == 2
    assert plants.total["hours"] == pytest.approx(south["hours"])
    areas = comparison(seeded_engine, month=OCT, level="area", parent=("site", 1))
    assert len(areas.rows) == 6 and all(r["trir"] is None for r in areas.rows)
    # Scope: a plant manager of site 1 sees one plant and only its local indicators.
    mine = comparison(seeded_engine, month=OCT, level="site", scope=[1])
    assert [r["key"] for r in mine.rows] == [1]
    assert {x["site_id"] for x in mine.local_indicators} == {1}
    with pytest.raises(ValueError):
        comparison(seeded_engine, month=OCT, level="area")


# ------------------------------------------------------------------------- resources
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


def test_recommendation_on_seeded_data(seeded_engine):
    as_of = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    cfg = PerformanceConfig().resources
    rec = res.recommend(seeded_engine, as_of=as_of)
    assert {a["site_id"] for a in rec.areas} == {1, 2, 3}
    risk = {a["area_id"]: a["risk_index"] for a in rec.areas}
    by = {}
    for r in rec.rows:
        by.setdefault((r["site_id"], r["resource"]), []).append(r)
    for (site, kind), rows in by.items():
        needed = [r for r in rows if r["needed"]]
        kc = cfg.kinds[kind]
        for r in needed:
            assert r["recommended"] >= kc.minimum
        for a in needed:
            for b in needed:
                if risk[a["area_id"]] > risk[b["area_id"]]:
                    assert a["recommended"] >= b["recommended"]
        for r in rows:
            if not r["needed"]:
                assert r["recommended"] == 0  # e.g. gas detectors outside gas areas are surplus
            assert r["gap"] == r["recommended"] - r["stocked"]
        s = next(x for x in rec.summary if x["site_id"] == site and x["resource"] == kind)
        assert s["recommended"] == max(s["stocked"], kc.minimum * len(needed))
    # Stock per area comes from emergency_resource.
    with seeded_engine.connect() as c:
        total = c.execute(sa.text("SELECT sum(quantity) FROM emergency_resource "
                                  "WHERE kind = 'extinguisher' AND area_id IS NOT NULL")).scalar()
    assert sum(r["stocked"] for r in rec.rows if r["resource"] == "extinguisher") == total
    # Scope: the same figures for a plant whatever else the caller may see.
    mine = res.recommend(seeded_engine, as_of=as_of, scope=[2])
    assert {a["site_id"] for a in mine.areas} == {2}
    assert {a["area_id"]: a["risk_index"] for a in mine.areas} == {a: v for a, v in risk.items()
                                                                  if a in {x["area_id"] for x in mine.areas}}


def test_minimum_from_config_is_respected(seeded_engine, tmp_path):
    cfg = PerformanceConfig(resources=ResourcesCfg(kinds={"extinguisher": ResourceKindCfg(minimum=6)}))
    rec = res.recommend(seeded_engine, as_of=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), config=cfg)
    assert rec.rows and all(r["recommended"] >= 6 for r in rec.rows if r["needed"])
    assert all(s["to_buy"] > 0 for s in rec.summary)  # 6 per area is more than any plant holds
    bad = tmp_path / "perf.yaml"
    bad.write_text("resources:\n  kinds:\n    extinguisher: {minimum: -1}\n")
    with pytest.raises(PerformanceConfigError, match="minimum"):
        load_performance_config(bad)
    bad.write_text("kpi:\n  include_contractor: true\n")
    with pytest.raises(PerformanceConfigError, match="include_contractor"):
        load_performance_config(bad)
