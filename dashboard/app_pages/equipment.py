"""Equipment health: machines ranked by predicted failure probability with SHAP reasons; sensor history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, core
from db.queries import equipment as eq
from qhse.domain.explain import waterfall_steps
from qhse.vocab import RiskBand

ctx = core.page_context()
f = ctx.filters
BANDS = (RiskBand.CRITICAL, RiskBand.HIGH, RiskBand.MEDIUM, RiskBand.LOW)
BAND_COLOR = {"critical": "red", "high": "orange", "medium": "yellow", "low": "green"}

ranked = core.fetch(eq.ranked_assets, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids)
ranked["probability"] = pd.to_numeric(ranked["probability"], errors="coerce")
scored = ranked[ranked["probability"].notna()]

if ranked.empty:
    st.info(ctx.t("no_data"))
    st.stop()

if scored.empty:
    st.info(ctx.t("equipment.no_failure_prediction_yet_a_data"))
else:
    last = scored["scored_at"].max()
    counts = scored["risk_band"].value_counts()
    cols = st.columns(4, border=True)
    for col, band in zip(cols, BANDS, strict=True):
        col.metric(f":{BAND_COLOR[band]}[●] {ctx.label('equipment.band', band)}", ctx.num(int(counts.get(band, 0))))
    st.caption(ctx.t("equipment.scored_by_model", last=ctx.datetime(last), model=scored['model_name'].iloc[0],
                     version=scored['model_version'].iloc[0], days=int(scored['horizon_days'].iloc[0])))

view = ranked.assign(
    band=[ctx.label("equipment.band", b) if isinstance(b, str) else "-" for b in ranked["risk_band"]],
    reason=[(c[0]["feature"] + (" ↑" if c[0]["contribution"] > 0 else " ↓")) if isinstance(c, list) and c else "-"
            for c in ranked["contributions"]],
    scored_at=ranked["scored_at"].map(ctx.datetime))
st.dataframe(view, hide_index=True, width="stretch",
             column_order=["code", "name", "site", "area", "probability", "band", "reason", "scored_at"],
             column_config={"code": ctx.t("asset"), "name": ctx.t("item_name"), "site": ctx.t("site"),
                            "area": ctx.t("area"),
                            "probability": st.column_config.ProgressColumn(ctx.t("failure_probability"),
                                                                           min_value=0.0, max_value=1.0,
                                                                           format="percent"),
                            "band": ctx.t("risk_band"), "reason": ctx.t("equipment.main_reason"),
                            "scored_at": ctx.t("scored")})

labels = {int(r.asset_id): f"{r.code} · {r.name}"
          + (f" ({float(r.probability):.0%})" if pd.notna(r.probability) else "")
          for r in ranked.itertuples()}
asset_id = st.selectbox(ctx.t("equipment.machine"), list(labels), format_func=labels.get, key="eq.asset")
row = ranked[ranked["asset_id"] == asset_id].iloc[0]

c1, c2 = st.columns(2)
with c1:
    if pd.notna(row["probability"]):
        base, steps, margin = waterfall_steps(row["probability"], row["base_value"], row["contributions"],
                                              other_label=ctx.t("equipment.other_features"))
        st.plotly_chart(charts.waterfall(base, steps, margin,
                                         ctx.t("equipment.why_code_probability_1_shap_log", code=row['code'],
                                               probability=row['probability']),
                                         ctx.t("equipment.base_value"), ctx.t("equipment.model_output")),
                        key="eq.waterfall")
        st.caption(ctx.t("equipment.red_bars_push_the_probability_up"))
    else:
        st.info(ctx.t("equipment.this_machine_has_no_prediction_yet"))
with c2:
    hist = core.fetch(eq.prediction_history, ctx.scope, int(asset_id), since=f.prev_start)
    if len(hist) > 1:
        st.plotly_chart(charts.lines(hist.assign(probability=hist["probability"] * 100), "scored_at",
                                     {"probability": ctx.t("equipment.failure_probability")},
                                     ctx.t("equipment.predicted_probability_over_time"), "%"), key="eq.hist")

st.divider()
st.subheader(ctx.t("equipment.sensor_history"))
sens = core.fetch(eq.sensors, ctx.scope, asset_id=int(asset_id), ttl="slow")
if sens.empty:
    st.info(ctx.t("equipment.no_sensor_on_this_machine"))
else:
    s_labels = {int(r.id): f"{r.kind} ({r.unit}) · {r.code}" for r in sens.itertuples()}
    default = next((i for i, r in zip(sens["id"], sens["kind"], strict=False) if r == "vibration"),
                   int(sens["id"].iloc[0]))
    if st.session_state.get("eq.sensor") not in s_labels:
        st.session_state["eq.sensor"] = int(default)
    sensor_id = st.selectbox(ctx.t("sensor"), list(s_labels), format_func=s_labels.get, key="eq.sensor")
    srow = sens[sens["id"] == sensor_id].iloc[0]
    res, df = core.fetch(eq.sensor_history, ctx.scope, int(sensor_id), start=f.start, end=f.end)
    if df.empty:
        st.info(ctx.t("no_data"))
    else:
        labels_ = {"range": ctx.t("equipment.min_max"), "mean": ctx.t("equipment.mean"),
                   "warn_low": ctx.t("equipment.warning"), "warn_high": ctx.t("equipment.warning"),
                   "alarm_low": ctx.t("equipment.alarm"), "alarm_high": ctx.t("equipment.alarm")}
        per = ctx.t("equipment.hourly") if res == "hour" else ctx.t("equipment.daily")
        st.plotly_chart(charts.sensor_history(
            df, f"{srow['code']} · {per}", srow["unit"],
            {k: srow[k] for k in ("warn_low", "warn_high", "alarm_low", "alarm_high")}, labels_), key="eq.sensor_chart")
        st.caption(ctx.t("equipment.readings_summarised", readings=ctx.num(int(df['n'].sum())),
                         buckets=ctx.num(len(df)), res=res, per=per))
