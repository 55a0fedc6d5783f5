"""Equipment health and the models page against a real model trained on the seeded data."""

from __future__ import annotations

import json
import math

import pytest
import sqlalchemy as sa

from .helpers import assert_ok, open_page, texts

pytestmark = pytest.mark.slow


def test_equipment_ranks_scoped_machines_with_reasons(dash_env, dash_users, dash_engine, trained_model):
    at = open_page(dash_users["plant.manager"], "app_pages/equipment.py", state={"flt.period": "1m"})
    assert_ok(at)
    ranked = at.dataframe[0].value
    assert set(ranked["site"]) == {"SZ-ELEC"}
    probs = ranked["probability"].tolist()
    assert all(p is not None for p in probs) and probs == sorted(probs, reverse=True)
    charts = at.get("plotly_chart")
    wf = json.loads(charts[0].proto.spec)["data"][0]
    assert wf["type"] == "waterfall"
    top = ranked.iloc[0]
    # base + contributions (incl. "other features") = the model's margin for the shown probability
    assert math.isclose(sum(wf["x"][:-1]), math.log(top["probability"] / (1 - top["probability"])), abs_tol=1e-6)
    sensor_fig = json.loads(charts[-1].proto.spec)
    drawn = [s["y0"] for s in sensor_fig["layout"].get("shapes", [])]
    assert 7.1 in drawn and 4.5 in drawn  # vibration alarm and warning lines (ISO 10816)


def test_models_page_retrain_and_promote(dash_env, dash_users, dash_engine, dash_mlflow, trained_model):
    from ml.features import FEATURES
    from ml.monitoring import monitor

    pm = open_page(dash_users["plant.manager"], "app_pages/models.py")
    assert_ok(pm)
    assert f"v{trained_model['version']}" in [m.value for m in pm.metric]
    assert not [b for b in pm.button if b.key in ("models.train", "models.promote")]
    assert "for data scientists" in texts(pm)
    assert "No monitoring run yet" in texts(pm)

    # After a monitoring run the page shows its figures: drift of every feature with the PSI limit.
    monitor(dash_engine, store=dash_mlflow)
    import streamlit as st

    st.cache_data.clear()  # the page's reads are cached for two minutes
    pm = open_page(dash_users["plant.manager"], "app_pages/models.py")
    assert_ok(pm)
    mon = next(d.value for d in pm.dataframe if "subject" in d.value.columns)
    drift = mon[mon["kind"] == "drift"]
    assert set(drift["subject"]) == set(FEATURES) and set(drift["threshold"]) == {0.25}
    assert drift["value"].tolist() == sorted(drift["value"], reverse=True)

    at = open_page(dash_users["data.scientist"], "app_pages/models.py")
    assert_ok(at)
    at.button(key="models.train").click()
    at.run(timeout=600)
    assert_ok(at)
    with dash_engine.connect() as c:
        retrained = c.execute(sa.text("SELECT entity_id, detail FROM audit_log WHERE action = 'retrain_model' "
                                      "AND username = 'data.scientist'")).one()
    assert retrained.entity_id == "qhse-failure:2"

    at = open_page(dash_users["data.scientist"], "app_pages/models.py")
    versions = at.dataframe[1].value
    assert sorted(versions["version"]) == [1, 2]
    champion = int(at.metric[0].value.lstrip("v"))
    other = 1 if champion == 2 else 2
    at.selectbox(key="models.version").select(other)
    at.run()
    at.button(key="models.promote").click()
    at.run()
    assert "give a reason" in texts(at)
    at.text_input(key="models.reason").input("better recall on the press line")
    at.button(key="models.promote").click()
    at.run()
    assert_ok(at)
    assert at.metric[0].value == f"v{other}"
    with dash_engine.connect() as c:
        promo = c.execute(sa.text("SELECT entity_id, detail->>'reason' FROM audit_log "
                                  "WHERE action = 'promote_model'")).one()
    assert tuple(promo) == (f"qhse-failure:{other}", "better recall on the press line")
