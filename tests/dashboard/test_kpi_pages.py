"""AppTest: Scorecards, Site comparison and Emergency resources pages (scope, evidence, manual entry)."""

from __future__ import annotations

import datetime as dt
import json
import statistics

import pytest
import sqlalchemy as sa

from .conftest import site_id
from .helpers import assert_ok, open_page, texts

OCT, SEP = dt.date(2026, 10, 1), dt.date(2026, 9, 1)


@pytest.fixture(scope="module")
def scored(dash_engine):
    """Scorecards of September and October computed in the dashboard's database."""
    from qhse.services.scorecards import compute_month

    compute_month(dash_engine, SEP, tz="Asia/Shanghai")
    compute_month(dash_engine, OCT, tz="Asia/Shanghai")
    return dash_engine


def _codes(engine, ids) -> set[str]:
    with engine.connect() as c:
        return {r[0] for r in c.execute(sa.text("SELECT code FROM site WHERE id = ANY(:i)"), {"i": list(ids)})}


def test_scorecards_scoped_to_the_plant_with_evidence(dash_env, dash_users, scored):
    at = open_page(dash_users["plant.manager"], "app_pages/scorecards.py")
    assert_ok(at)
    assert at.selectbox(key="sc.month").value == OCT
    table = at.dataframe[0].value
    assert len(table) > 0
    assert all(u.startswith("SZ-ELEC") for u in table["unit"])  # a plant manager of SZ-ELEC sees nothing else
    # The evidence of the selected score is shown under the table.
    shown = texts(at)
    assert "Formula:" in shown
    assert len(at.dataframe) >= 2


def test_scorecards_manual_entry_is_recorded_and_audited(dash_env, dash_users, scored):
    eng = scored
    with eng.connect() as c:
        sid = c.execute(sa.text("""
            SELECT s.id FROM assessment_score s JOIN assessment_indicator i ON i.id = s.indicator_id
            JOIN department d ON d.id = s.unit_id JOIN site st ON st.id = d.site_id
            WHERE i.code = 'hazardous_waste_disposal_compliance' AND s.period = '2026-10-01'
              AND st.code = 'SZ-ELEC'""")).scalar_one()
    at = open_page(dash_users["plant.manager"], "app_pages/scorecards.py")
    at.selectbox(key="sc.detail").select(sid)
    at.run()
    assert_ok(at)
    at.number_input(key="sc.manual.value").set_value(90.0)
    at.text_input(key="sc.manual.by").input("Chen Jing")
    at.text_area(key="sc.manual.evidence").input("Manifests 2026-10-001..007; no. 005 lacks the receiver stamp")
    at.get("form_submit_button")[0].click()
    at.run()
    assert_ok(at)
    assert "Saved." in texts(at)
    with eng.connect() as c:
        row = c.execute(sa.text("SELECT value, rating, manual_entry_by FROM assessment_score WHERE id = :i"),
                        {"i": sid}).one()
        audit = c.execute(sa.text("SELECT user_id FROM audit_log WHERE action = 'manual_score_entry' "
                                  "AND entity_id = :i"), {"i": str(sid)}).scalars().all()
    assert (row.value, row.rating, row.manual_entry_by) == (90.0, "needs_improvement", "Chen Jing")
    assert dash_users["plant.manager"] in audit


def test_scorecards_read_only_role_sees_no_entry_form(dash_env, dash_users, scored):
    with scored.connect() as c:
        sid = c.execute(sa.text("""
            SELECT s.id FROM assessment_score s JOIN assessment_indicator i ON i.id = s.indicator_id
            WHERE i.code = 'hazardous_waste_disposal_compliance' AND s.period = '2026-10-01' LIMIT 1""")).scalar_one()
    at = open_page(dash_users["group.manager"], "app_pages/scorecards.py")
    at.selectbox(key="sc.detail").select(sid)
    at.run()
    assert_ok(at)
    assert not at.get("form_submit_button")
    assert "may view but not record" in texts(at)


def test_site_comparison_benchmarks_and_drill_down(dash_env, dash_users, dash_engine, scored):
    at = open_page(dash_users["group.manager"], "app_pages/site_comparison.py")
    assert_ok(at)
    table = at.dataframe[0].value
    plants = table.iloc[:-3]
    assert len(plants) == 3
    median = table[table["unit"] == "Group median"].iloc[0]
    best = table[table["unit"] == "Best"].iloc[0]
    vals = [v for v in plants["inspection_completion"] if v == v]
    assert median["inspection_completion"] == pytest.approx(statistics.median(vals))
    assert best["inspection_completion"] == pytest.approx(max(vals))
    trir = [v for v in plants["trir"] if v == v]
    assert best["trir"] == pytest.approx(min(trir))  # lower is better
    # Drill down: one plant's areas.
    sz = site_id(dash_engine, "SZ-ELEC")
    at.selectbox(key="cmp.site").select(sz)
    at.run()
    assert_ok(at)
    table = at.dataframe[0].value
    areas = table.iloc[:-3]
    assert len(areas) == 6
    # Hours worked are recorded per plant: the rates per hours are not shown for areas (no column of "None"),
    # every KPI shown has values, and a missing one is missing, never the text "None".
    assert "trir" not in table.columns and "hours" not in table.columns
    kpis = [c for c in table.columns if c != "unit"]
    assert {"hazard_closure_rate", "inspection_completion"} <= set(kpis)
    assert all(areas[c].notna().any() for c in kpis)
    assert not [v for c in kpis for v in table[c] if v is None or isinstance(v, str)]
    assert at.selectbox(key="cmp.kpi").options and "TRIR" not in " ".join(at.selectbox(key="cmp.kpi").options)
    # The chart: bars with values, and reference lines only where there is a value.
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(y is not None for y in _values(chart["data"][0]["y"]))
    assert all(s["y0"] is not None and s["y0"] == s["y0"] for s in chart["layout"].get("shapes", []))


def _values(v) -> list:
    """A plotly trace's values: a list, or the typed array (dtype + base64) plotly 6+ writes."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        return [None if x != x else float(x) for x in np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])]
    return list(v)


def test_site_comparison_scoped_plant_head(dash_env, dash_users, dash_engine, scored):
    at = open_page(dash_users["plant.head"], "app_pages/site_comparison.py")
    assert_ok(at)
    plants = at.dataframe[0].value.iloc[:-3]
    assert set(plants["unit"]) == {"Shenzhen Electronics Plant", "Dongguan Precision Instruments Plant"}


def test_resources_page_scoped_and_never_below_minimum(dash_env, dash_users, dash_engine):
    at = open_page(dash_users["plant.manager"], "app_pages/resources.py")
    assert_ok(at)
    summary = at.dataframe[0].value
    assert set(summary["site_code"]) == {"SZ-ELEC"}
    rows = at.dataframe[1].value
    assert set(rows["site_code"]) == {"SZ-ELEC"}
    assert (rows["recommended"] >= rows["minimum"]).all()
    at.toggle(key="res.gaps").set_value(True)
    at.run()
    assert_ok(at)
    assert (at.dataframe[1].value["gap"] != 0).all()
