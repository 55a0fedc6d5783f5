"""Resources: area risk index and the risk-based distribution of emergency resources
(gas detectors, breathing apparatus, extinguishers, spill kits) against what is stocked."""

from __future__ import annotations

import streamlit as st

from dashboard import core, kpi_charts
from qhse.services import kpi_views as kv

ctx = core.page_context()
f = ctx.filters
KINDS = {"gas_detector": ("Gas detectors", "气体检测仪"), "breathing_apparatus": ("Breathing apparatus", "空气呼吸器"),
         "extinguisher": ("Extinguishers", "灭火器"), "spill_kit": ("Spill kits", "泄漏应急包")}
COMPONENTS = {"risk_class": ("Risk class", "风险等级"), "hazards": ("Hazards", "隐患"), "alarms": ("Alarms", "报警"),
              "predicted_failures": ("Predicted failures", "预测故障"), "ppe_violations": ("PPE violations", "PPE 违规")}


def kind_label(k: str) -> str:
    return ctx.tr(*KINDS.get(k, (k.replace("_", " "), k)))


st.title(ctx.tr("Emergency resources", "应急资源配置"))
data = core.fetch(kv.resources_view, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids)
areas, rows, summary = data["areas"], data["rows"], data["summary"]
st.caption(ctx.tr(f"Risk over the {data['window_days']} days to {ctx.date(data['as_of'])}. Each plant's stock of a "
                  "kind is shared out by risk: every area that needs it first gets its minimum (qhse/domain/performance.yaml), "
                  "the rest goes where the risk index is higher.",
                  f"风险按截至 {ctx.date(data['as_of'])} 的 {data['window_days']} 天计算。各工厂每类资源按风险重新分配："
                  "需要该资源的区域先获得最低配置（qhse/domain/performance.yaml），其余按风险指数从高到低分配。"))
if areas.empty:
    st.info(ctx.t("no_data"))
    st.stop()

if not summary.empty:
    sv = summary.assign(resource=summary["resource"].map(kind_label))
    c = st.columns(4, border=True)
    c[0].metric(ctx.tr("Units stocked", "现有数量"), ctx.num(int(summary["stocked"].sum())))
    c[1].metric(ctx.tr("Units to move in (shortages)", "需补充（短缺）"), ctx.num(int(summary["shortage"].sum())))
    c[2].metric(ctx.tr("Units to move out (surplus)", "可调出（富余）"), ctx.num(int(summary["surplus"].sum())))
    c[3].metric(ctx.tr("To buy (below minimums)", "需采购（低于最低配置）"), ctx.num(int(summary["to_buy"].sum())))
    st.dataframe(sv[["site_code", "resource", "stocked", "recommended", "shortage", "surplus", "to_buy"]],
                 hide_index=True, width="stretch", key="res.summary",
                 column_config={"site_code": ctx.t("site"), "resource": ctx.tr("Resource", "资源"),
                                "stocked": ctx.tr("Stocked", "现有"), "recommended": ctx.tr("Recommended", "建议"),
                                "shortage": ctx.tr("Shortage", "短缺"), "surplus": ctx.tr("Surplus", "富余"),
                                "to_buy": ctx.tr("To buy", "需采购")})

av = areas.assign(label=areas["site_code"] + " · " + areas["name"])
st.plotly_chart(kpi_charts.risk_contributions(
    av, {f"points_{k}": ctx.tr(*v) for k, v in COMPONENTS.items()},
    ctx.tr("Area risk index (points per component)", "区域风险指数（各因素得分）")), key="res.risk")

kinds = list(dict.fromkeys(rows["resource"])) if not rows.empty else []
if kinds:
    kind = st.segmented_control(ctx.tr("Resource", "资源"), kinds, default=kinds[0], format_func=kind_label,
                                key="res.kind") or kinds[0]
    only_gaps = st.toggle(ctx.tr("Only areas with a gap or surplus", "只看有缺口或富余的区域"), key="res.gaps")
    part = rows[rows["resource"] == kind]
    part = part.assign(label=part["site_code"] + " · " + part["area"])
    st.plotly_chart(kpi_charts.stock_vs_recommended(
        part, f"{kind_label(kind)}: " + ctx.tr("stocked vs recommended", "现有与建议"),
        {"stocked": ctx.tr("Stocked", "现有"), "recommended": ctx.tr("Recommended", "建议")}), key="res.chart")
    shown = part[part["gap"] != 0] if only_gaps else part
    shown = shown.sort_values(["site_code", "risk_index"], ascending=[True, False])
    st.dataframe(shown[["site_code", "area", "risk_class", "risk_index", "minimum", "stocked", "recommended", "gap"]],
                 hide_index=True, width="stretch", key="res.table",
                 column_config={"site_code": ctx.t("site"), "area": ctx.t("area"),
                                "risk_class": ctx.tr("Class", "等级"),
                                "risk_index": st.column_config.ProgressColumn(ctx.tr("Risk index", "风险指数"),
                                                                              min_value=0, max_value=100,
                                                                              format="%.0f"),
                                "minimum": ctx.tr("Minimum", "最低配置"), "stocked": ctx.tr("Stocked", "现有"),
                                "recommended": ctx.tr("Recommended", "建议"),
                                "gap": st.column_config.NumberColumn(ctx.tr("Gap (+ bring, − move out)",
                                                                            "缺口（+补充，−调出）"), format="%+d")})
