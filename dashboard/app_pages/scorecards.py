"""Scorecards: monthly assessment scores by plant, department and post, the rows behind
each score one click away, manual-check entries, and the safety health index ranking."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import core, kpi_charts
from db.queries.scorecards import EvidenceNotVisible
from qhse.domain import access
from qhse.domain.scorecards import ScorecardError
from qhse.services import kpi_views as kv

ctx = core.page_context()
f = ctx.filters
may_enter = access.can(ctx.scope, access.ENTER_SCORES)

RATING = {"excellent": ("Excellent", "优秀"), "qualified": ("Qualified", "合格"),
          "needs_improvement": ("Needs improvement", "待改进"), "not_available": ("No data", "无数据")}
ICON = {"excellent": "🟢", "qualified": "🔵", "needs_improvement": "🔴", "not_available": "⚪"}
LEVEL = {"enterprise": ("Plants and group", "工厂与集团"), "department": ("Departments", "部门"),
         "post": ("Posts", "岗位")}
STAGE = {"general": ("General", "通用"), "storage": ("Storage", "仓储"), "machining": ("Machining", "机加工"),
         "welding": ("Welding", "焊接"), "electronics_assembly": ("Electronics assembly", "电子装配"),
         "waste_disposal": ("Waste disposal", "废弃物处置")}
TABLES = {"corrective_action": ("Corrective actions", "整改措施"), "inspection": ("Inspection rounds", "巡检"),
          "training_record": ("Training records", "培训记录"), "hazard_report": ("Hazard reports", "隐患报告"),
          "alarm": ("Alarms", "报警"), "contractor_job": ("Contractor jobs", "承包商作业"),
          "person": ("People", "人员"), "incident": ("Incidents", "事件"), "hours_worked": ("Hours worked", "工时")}


def rating_label(r) -> str:
    return f"{ICON.get(r, '')} {ctx.tr(*RATING.get(r, (str(r), str(r))))}" if r else "–"


def value_label(v, unit) -> str:
    if v is None or v != v:
        return ctx.t("not_available")
    return f"{ctx.num(v, 1)} %" if unit == "%" else f"{ctx.num(v, 2)} {unit}"


st.title(ctx.tr("Scorecards", "安全考核"))
months = core.fetch(kv.scorecard_months, ctx.scope)
if not months:
    st.info(ctx.tr("No scorecard has been computed yet. The job runner computes them monthly; "
                   "`qhse scorecard compute` computes one now.",
                   "尚未计算考核结果。任务调度器每月自动计算；也可运行 `qhse scorecard compute`。"))
    st.stop()
wanted = core.add_months(f.end_month, -1)
c_month, c_level, c_stage = st.columns([1, 2, 1])
month = c_month.selectbox(ctx.tr("Month", "月份"), months, index=months.index(wanted) if wanted in months else 0,
                          format_func=ctx.month, key="sc.month")
level = c_level.segmented_control(ctx.tr("Level", "层级"), list(LEVEL), default="department",
                                  format_func=lambda k: ctx.tr(*LEVEL[k]), key="sc.level") or "department"
stage = c_stage.selectbox(ctx.tr("Process stage", "工艺环节"), [None, *STAGE],
                          format_func=lambda s: ctx.t("filter.all") if s is None else ctx.tr(*STAGE[s]),
                          key="sc.stage")

tab_scores, tab_health = st.tabs([ctx.tr("Scores", "考核结果"), ctx.tr("Safety health index", "安全健康指数")])

with tab_scores:
    counts = core.fetch(kv.rating_counts, ctx.scope, month=month, site_ids=f.site_ids, level=level, stage=stage)
    cols = st.columns(5, border=True)
    for col, key in zip(cols, ("excellent", "qualified", "needs_improvement", "not_available")):
        col.metric(rating_label(key), ctx.num(counts[key]))
    cols[4].metric(ctx.tr("Flagged for a plan", "需制定改进计划"), ctx.num(counts["flagged"]),
                   help=ctx.tr("Two consecutive months rated 'needs improvement'.", "连续两个月评为“待改进”。"))

    df = core.fetch(kv.scorecard_table, ctx.scope, month=month, site_ids=f.site_ids, level=level, stage=stage)
    if df.empty:
        st.info(ctx.t("no_data"))
    else:
        view = pd.DataFrame({
            "unit": df["unit"],
            "indicator": [zh if ctx.locale == "zh" and zh else en for en, zh in zip(df["name"], df["name_zh"])],
            "stage": df["stage"].map(lambda s: ctx.tr(*STAGE.get(s, (s, s)))),
            "value": [value_label(v, u) for v, u in zip(df["value"], df["value_unit"])],
            "target": [value_label(v, u) for v, u in zip(df["target"], df["value_unit"])],
            "rating": df["rating"].map(rating_label),
            "previous": df["previous_rating"].map(rating_label),
            "plan": df["needs_plan"].map(lambda x: "⚠️ " + ctx.tr("plan", "需计划") if x else ""),
            "evidence": [ctx.tr("manual: ", "人工：") + str(b) if b else
                         (ctx.tr("awaiting entry", "待录入") if m else ctx.num(n))
                         for b, m, n in zip(df["manual_entry_by"], df["manual"], df["evidence_rows"])],
        })
        event = st.dataframe(
            view, hide_index=True, width="stretch", key="sc.table", on_select="rerun", selection_mode="single-row",
            column_config={"unit": ctx.tr("Unit", "考核对象"), "indicator": ctx.tr("Indicator", "指标"),
                           "stage": ctx.tr("Stage", "环节"), "value": ctx.t("value"),
                           "target": ctx.tr("Target", "目标"), "rating": ctx.tr("Rating", "评级"),
                           "previous": ctx.tr("Last month", "上月"), "plan": ctx.tr("Plan", "计划"),
                           "evidence": ctx.tr("Evidence rows", "依据记录")})
        st.caption(ctx.tr("Click a row to see the records behind its score.", "点击一行查看该得分的依据记录。"))
        ids = df["id"].astype(int).tolist()
        picked = event.selection.rows if event is not None else []
        if picked and picked != st.session_state.get("sc.last_pick"):  # a new click on the table
            st.session_state["sc.detail"] = ids[picked[0]]
        st.session_state["sc.last_pick"] = picked
        if st.session_state.get("sc.detail") not in ids:
            st.session_state["sc.detail"] = ids[0]
        labels = {i: f"{u} · {n}" for i, u, n in zip(ids, view["unit"], view["indicator"])}
        score_id = st.selectbox(ctx.tr("Evidence for", "查看依据"), ids, format_func=labels.get, key="sc.detail")

        try:
            detail = core.fetch(kv.score_detail, ctx.scope, int(score_id))
        except EvidenceNotVisible:
            st.error(ctx.tr("This score is outside your sites.", "该得分不在您的权限范围内。"))
            st.stop()
        s = detail["score"]
        st.subheader(f"{core.plain(s['unit'])} · {core.plain(s['name'])}")
        c1, c2, c3 = st.columns(3, border=True)
        c1.metric(ctx.t("value"), value_label(s["value"], s["value_unit"]))
        c2.metric(ctx.tr("Rating", "评级"), rating_label(s["rating"]))
        c3.metric(ctx.tr("Numerator / denominator", "分子 / 分母"),
                  f"{ctx.num(s['numerator'], 1)} / {ctx.num(s['denominator'], 1)}")
        st.caption(ctx.tr("Formula: ", "计算方法：") + s["formula"])
        hist = detail["history"]
        if hist["value"].notna().sum() > 1:
            st.plotly_chart(kpi_charts.score_history(
                hist, ctx.tr("Last 12 months", "近 12 个月"), s["value_unit"],
                {"value": ctx.t("value"), "excellent": ctx.tr("excellent", "优秀"),
                 "qualified": ctx.tr("qualified", "合格"),
                 **{k: ctx.tr(*v) for k, v in RATING.items()}}), key="sc.history")
        if s["manual_entry_by"]:
            st.info(ctx.tr("Checked by ", "检查人：") + core.plain(s["manual_entry_by"]) + " — " + core.plain(s["manual_evidence"]))
        for table, rows in detail["tables"].items():
            st.markdown(f"**{ctx.tr(*TABLES.get(table, (table, table)))}** ({ctx.num(len(rows))})")
            shown = rows.copy()
            if "passes" in shown:
                shown["passes"] = shown["passes"].map(lambda x: "✅" if x else "❌")
            st.dataframe(shown, hide_index=True, width="stretch", key=f"sc.ev.{table}",
                         column_config={"passes": ctx.tr("Passes", "达标")})
        row = df[df["id"] == int(score_id)].iloc[0]
        if bool(row["manual"]):
            if may_enter:
                with st.form("sc.manual", border=True):
                    st.markdown("**" + ctx.tr("Record the manual check", "录入人工检查结果") + "**")
                    val = st.number_input(ctx.t("value") + f" ({row['value_unit']})", min_value=0.0,
                                          max_value=100.0 if row["value_unit"] == "%" else None, value=100.0,
                                          key="sc.manual.value")
                    who = st.text_input(ctx.tr("Checked by", "检查人"), value=ctx.user.display_name,
                                        key="sc.manual.by")
                    ev = st.text_area(ctx.tr("Evidence (documents, manifest numbers, photos)",
                                             "依据（文件、联单编号、照片）"), key="sc.manual.evidence")
                    if st.form_submit_button(ctx.t("save"), type="primary"):
                        try:
                            res = core.call(kv.enter_manual_score, ctx.scope, score_id=int(score_id), value=val,
                                            checked_by=who, evidence=ev)
                        except ScorecardError as exc:
                            st.error(str(exc))
                        else:
                            core.invalidate()
                            st.success(ctx.t("saved") + " " + rating_label(res["rating"]))
            else:
                st.caption(ctx.tr("Your role may view but not record manual checks.", "您的角色可查看但不能录入人工检查结果。"))

    flagged = df[df["needs_plan"].astype(bool)] if not df.empty else df
    if not flagged.empty:
        with st.expander(ctx.tr(f"Units flagged for an improvement plan ({len(flagged)})",
                                f"需制定改进计划的对象（{len(flagged)}）"), expanded=False):
            st.dataframe(flagged[["unit", "name", "value", "previous_value"]], hide_index=True, width="stretch",
                         key="sc.flagged",
                         column_config={"unit": ctx.tr("Unit", "考核对象"), "name": ctx.tr("Indicator", "指标"),
                                        "value": st.column_config.NumberColumn(ctx.t("value"), format="%.1f"),
                                        "previous_value": st.column_config.NumberColumn(ctx.tr("Last month", "上月"),
                                                                                        format="%.1f")})

with tab_health:
    hdf = core.fetch(kv.department_health, ctx.scope, month=month, site_ids=f.site_ids)
    st.caption(ctx.tr("Index 0–100 from hazard density, rectification rate, repeat rate and severity mix "
                      "(weights in qhse/domain/performance.yaml); rank 1 is the healthiest department.",
                      "指数 0–100，由隐患密度、整改率、重复率和严重程度构成（权重见 qhse/domain/performance.yaml）；"
                      "第 1 名为最健康的部门。"))
    if hdf.empty:
        st.info(ctx.t("no_data"))
    else:
        hv = hdf.assign(unit=hdf["site_code"] + " / " + hdf["unit"],
                        rank_change=hdf["rank_change"].map(lambda x: "–" if x != x or x is None
                                                           else (f"▲ {int(x)}" if x > 0 else
                                                                 (f"▼ {-int(x)}" if x < 0 else "="))))
        st.dataframe(hv[["rank", "unit", "index", "change", "rank_change", "score_hazard_density",
                         "score_rectification_rate", "score_repeat_rate", "score_severity_mix", "hazards"]],
                     hide_index=True, width="stretch", key="sc.health",
                     column_config={
                         "rank": ctx.tr("Rank", "排名"), "unit": ctx.tr("Department", "部门"),
                         "index": st.column_config.ProgressColumn(ctx.tr("Index", "指数"), min_value=0, max_value=100,
                                                                  format="%.1f"),
                         "change": st.column_config.NumberColumn(ctx.tr("vs last month", "较上月"), format="%+.1f"),
                         "rank_change": ctx.tr("Rank change", "排名变化"),
                         "score_hazard_density": st.column_config.NumberColumn(ctx.tr("Density", "密度"),
                                                                               format="%.0f"),
                         "score_rectification_rate": st.column_config.NumberColumn(ctx.tr("Rectified", "整改"),
                                                                                   format="%.0f"),
                         "score_repeat_rate": st.column_config.NumberColumn(ctx.tr("Repeats", "重复"), format="%.0f"),
                         "score_severity_mix": st.column_config.NumberColumn(ctx.tr("Severity", "严重度"),
                                                                             format="%.0f"),
                         "hazards": ctx.tr("Hazards", "隐患数")})
