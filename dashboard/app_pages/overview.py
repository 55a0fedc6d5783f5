"""Overview: the safety KPIs of the period with their change against the previous period."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, core
from qhse.services.overview import overview

ctx = core.page_context()
f = ctx.filters
st.caption(ctx.period_caption())

data = core.fetch(overview, ctx.scope, start_month=f.start_month, end_month=f.end_month,
                  prev_start_month=f.prev_start_month, site_ids=f.site_ids, area_ids=f.area_ids,
                  tz=str(core.report_tz()))



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
    for col, tile in zip(cols, row, strict=False):
        kind = ctx.label("overview.kpi_kind", tile.kind)
        d = delta(tile)
        col.metric(f"{ctx.label('kpi', tile.code)} · {kind}", value(tile, tile.current),
                   f"{d} ◐" if d and f.partial_until else d,  # part of a month against full ones: marked
                   delta_color="normal" if tile.higher_is_better else "inverse",
                   help=f"{tile.description}. {ctx.t('vs_prev')}: {value(tile, tile.previous)}")
if data["awaiting_review"]:
    st.caption(ctx.t("overview.awaiting_review_camera_events_of_this",
                      awaiting_review=ctx.num(data['awaiting_review'])))
if f.area_ids:
    st.info(ctx.t("overview.hours_worked_are_recorded_per_site"))

trend = data["trend"]
if not trend.empty:
    trend = trend.assign(month=trend["month"].map(ctx.month))
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.lines(trend, "month", {"trir": "TRIR", "dart": "DART", "ltifr": "LTIFR"},
                                 ctx.t("overview.injury_rates_by_month"),
                                 ctx.t("overview.per_200k_h_ltifr_per_1m")),
                    key="ov.rates")
    c2.plotly_chart(charts.lines(trend, "month", {"hazard_closure_rate": ctx.t("overview.hazard_closure"),
                                                  "on_time_rectification_rate": ctx.t("overview.on_time_rectification"),
                                                  "inspection_completion": ctx.t("overview.inspection_completion")},
                                 ctx.t("overview.closing_the_loop_by_month"), "%"), key="ov.loop")

by_site = data["by_site"]
if not by_site.empty:
    st.subheader(ctx.t("overview.by_site"))
    st.dataframe(by_site[["site", "name", "hours", "recordable", "trir", "ltifr", "dart", "near_miss_ratio",
                          "hazard_closure_rate", "on_time_rectification_rate"]],
                 hide_index=True, width="stretch",
                 column_config={
                     "site": ctx.t("site"), "name": ctx.t("item_name"),
                     "hours": st.column_config.NumberColumn(ctx.t("hours_worked"), format="localized"),
                     "recordable": ctx.t("overview.recordable_cases"),
                     "trir": st.column_config.NumberColumn("TRIR", format="%.2f"),
                     "ltifr": st.column_config.NumberColumn("LTIFR", format="%.2f"),
                     "dart": st.column_config.NumberColumn("DART", format="%.2f"),
                     "near_miss_ratio": st.column_config.NumberColumn(ctx.t("overview.near_miss_ratio"), format="%.1f"),
                     "hazard_closure_rate": st.column_config.NumberColumn(ctx.t("overview.hazard_closure_2"),
                                                                          format="%.1f"),
                     "on_time_rectification_rate": st.column_config.NumberColumn(
                         ctx.t("overview.on_time_rectification_2"), format="%.1f")})
elif not f.area_ids:
    st.info(ctx.t("no_data"))
