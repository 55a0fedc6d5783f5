"""Safety health index, site comparison and risk-based resource allocation on seeded data (the rules
without a database: tests/unit/test_health_index.py, tests/unit/test_resources_allocation.py)."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
import sqlalchemy as sa

from qhse.domain.performance import (
    PerformanceConfig,
    PerformanceConfigError,
    ResourceKindCfg,
    ResourcesCfg,
)
from qhse.services import resources as res
from qhse.services.health_index import health_ranking
from qhse.services.performance import load_performance_config
from qhse.services.site_comparison import comparison

OCT = dt.date(2026, 10, 1)
TZ = "Asia/Shanghai"


# ---------------------------------------------------------------------------- health index
def test_department_ranking_on_seeded_data(seeded_engine):
    rows = health_ranking(seeded_engine, month=OCT, tz=TZ)
    ranked = [r for r in rows if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == sorted(r["rank"] for r in ranked)
    assert all(a["index"] >= b["index"] for a, b in zip(ranked, ranked[1:], strict=False))
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
    expected = sum(w * v for w, v in zip((0.25, 0.35, 0.20, 0.20), dims, strict=True))
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
