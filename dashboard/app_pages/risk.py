"""Risk heatmap: combined risk index per site and area; likelihood x consequence matrix of hazards."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, core
from db.queries import risk as riskq
from qhse.domain import risk as risk_rules
from qhse.services import risk

ctx = core.page_context()
f = ctx.filters

st.caption(ctx.period_caption())

heat = core.fetch(risk.area_heatmap, ctx.scope, start=f.start, end=f.end, site_ids=f.site_ids, area_ids=f.area_ids)


def selected(event, default):
    try:
        pts = event.selection.points  # type: ignore[union-attr]
    except AttributeError:
        return default
    if pts:
        cd = pts[0].get("customdata")
        return cd[0] if isinstance(cd, (list, tuple)) else cd
    return default


if heat.empty:
    st.info(ctx.t("no_data"))
else:
    st.subheader(ctx.t("risk.where_the_risk_is_areas_by"))
    st.caption(ctx.t("risk.index_0_100_from_the_area"))
    heat = heat.assign(rank=heat.groupby("site").cumcount() + 1)
    n_rank = int(heat["rank"].max())
    fig = charts.tile_grid(
        x=[f"#{r}" for r in heat["rank"]], y=heat["site"].tolist(), colors=heat["index"].tolist(),
        text=[f"{c}<br><b>{i:.0f}</b>" for c, i in zip(heat["code"], heat["index"], strict=False)],
        customdata=heat["area_id"].tolist(),
        hover=[f"{s} · {a} ({rc})<br>{ctx.t('risk.index')} {i:.1f}<br>"
               f"{ctx.t('risk.hazards')} {h} · {ctx.t('risk.alarms')} {al} · PPE {p}"
               for s, a, rc, i, h, al, p in zip(heat["site"], heat["area"], heat["risk_class"], heat["index"],
                                                heat["hazards"], heat["alarms"], heat["ppe_violations"], strict=False)],
        title="", x_title=ctx.t("risk.areas_highest_risk_first"), y_title=ctx.t("site"),
        colorscale="YlOrRd", cmin=0, cmax=100, colorbar=ctx.t("risk.index"),
        x_order=[f"#{r}" for r in range(1, n_rank + 1)], y_order=sorted(heat["site"].unique()),
        height=120 + 80 * heat["site"].nunique(), tile_px=64)
    ev = st.plotly_chart(fig, key="risk.heat", on_select="rerun", selection_mode="points")
    labels = {int(r.area_id): f"{r.site} · {r.area} ({r.index:.0f})" for r in heat.sort_values("index", ascending=False)
              .itertuples()}
    clicked = selected(ev, None)
    if clicked is not None and int(clicked) in labels:
        st.session_state["risk.area"] = int(clicked)
    area_id = st.selectbox(ctx.t("risk.items_of_area"), list(labels), format_func=labels.get, key="risk.area")
    items = core.fetch(riskq.area_items, ctx.scope, int(area_id), start=f.start, end=f.end) if area_id else {}
    if items:
        t1, t2, t3, t4 = st.tabs([ctx.t("risk.hazards_hazards", hazards=len(items['hazards'])),
                                  ctx.t("risk.alarms_alarms", alarms=len(items['alarms'])),
                                  ctx.t("risk.predicted_failures_predictions", predictions=len(items['predictions'])),
                                  ctx.t("risk.ppe_violations_ppe", ppe=len(items['ppe']))])
        cfg = {"id": "#", "reported_at": ctx.t("reported"), "raised_at": ctx.t("raised"),
               "started_at": ctx.t("time"), "scored_at": ctx.t("scored"),
               "category": ctx.t("category"), "title": ctx.t("hazard"), "severity": ctx.t("severity"),
               "likelihood": ctx.t("risk.likelihood"), "consequence": ctx.t("risk.consequence"),
               "status": ctx.t("status"), "rule": ctx.t("rule"), "sensor": ctx.t("sensor"),
               "peak_value": ctx.t("peak"), "unit": ctx.t("unit"), "asset": ctx.t("asset"),
               "name": ctx.t("item_name"), "risk_band": ctx.t("risk_band"),
               "label": ctx.t("violation"), "score": ctx.t("score"),
               "review_status": ctx.t("risk.review"),
               "probability": st.column_config.ProgressColumn(ctx.t("failure_probability"),
                                                              min_value=0.0, max_value=1.0, format="percent")}
        with t1:
            hz = items["hazards"]
            st.dataframe(hz.assign(reported_at=hz["reported_at"].map(ctx.datetime),
                                   severity=hz["severity"].map(lambda s: ctx.label("hazard_severity", s))),
                         hide_index=True, width="stretch", column_config=cfg)
        with t2:
            al = items["alarms"]
            st.dataframe(al.assign(raised_at=al["raised_at"].map(ctx.datetime)), hide_index=True, width="stretch",
                         column_config=cfg)
        with t3:
            pr = items["predictions"]
            st.dataframe(pr.assign(scored_at=pr["scored_at"].map(ctx.datetime)), hide_index=True, width="stretch",
                         column_config=cfg)
        with t4:
            pp = items["ppe"]
            st.dataframe(pp.assign(started_at=pp["started_at"].map(ctx.datetime)), hide_index=True, width="stretch",
                         column_config=cfg)
    with st.expander(ctx.t("risk.all_areas_with_their_risk_components")):
        st.dataframe(heat.drop(columns=["area_id", "site_id", "rank"]), hide_index=True, width="stretch",
                     column_config={"index": st.column_config.ProgressColumn(ctx.t("risk_index"),
                                                                             min_value=0, max_value=100, format="%.0f"),
                                    "site": ctx.t("site"), "area": ctx.t("area"),
                                    "risk_class": ctx.t("risk.risk_class")})

st.divider()
st.subheader(ctx.t("risk.hazard_register_likelihood_x_consequence"))
open_only = st.toggle(ctx.t("risk.open_hazards_only"), key="risk.open_only")
mx = core.fetch(risk.hazard_matrix, ctx.scope, start=f.start, end=f.end, site_ids=f.site_ids, area_ids=f.area_ids,
                open_only=open_only)
counts, classes, reg = mx["counts"], mx["classes"], mx["register"]
cells = [(lk, cq) for lk in counts.index for cq in counts.columns]
fig = charts.tile_grid(
    x=[str(cq) for _, cq in cells], y=[str(lk) for lk, _ in cells],
    colors=[risk_rules.CLASS_COLORS[classes.loc[lk, cq]] for lk, cq in cells],
    text=[str(int(counts.loc[lk, cq])) for lk, cq in cells], customdata=[f"{lk}x{cq}" for lk, cq in cells],
    hover=[f"{ctx.t('risk.likelihood_2')} {lk} × {ctx.t('risk.consequence_2')} {cq}: "
           f"{ctx.label('risk.class', classes.loc[lk, cq])}, {int(counts.loc[lk, cq])}" for lk, cq in cells],
    title="", x_title=ctx.t("risk.consequence_2"), y_title=ctx.t("risk.likelihood_2"),
    x_order=["1", "2", "3", "4", "5"], y_order=["5", "4", "3", "2", "1"], height=460, tile_px=70)
c1, c2 = st.columns([3, 2])
with c1:
    ev2 = st.plotly_chart(fig, key="risk.matrix", on_select="rerun", selection_mode="points")
with c2:
    by_class = {c: int(counts.values[classes.values == c].sum()) for c in risk_rules.CLASSES}
    for c in reversed(risk_rules.CLASSES):
        st.metric(ctx.label("risk.class", c), ctx.num(by_class[c]))
options = [f"{lk}x{cq}" for lk, cq in cells if counts.loc[lk, cq] > 0]
clicked = selected(ev2, None)
if clicked in options:
    st.session_state["risk.cell"] = clicked
if options:
    cell = st.selectbox(ctx.t("risk.hazards_in_cell_likelihood_x_consequence"), options,
                        key="risk.cell")
    lk, cq = (int(x) for x in cell.split("x"))
    sel = reg[(reg["likelihood"] == lk) & (reg["consequence"] == cq)]
    st.dataframe(sel.drop(columns=["area_id", "likelihood", "consequence"])
                 .assign(reported_at=sel["reported_at"].map(ctx.datetime),
                         severity=sel["severity"].map(lambda s: ctx.label("hazard_severity", s))),
                 hide_index=True, width="stretch",
                 column_config={"id": "#", "site": ctx.t("site"), "area": ctx.t("area"),
                                "category": ctx.t("category"), "title": ctx.t("hazard"),
                                "severity": ctx.t("severity"), "status": ctx.t("status"),
                                "reported_at": ctx.t("reported")})
else:
    st.info(ctx.t("no_data"))
