"""Risk heatmap: combined risk index per site and area; likelihood x consequence matrix of hazards."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, core
from db.queries import risk as riskq
from qhse.domain import risk as risk_rules
from qhse.services import risk

ctx = core.page_context()
f = ctx.filters
SEV = {"low": ("Low", "低"), "normal": ("Normal", "一般"), "high": ("High", "较大"), "severe": ("Severe", "重大")}
CLS = {"low": ("Low", "低"), "medium": ("Medium", "中"), "high": ("High", "高"), "extreme": ("Extreme", "极高")}

st.title(ctx.tr("Risk heatmap", "风险热力图"))
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
    st.subheader(ctx.tr("Where the risk is: areas by combined risk index", "风险分布：各区域综合风险指数"))
    st.caption(ctx.tr("Index 0-100 from the area's risk class, hazards by severity, alarms by severity, predicted "
                      "machine failures and confirmed PPE violations in the period. Each site's areas are ranked "
                      "from the highest index; click a cell to see what is behind it.",
                      "指数 0-100，由区域风险等级、按严重程度加权的隐患与报警、设备故障预测和已确认的 PPE 违规综合计算。"
                      "各工厂区域按指数从高到低排列；点击单元格查看明细。"))
    heat = heat.assign(rank=heat.groupby("site").cumcount() + 1)
    n_rank = int(heat["rank"].max())
    fig = charts.tile_grid(
        x=[f"#{r}" for r in heat["rank"]], y=heat["site"].tolist(), colors=heat["index"].tolist(),
        text=[f"{c}<br><b>{i:.0f}</b>" for c, i in zip(heat["code"], heat["index"])],
        customdata=heat["area_id"].tolist(),
        hover=[f"{s} · {a} ({rc})<br>{ctx.tr('index', '指数')} {i:.1f}<br>"
               f"{ctx.tr('hazards', '隐患')} {h} · {ctx.tr('alarms', '报警')} {al} · PPE {p}"
               for s, a, rc, i, h, al, p in zip(heat["site"], heat["area"], heat["risk_class"], heat["index"],
                                                heat["hazards"], heat["alarms"], heat["ppe_violations"])],
        title="", x_title=ctx.tr("areas, highest risk first", "区域（按风险从高到低）"), y_title=ctx.t("site"),
        colorscale="YlOrRd", cmin=0, cmax=100, colorbar=ctx.tr("index", "指数"),
        x_order=[f"#{r}" for r in range(1, n_rank + 1)], y_order=sorted(heat["site"].unique()),
        height=120 + 80 * heat["site"].nunique(), tile_px=64)
    ev = st.plotly_chart(fig, key="risk.heat", on_select="rerun", selection_mode="points")
    labels = {int(r.area_id): f"{r.site} · {r.area} ({r.index:.0f})" for r in heat.sort_values("index", ascending=False)
              .itertuples()}
    clicked = selected(ev, None)
    if clicked is not None and int(clicked) in labels:
        st.session_state["risk.area"] = int(clicked)
    area_id = st.selectbox(ctx.tr("Items of area", "区域明细"), list(labels), format_func=labels.get, key="risk.area")
    items = core.fetch(riskq.area_items, ctx.scope, int(area_id), start=f.start, end=f.end) if area_id else {}
    if items:
        t1, t2, t3, t4 = st.tabs([ctx.tr(f"Hazards ({len(items['hazards'])})", f"隐患（{len(items['hazards'])}）"),
                                  ctx.tr(f"Alarms ({len(items['alarms'])})", f"报警（{len(items['alarms'])}）"),
                                  ctx.tr(f"Predicted failures ({len(items['predictions'])})",
                                         f"故障预测（{len(items['predictions'])}）"),
                                  ctx.tr(f"PPE violations ({len(items['ppe'])})", f"PPE 违规（{len(items['ppe'])}）")])
        cfg = {"id": "#", "reported_at": ctx.tr("Reported", "上报时间"), "raised_at": ctx.tr("Raised", "触发时间"),
               "started_at": ctx.t("time"), "scored_at": ctx.tr("Scored", "评分时间"),
               "category": ctx.tr("Category", "类别"), "title": ctx.tr("Hazard", "隐患"), "severity": ctx.t("severity"),
               "likelihood": ctx.tr("Likelihood", "可能性"), "consequence": ctx.tr("Consequence", "后果"),
               "status": ctx.t("status"), "rule": ctx.tr("Rule", "规则"), "sensor": ctx.t("sensor"),
               "peak_value": ctx.tr("Peak", "峰值"), "unit": ctx.tr("Unit", "单位"), "asset": ctx.t("asset"),
               "name": ctx.tr("Name", "名称"), "risk_band": ctx.tr("Risk band", "风险等级"),
               "label": ctx.tr("Violation", "违规"), "score": ctx.tr("Score", "置信度"),
               "review_status": ctx.tr("Review", "审核"),
               "probability": st.column_config.ProgressColumn(ctx.tr("Failure probability", "故障概率"),
                                                              min_value=0.0, max_value=1.0, format="percent")}
        with t1:
            hz = items["hazards"]
            st.dataframe(hz.assign(reported_at=hz["reported_at"].map(ctx.datetime),
                                   severity=hz["severity"].map(lambda s: ctx.tr(*SEV.get(s, (s, s))))),
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
    with st.expander(ctx.tr("All areas with their risk components", "全部区域及风险构成")):
        st.dataframe(heat.drop(columns=["area_id", "site_id", "rank"]), hide_index=True, width="stretch",
                     column_config={"index": st.column_config.ProgressColumn(ctx.tr("Risk index", "风险指数"),
                                                                             min_value=0, max_value=100, format="%.0f"),
                                    "site": ctx.t("site"), "area": ctx.t("area"),
                                    "risk_class": ctx.tr("Risk class", "风险等级")})

st.divider()
st.subheader(ctx.tr("Hazard register: likelihood x consequence", "隐患登记：可能性 × 后果矩阵"))
open_only = st.toggle(ctx.tr("Open hazards only", "仅显示未关闭隐患"), key="risk.open_only")
mx = core.fetch(risk.hazard_matrix, ctx.scope, start=f.start, end=f.end, site_ids=f.site_ids, area_ids=f.area_ids,
                open_only=open_only)
counts, classes, reg = mx["counts"], mx["classes"], mx["register"]
cells = [(lk, cq) for lk in counts.index for cq in counts.columns]
fig = charts.tile_grid(
    x=[str(cq) for _, cq in cells], y=[str(lk) for lk, _ in cells],
    colors=[risk_rules.CLASS_COLORS[classes.loc[lk, cq]] for lk, cq in cells],
    text=[str(int(counts.loc[lk, cq])) for lk, cq in cells], customdata=[f"{lk}x{cq}" for lk, cq in cells],
    hover=[f"{ctx.tr('likelihood', '可能性')} {lk} × {ctx.tr('consequence', '后果')} {cq}: "
           f"{ctx.tr(*CLS[classes.loc[lk, cq]])}, {int(counts.loc[lk, cq])}" for lk, cq in cells],
    title="", x_title=ctx.tr("consequence", "后果"), y_title=ctx.tr("likelihood", "可能性"),
    x_order=["1", "2", "3", "4", "5"], y_order=["5", "4", "3", "2", "1"], height=460, tile_px=70)
c1, c2 = st.columns([3, 2])
with c1:
    ev2 = st.plotly_chart(fig, key="risk.matrix", on_select="rerun", selection_mode="points")
with c2:
    by_class = {c: int(counts.values[classes.values == c].sum()) for c in risk_rules.CLASSES}
    for c in reversed(risk_rules.CLASSES):
        st.metric(ctx.tr(*CLS[c]), ctx.num(by_class[c]))
options = [f"{lk}x{cq}" for lk, cq in cells if counts.loc[lk, cq] > 0]
clicked = selected(ev2, None)
if clicked in options:
    st.session_state["risk.cell"] = clicked
if options:
    cell = st.selectbox(ctx.tr("Hazards in cell (likelihood x consequence)", "矩阵单元格中的隐患（可能性 × 后果）"), options,
                        key="risk.cell")
    lk, cq = (int(x) for x in cell.split("x"))
    sel = reg[(reg["likelihood"] == lk) & (reg["consequence"] == cq)]
    st.dataframe(sel.drop(columns=["area_id", "likelihood", "consequence"])
                 .assign(reported_at=sel["reported_at"].map(ctx.datetime),
                         severity=sel["severity"].map(lambda s: ctx.tr(*SEV.get(s, (s, s))))),
                 hide_index=True, width="stretch",
                 column_config={"id": "#", "site": ctx.t("site"), "area": ctx.t("area"),
                                "category": ctx.tr("Category", "类别"), "title": ctx.tr("Hazard", "隐患"),
                                "severity": ctx.t("severity"), "status": ctx.t("status"),
                                "reported_at": ctx.tr("Reported", "上报时间")})
else:
    st.info(ctx.t("no_data"))
