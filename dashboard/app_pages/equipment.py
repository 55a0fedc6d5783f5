"""Equipment health: machines ranked by predicted failure probability with SHAP reasons; sensor history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, core
from db.queries import equipment as eq
from qhse.domain.explain import waterfall_steps

ctx = core.page_context()
f = ctx.filters
BAND = {"critical": ("critical", "危急"), "high": ("high", "高"), "medium": ("medium", "中"), "low": ("low", "低")}
BAND_COLOR = {"critical": "red", "high": "orange", "medium": "yellow", "low": "green"}

st.title(ctx.tr("Equipment health", "设备健康"))
ranked = core.fetch(eq.ranked_assets, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids)
ranked["probability"] = pd.to_numeric(ranked["probability"], errors="coerce")
scored = ranked[ranked["probability"].notna()]

if ranked.empty:
    st.info(ctx.t("no_data"))
    st.stop()

if scored.empty:
    st.info(ctx.tr("No failure prediction yet. A data scientist trains a model (`qhse ml train`) and the worker "
                   "scores the machines (`qhse ml score`).",
                   "尚无故障预测。请数据科学家训练模型（`qhse ml train`），再由后台任务评分（`qhse ml score`）。"))
else:
    last = scored["scored_at"].max()
    counts = scored["risk_band"].value_counts()
    cols = st.columns(4, border=True)
    for col, band in zip(cols, BAND):
        col.metric(f":{BAND_COLOR[band]}[●] {ctx.tr(*BAND[band])}", ctx.num(int(counts.get(band, 0))))
    st.caption(ctx.tr(f"Scored {ctx.datetime(last)} by {scored['model_name'].iloc[0]} v{scored['model_version'].iloc[0]}; "
                      f"probability of a failure within {int(scored['horizon_days'].iloc[0])} days.",
                      f"评分时间 {ctx.datetime(last)}，模型 {scored['model_name'].iloc[0]} v{scored['model_version'].iloc[0]}；"
                      f"{int(scored['horizon_days'].iloc[0])} 天内发生故障的概率。"))

view = ranked.assign(
    band=[ctx.tr(*BAND[b]) if isinstance(b, str) else "-" for b in ranked["risk_band"]],
    reason=[(c[0]["feature"] + (" ↑" if c[0]["contribution"] > 0 else " ↓")) if isinstance(c, list) and c else "-"
            for c in ranked["contributions"]],
    scored_at=ranked["scored_at"].map(ctx.datetime))
st.dataframe(view, hide_index=True, width="stretch",
             column_order=["code", "name", "site", "area", "probability", "band", "reason", "scored_at"],
             column_config={"code": ctx.t("asset"), "name": ctx.tr("Name", "名称"), "site": ctx.t("site"),
                            "area": ctx.t("area"),
                            "probability": st.column_config.ProgressColumn(ctx.tr("Failure probability", "故障概率"),
                                                                           min_value=0.0, max_value=1.0,
                                                                           format="percent"),
                            "band": ctx.tr("Risk band", "风险等级"), "reason": ctx.tr("Main reason", "主要原因"),
                            "scored_at": ctx.tr("Scored", "评分时间")})

labels = {int(r.asset_id): f"{r.code} · {r.name}" + (f" ({float(r.probability):.0%})" if pd.notna(r.probability) else "")
          for r in ranked.itertuples()}
asset_id = st.selectbox(ctx.tr("Machine", "设备"), list(labels), format_func=labels.get, key="eq.asset")
row = ranked[ranked["asset_id"] == asset_id].iloc[0]

c1, c2 = st.columns(2)
with c1:
    if pd.notna(row["probability"]):
        base, steps, margin = waterfall_steps(row["probability"], row["base_value"], row["contributions"],
                                              other_label=ctx.tr("other features", "其他特征"))
        st.plotly_chart(charts.waterfall(base, steps, margin,
                                         ctx.tr(f"Why {row['code']}: {row['probability']:.1%} (SHAP, log-odds)",
                                                f"{row['code']} 的原因：{row['probability']:.1%}（SHAP，对数几率）"),
                                         ctx.tr("base value", "基准值"), ctx.tr("model output", "模型输出")),
                        key="eq.waterfall")
        st.caption(ctx.tr("Red bars push the probability up, green bars pull it down.",
                          "红色条提高故障概率，绿色条降低故障概率。"))
    else:
        st.info(ctx.tr("This machine has no prediction yet.", "该设备尚无预测。"))
with c2:
    hist = core.fetch(eq.prediction_history, ctx.scope, int(asset_id), since=f.prev_start)
    if len(hist) > 1:
        st.plotly_chart(charts.lines(hist.assign(probability=hist["probability"] * 100), "scored_at",
                                     {"probability": ctx.tr("failure probability", "故障概率")},
                                     ctx.tr("Predicted probability over time", "预测概率变化"), "%"), key="eq.hist")

st.divider()
st.subheader(ctx.tr("Sensor history", "传感器历史"))
sens = core.fetch(eq.sensors, ctx.scope, asset_id=int(asset_id), ttl="slow")
if sens.empty:
    st.info(ctx.tr("No sensor on this machine.", "该设备没有传感器。"))
else:
    s_labels = {int(r.id): f"{r.kind} ({r.unit}) · {r.code}" for r in sens.itertuples()}
    default = next((i for i, r in zip(sens["id"], sens["kind"]) if r == "vibration"), int(sens["id"].iloc[0]))
    if st.session_state.get("eq.sensor") not in s_labels:
        st.session_state["eq.sensor"] = int(default)
    sensor_id = st.selectbox(ctx.t("sensor"), list(s_labels), format_func=s_labels.get, key="eq.sensor")
    srow = sens[sens["id"] == sensor_id].iloc[0]
    res, df = core.fetch(eq.sensor_history, ctx.scope, int(sensor_id), start=f.start, end=f.end)
    if df.empty:
        st.info(ctx.t("no_data"))
    else:
        labels_ = {"range": ctx.tr("min-max", "最小-最大"), "mean": ctx.tr("mean", "均值"),
                   "warn_low": ctx.tr("warning", "预警"), "warn_high": ctx.tr("warning", "预警"),
                   "alarm_low": ctx.tr("alarm", "报警"), "alarm_high": ctx.tr("alarm", "报警")}
        per = ctx.tr("hourly", "每小时") if res == "hour" else ctx.tr("daily", "每日")
        st.plotly_chart(charts.sensor_history(
            df, f"{srow['code']} · {per}", srow["unit"],
            {k: srow[k] for k in ("warn_low", "warn_high", "alarm_low", "alarm_high")}, labels_), key="eq.sensor_chart")
        st.caption(ctx.tr(f"{ctx.num(int(df['n'].sum()))} readings summarised in {ctx.num(len(df))} {res} buckets.",
                          f"{ctx.num(int(df['n'].sum()))} 条读数汇总为 {ctx.num(len(df))} 个{per}数据点。"))
