"""Resources: area risk index and the risk-based distribution of emergency resources
(gas detectors, breathing apparatus, extinguishers, spill kits) against what is stocked."""

from __future__ import annotations

import streamlit as st

from dashboard import core, kpi_charts
from qhse.services import kpi_views as kv

ctx = core.page_context()
f = ctx.filters
COMPONENTS = ("risk_class", "hazards", "alarms", "predicted_failures", "ppe_violations")


def kind_label(k: str) -> str:
    return ctx.label("resource_kind", k, default=k if ctx.locale == "zh" else k.replace("_", " "))


data = core.fetch(kv.resources_view, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids)
areas, rows, summary = data["areas"], data["rows"], data["summary"]
st.caption(ctx.t("resources.risk_over_the_window_days_days", window_days=data['window_days'],
                 as_of=ctx.date(data['as_of'])))
if areas.empty:
    st.info(ctx.t("no_data"))
    st.stop()

if not summary.empty:
    sv = summary.assign(resource=summary["resource"].map(kind_label))
    c = st.columns(4, border=True)
    c[0].metric(ctx.t("resources.units_stocked"), ctx.num(int(summary["stocked"].sum())))
    c[1].metric(ctx.t("resources.units_to_move_in_shortages"), ctx.num(int(summary["shortage"].sum())))
    c[2].metric(ctx.t("resources.units_to_move_out_surplus"), ctx.num(int(summary["surplus"].sum())))
    c[3].metric(ctx.t("resources.to_buy_below_minimums"), ctx.num(int(summary["to_buy"].sum())))
    st.dataframe(sv[["site_code", "resource", "stocked", "recommended", "shortage", "surplus", "to_buy"]],
                 hide_index=True, width="stretch", key="res.summary",
                 column_config={"site_code": ctx.t("site"), "resource": ctx.t("resources.resource"),
                                "stocked": ctx.t("resources.stocked"), "recommended": ctx.t("resources.recommended"),
                                "shortage": ctx.t("resources.shortage"), "surplus": ctx.t("resources.surplus"),
                                "to_buy": ctx.t("resources.to_buy")})

av = areas.assign(label=areas["site_code"] + " · " + areas["name"])
st.plotly_chart(kpi_charts.risk_contributions(
    av, {f"points_{k}": ctx.label("resources.component", k) for k in COMPONENTS},
    ctx.t("resources.area_risk_index_points_per_component")), key="res.risk")

kinds = list(dict.fromkeys(rows["resource"])) if not rows.empty else []
if kinds:
    kind = st.segmented_control(ctx.t("resources.resource"), kinds, default=kinds[0], format_func=kind_label,
                                key="res.kind") or kinds[0]
    only_gaps = st.toggle(ctx.t("resources.only_areas_with_a_gap_or"), key="res.gaps")
    part = rows[rows["resource"] == kind]
    part = part.assign(label=part["site_code"] + " · " + part["area"])
    st.plotly_chart(kpi_charts.stock_vs_recommended(
        part, f"{kind_label(kind)}: " + ctx.t("resources.stocked_vs_recommended"),
        {"stocked": ctx.t("resources.stocked"), "recommended": ctx.t("resources.recommended")}), key="res.chart")
    shown = part[part["gap"] != 0] if only_gaps else part
    shown = shown.sort_values(["site_code", "risk_index"], ascending=[True, False])
    st.dataframe(shown[["site_code", "area", "risk_class", "risk_index", "minimum", "stocked", "recommended", "gap"]],
                 hide_index=True, width="stretch", key="res.table",
                 column_config={"site_code": ctx.t("site"), "area": ctx.t("area"),
                                "risk_class": ctx.t("resources.class"),
                                "risk_index": st.column_config.ProgressColumn(ctx.t("risk_index"),
                                                                              min_value=0, max_value=100,
                                                                              format="%.0f"),
                                "minimum": ctx.t("resources.minimum"), "stocked": ctx.t("resources.stocked"),
                                "recommended": ctx.t("resources.recommended"),
                                "gap": st.column_config.NumberColumn(ctx.t("resources.gap_bring_move_out"),
                                                                     format="%+d")})
