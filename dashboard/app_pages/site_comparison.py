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
RATING = {"excellent": ("Excellent", "优秀"), "qualified": ("Qualified", "合格"),
          "needs_improvement": ("Needs improvement", "待改进"), "not_available": ("Not recorded", "未录入")}
KIND = {"leading": ("leading", "先行"), "lagging": ("lagging", "滞后")}

st.title(ctx.tr("Site comparison", "工厂对标"))
st.caption(ctx.period_caption())

tree = core.fetch(kv.drill_hierarchy, ctx.scope, ttl="slow")
regions = {r["id"]: r for r in tree}
c1, c2, c3 = st.columns(3)
region_id = c1.selectbox(ctx.tr("Region", "区域"), [None, *regions],
                         format_func=lambda r: ctx.tr("Whole group", "全集团") if r is None else regions[r]["name"],
                         key="cmp.region")
plants = [s for r in tree for s in r["sites"] if region_id is None or r["id"] == region_id]
plant_names = {s["id"]: f"{s['code']} · {s['name']}" for s in plants}
site_id = c2.selectbox(ctx.tr("Plant", "工厂"), [None, *plant_names],
                       format_func=lambda s: ctx.tr("All plants", "全部工厂") if s is None else plant_names[s],
                       key="cmp.site")
if site_id is not None:
    level = "area"
    c3.markdown(ctx.tr("Comparing the plant's **areas**", "对比该工厂的**区域**"))
else:
    level = c3.segmented_control(ctx.tr("Compare", "对比层级"), ["site", "region"], default="site",
                                 format_func=lambda v: ctx.tr("Plants", "工厂") if v == "site" else ctx.tr("Regions",
                                                                                                         "区域"),
                                 key="cmp.level") or "site"

data = core.fetch(kv.comparison_view, ctx.scope, month=month, months=f.months, level=level, region_id=region_id,
                  site_id=site_id, site_ids=f.site_ids)
legend = kv.kpi_legend()
rows: pd.DataFrame = data["rows"]
if rows.empty:
    st.info(ctx.t("no_data"))
    st.stop()
if level == "area":
    st.info(ctx.tr("Hours worked are recorded per plant and department, not per area: rates per hours worked are "
                   "not available for areas; shares and counts are compared.",
                   "工时按工厂和部门记录，不按区域记录：区域不提供按工时计算的比率，只对比比例和数量。"))

codes = legend["code"].tolist()
name = {r.code: f"{r.short}" for r in legend.itertuples()}
table = rows[["unit", "hours", *codes]].copy()
bench = data["benchmarks"].set_index("code")
extra = pd.DataFrame([
    {"unit": ctx.tr("Group median", "集团中位数"), "hours": float("nan"), **{c: bench.loc[c, "median"] for c in codes}},
    {"unit": ctx.tr("Best", "最佳"), "hours": float("nan"), **{c: bench.loc[c, "best"] for c in codes}},
    {"unit": ctx.tr("Total (from summed hours and cases)", "合计（按工时和事件数汇总）"),
     "hours": data["total"].get("hours"), **{c: data["total"].get(c) for c in codes}},
])
table = pd.concat([table, extra], ignore_index=True)
colcfg = {"unit": ctx.tr("Unit", "对象"),
          "hours": st.column_config.NumberColumn(ctx.tr("Hours worked", "工时"), format="%.0f")}
for r in legend.itertuples():
    colcfg[r.code] = st.column_config.NumberColumn(
        f"{r.short} ({ctx.tr(*KIND[r.kind])})", format="%.1f" if r.unit == "%" else "%.2f",
        help=f"{r.label}: {r.formula}. " + (ctx.tr("Higher is better.", "越高越好。") if r.higher_is_better
                                           else ctx.tr("Lower is better.", "越低越好。")))
st.dataframe(table, hide_index=True, width="stretch", key="cmp.table", column_config=colcfg)
st.caption(ctx.tr("Rates are per hours worked (TRIR, DART, hazards per 200,000 h; LTIFR per 1,000,000 h). "
                  "Empty cells: not available (no hours, or nothing due).",
                  "比率按工时计算（TRIR、DART、隐患数每 20 万工时；LTIFR 每 100 万工时）。空白：不适用（无工时或无应办事项）。"))

pick = st.selectbox(ctx.tr("Chart", "图表指标"), codes, index=0, key="cmp.kpi",
                    format_func=lambda c: name[c] if name[c] == legend.set_index("code").loc[c, "label"]
                    else f"{name[c]} — {legend.set_index('code').loc[c, 'label']}")
st.plotly_chart(kpi_charts.kpi_bars(
    rows, "label", pick, bench.loc[pick, "median"], bench.loc[pick, "best"], name[pick],
    {"median": ctx.tr("group median", "集团中位数"), "best": ctx.tr("best", "最佳")},
    legend.set_index("code").loc[pick, "unit"]), key="cmp.chart")

left, right = st.columns(2)
with left:
    st.subheader(ctx.tr("Safety health index of the plants", "各工厂安全健康指数"))
    health = data["health"]
    if health.empty:
        st.caption(ctx.tr("Shown when comparing plants or regions.", "对比工厂或区域时显示。"))
    else:
        hv = health.assign(rank_change=health["rank_change"].map(
            lambda x: "–" if x is None or x != x else (f"▲ {int(x)}" if x > 0 else (f"▼ {-int(x)}" if x < 0 else "="))))
        st.dataframe(hv[["rank", "site_code", "index", "change", "rank_change"]], hide_index=True,
                     width="stretch", key="cmp.health",
                     column_config={"rank": ctx.tr("Rank", "排名"), "site_code": ctx.t("site"),
                                    "index": st.column_config.ProgressColumn(ctx.tr("Index", "指数"), min_value=0,
                                                                             max_value=100, format="%.1f"),
                                    "change": st.column_config.NumberColumn(ctx.tr("vs last month", "较上月"),
                                                                            format="%+.1f"),
                                    "rank_change": ctx.tr("Rank change", "排名变化")})
with right:
    st.subheader(ctx.tr("Local indicators", "地方性指标"))
    local = data["local"]
    if local.empty:
        st.caption(ctx.tr("No plant in this selection defines a local indicator.", "所选工厂没有地方性指标。"))
    else:
        lv = local.assign(indicator=[zh if ctx.locale == "zh" and zh else en
                                     for en, zh in zip(local["name"], local["name_zh"])],
                          rating=local["rating"].map(lambda r: ctx.tr(*RATING.get(r, (r, r)))),
                          period=local["period"].map(lambda p: ctx.month(p) if p is not None and p == p else "–"))
        st.dataframe(lv[["site_code", "indicator", "value", "rating", "period", "manual_entry_by"]], hide_index=True,
                     width="stretch", key="cmp.local",
                     column_config={"site_code": ctx.t("site"), "indicator": ctx.tr("Indicator", "指标"),
                                    "value": st.column_config.NumberColumn(ctx.t("value"), format="%.0f"),
                                    "rating": ctx.tr("Rating", "评级"), "period": ctx.tr("Checked", "检查月份"),
                                    "manual_entry_by": ctx.tr("Checked by", "检查人")})
        st.caption(ctx.tr("Local indicators are recorded as manual checks on the Scorecards page.",
                          "地方性指标在“安全考核”页面以人工检查方式录入。"))
