"""Overview: the safety KPIs of the period with their change against the previous period."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, core
from qhse.services.overview import overview

ctx = core.page_context()
f = ctx.filters
st.title(ctx.tr("Overview", "概览"))
st.caption(ctx.period_caption())

data = core.fetch(overview, ctx.scope, start_month=f.start_month, end_month=f.end_month,
                  prev_start_month=f.prev_start_month, site_ids=f.site_ids, area_ids=f.area_ids,
                  tz=str(core.report_tz()))

NAMES = {
    "trir": ("TRIR", "TRIR 可记录事件率"), "ltifr": ("LTIFR", "LTIFR 损工事件频率"), "dart": ("DART", "DART 率"),
    "near_miss_ratio": ("Near-miss ratio", "未遂事件比"), "hazard_closure_rate": ("Hazard closure", "隐患关闭率"),
    "on_time_rectification_rate": ("On-time rectification", "按期整改率"),
    "overdue_actions": ("Overdue actions", "逾期整改项"), "open_alarms": ("Open alarms", "未关闭报警"),
    "ppe_violations": ("PPE violations", "PPE 违规"),
}
KINDS = {"leading": ("leading", "先行指标"), "lagging": ("lagging", "滞后指标"), "operational": ("now", "当前")}


def value(tile, v):
    if v is None:
        return ctx.t("not_available")
    if tile.unit == "%":
        return f"{ctx.num(v, 1)} %"
    if tile.kind == "operational":
        return ctx.num(v)
    return ctx.num(v, 2)


def delta(tile):
    if tile.delta is None:
        return None
    if tile.unit == "%":
        return f"{tile.delta:+.1f} pp"
    if tile.kind == "operational":
        return f"{tile.delta:+.0f}"
    return f"{tile.delta:+.2f}"


tiles = data["tiles"]
for row in (tiles[:3], tiles[3:6], tiles[6:9]):
    cols = st.columns(len(row), border=True)
    for col, tile in zip(cols, row):
        en, zh = NAMES[tile.code]
        kind = ctx.tr(*KINDS[tile.kind])
        col.metric(f"{ctx.tr(en, zh)} · {kind}", value(tile, tile.current), delta(tile),
                   delta_color="normal" if tile.higher_is_better else "inverse",
                   help=f"{tile.description}. {ctx.t('vs_prev')}: {value(tile, tile.previous)}")
if data["awaiting_review"]:
    st.caption(ctx.tr(f"{ctx.num(data['awaiting_review'])} camera events of this period still await review.",
                      f"本期还有 {ctx.num(data['awaiting_review'])} 条摄像头事件待审核。"))
if f.area_ids:
    st.info(ctx.tr("Hours worked are recorded per site and department, not per area: rates per hours are not "
                   "available for an area selection.", "工时按工厂和部门记录，不按区域记录：按区域筛选时不提供工时比率。"))

trend = data["trend"]
if not trend.empty:
    trend = trend.assign(month=trend["month"].map(ctx.month))
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.lines(trend, "month", {"trir": "TRIR", "dart": "DART", "ltifr": "LTIFR"},
                                 ctx.tr("Injury rates by month", "月度伤害率"),
                                 ctx.tr("per 200k h (LTIFR per 1M h)", "每 20 万工时（LTIFR 每百万工时）")),
                    key="ov.rates")
    c2.plotly_chart(charts.lines(trend, "month", {"hazard_closure_rate": ctx.tr("Hazard closure", "隐患关闭率"),
                                                  "on_time_rectification_rate": ctx.tr("On-time rectification", "按期整改率"),
                                                  "inspection_completion": ctx.tr("Inspection completion", "巡检完成率")},
                                 ctx.tr("Closing the loop by month", "月度闭环表现"), "%"), key="ov.loop")

by_site = data["by_site"]
if not by_site.empty:
    st.subheader(ctx.tr("By site", "各工厂"))
    st.dataframe(by_site[["site", "name", "hours", "recordable", "trir", "ltifr", "dart", "near_miss_ratio",
                          "hazard_closure_rate", "on_time_rectification_rate"]],
                 hide_index=True, width="stretch",
                 column_config={
                     "site": ctx.t("site"), "name": ctx.tr("Name", "名称"),
                     "hours": st.column_config.NumberColumn(ctx.tr("Hours worked", "工时"), format="localized"),
                     "recordable": ctx.tr("Recordable cases", "可记录事件"),
                     "trir": st.column_config.NumberColumn("TRIR", format="%.2f"),
                     "ltifr": st.column_config.NumberColumn("LTIFR", format="%.2f"),
                     "dart": st.column_config.NumberColumn("DART", format="%.2f"),
                     "near_miss_ratio": st.column_config.NumberColumn(ctx.tr("Near-miss ratio", "未遂事件比"), format="%.1f"),
                     "hazard_closure_rate": st.column_config.NumberColumn(ctx.tr("Hazard closure %", "隐患关闭率 %"),
                                                                          format="%.1f"),
                     "on_time_rectification_rate": st.column_config.NumberColumn(
                         ctx.tr("On-time rectification %", "按期整改率 %"), format="%.1f")})
elif not f.area_ids:
    st.info(ctx.t("no_data"))
