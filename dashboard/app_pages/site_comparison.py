"""Site comparison: the same KPIs side by side per region, plant or area, against the group
median and the best, normalised per hours worked; plants' health ranking and local indicators."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import core, kpi_charts
from qhse.services import kpi_views as kv

ctx = core.page_context()
f = ctx.filters
month = core.add_months(f.end_month, -1)

st.caption(ctx.period_caption())

tree = core.fetch(kv.drill_hierarchy, ctx.scope, ttl="slow")
regions = {r["id"]: r for r in tree}
c1, c2, c3 = st.columns(3)
region_id = c1.selectbox(ctx.t("site_comparison.region"), [None, *regions],
                         format_func=lambda r: (ctx.t("site_comparison.whole_group") if r is None
                                                else regions[r]["name"]),
                         key="cmp.region")
plants = [s for r in tree for s in r["sites"] if region_id is None or r["id"] == region_id]
plant_names = {s["id"]: f"{s['code']} · {s['name']}" for s in plants}
site_id = c2.selectbox(ctx.t("site_comparison.plant"), [None, *plant_names],
                       format_func=lambda s: ctx.t("site_comparison.all_plants") if s is None else plant_names[s],
                       key="cmp.site")
if site_id is not None:
    level = "area"
    c3.markdown(ctx.t("site_comparison.comparing_the_plant_s_areas"))
else:
    level = c3.segmented_control(ctx.t("site_comparison.compare"), ["site", "region"], default="site",
                                 format_func=lambda v: (ctx.t("site_comparison.plants") if v == "site"
                                                        else ctx.t("site_comparison.regions")),
                                 key="cmp.level") or "site"

data = core.fetch(kv.comparison_view, ctx.scope, month=month, months=f.months, level=level, region_id=region_id,
                  site_id=site_id, site_ids=f.site_ids)
legend = kv.kpi_legend()
rows: pd.DataFrame = data["rows"]
if rows.empty:
    st.info(ctx.t("no_data"))
    st.stop()
if level == "area":
    st.info(ctx.t("site_comparison.hours_worked_are_recorded_per_plant"))

codes = legend["code"].tolist()
if level == "area":
    # Areas have no hours worked: the rates per hours are empty for every area; only what has values is shown.
    codes = [c for c in codes if rows[c].notna().any()]
    legend = legend[legend["code"].isin(codes)]
name = {r.code: f"{r.short}" for r in legend.itertuples()}
cols = ["unit", *(["hours"] if rows["hours"].notna().any() else []), *codes]
table = rows[cols].copy()
bench = data["benchmarks"].set_index("code")
extra = pd.DataFrame([
    {"unit": ctx.t("site_comparison.group_median"), "hours": float("nan"),
     **{c: bench.loc[c, "median"] for c in codes}},
    {"unit": ctx.t("site_comparison.best"), "hours": float("nan"), **{c: bench.loc[c, "best"] for c in codes}},
    {"unit": ctx.t("site_comparison.total_from_summed_hours_and_cases"),
     "hours": data["total"].get("hours"), **{c: data["total"].get(c) for c in codes}},
])
table = pd.concat([table, extra[cols]], ignore_index=True)
colcfg = {"unit": ctx.t("site_comparison.unit"),
          "hours": st.column_config.NumberColumn(ctx.t("hours_worked"), format="%.0f")}
for r in legend.itertuples():
    colcfg[r.code] = st.column_config.NumberColumn(
        f"{r.short} ({ctx.label('site_comparison.kind', r.kind)})", format="%.1f" if r.unit == "%" else "%.2f",
        help=f"{r.label}: {r.formula}. " + (ctx.t("site_comparison.higher_is_better") if r.higher_is_better
                                           else ctx.t("site_comparison.lower_is_better")))
st.dataframe(table, hide_index=True, width="stretch", key="cmp.table", column_config=colcfg)
st.caption(ctx.t("site_comparison.rates_are_per_hours_worked_trir"))

pick = st.selectbox(ctx.t("site_comparison.chart"), codes, index=0, key="cmp.kpi",
                    format_func=lambda c: name[c] if name[c] == legend.set_index("code").loc[c, "label"]
                    else f"{name[c]} — {legend.set_index('code').loc[c, 'label']}")
st.plotly_chart(kpi_charts.kpi_bars(
    rows, "label", pick, bench.loc[pick, "median"], bench.loc[pick, "best"], name[pick],
    {"median": ctx.t("site_comparison.group_median_2"), "best": ctx.t("site_comparison.best_2")},
    legend.set_index("code").loc[pick, "unit"]), key="cmp.chart")

left, right = st.columns(2)
with left:
    st.subheader(ctx.t("site_comparison.safety_health_index_of_the_plants"))
    health = data["health"]
    if health.empty:
        st.caption(ctx.t("site_comparison.shown_when_comparing_plants_or_regions"))
    else:
        hv = health.assign(rank_change=health["rank_change"].map(
            lambda x: "–" if x is None or x != x else (f"▲ {int(x)}" if x > 0 else (f"▼ {-int(x)}" if x < 0 else "="))))
        st.dataframe(hv[["rank", "site_code", "index", "change", "rank_change"]], hide_index=True,
                     width="stretch", key="cmp.health",
                     column_config={"rank": ctx.t("rank"), "site_code": ctx.t("site"),
                                    "index": st.column_config.ProgressColumn(ctx.t("index"), min_value=0,
                                                                             max_value=100, format="%.1f"),
                                    "change": st.column_config.NumberColumn(ctx.vs_last_month(month),
                                                                            format="%+.1f"),
                                    "rank_change": ctx.t("rank_change")})
with right:
    st.subheader(ctx.t("site_comparison.local_indicators"))
    local = data["local"]
    if local.empty:
        st.caption(ctx.t("site_comparison.no_plant_in_this_selection_defines"))
    else:
        lv = local.assign(indicator=[zh if ctx.locale == "zh" and zh else en
                                     for en, zh in zip(local["name"], local["name_zh"], strict=False)],
                          rating=local["rating"].map(lambda r: ctx.label("site_comparison.rating", r)),
                          period=local["period"].map(lambda p: ctx.month(p) if p is not None and p == p else "–"))
        st.dataframe(lv[["site_code", "indicator", "value", "rating", "period", "manual_entry_by"]], hide_index=True,
                     width="stretch", key="cmp.local",
                     column_config={"site_code": ctx.t("site"), "indicator": ctx.t("indicator"),
                                    "value": st.column_config.NumberColumn(ctx.t("value"), format="%.0f"),
                                    "rating": ctx.t("rating"), "period": ctx.t("site_comparison.checked"),
                                    "manual_entry_by": ctx.t("checked_by")})
        st.caption(ctx.t("site_comparison.local_indicators_are_recorded_as_manual"))
