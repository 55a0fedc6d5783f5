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
from qhse.vocab import AssessmentLevel, Rating

ctx = core.page_context()
f = ctx.filters
may_enter = ctx.can(access.ENTER_SCORES)

ICON = {"excellent": "🟢", "qualified": "🔵", "needs_improvement": "🔴", "not_available": "⚪"}
STAGES = ("general", "storage", "machining", "welding", "electronics_assembly", "waste_disposal")


def rating_label(r) -> str:
    return f"{ICON.get(r, '')} {ctx.label('scorecards.rating', r)}" if r else "–"


def value_label(v, unit) -> str:
    if v is None or v != v:
        return ctx.t("not_available")
    return f"{ctx.num(v, 1)} %" if unit == "%" else f"{ctx.num(v, 2)} {unit}"


months = core.fetch(kv.scorecard_months, ctx.scope)
if not months:
    st.info(ctx.t("scorecards.no_scorecard_has_been_computed_yet"))
    st.stop()
wanted = core.add_months(f.end_month, -1)
c_month, c_level, c_stage = st.columns([1, 2, 1])
month = c_month.selectbox(ctx.t("scorecards.month"), months, index=months.index(wanted) if wanted in months else 0,
                          format_func=ctx.month, key="sc.month")
level = c_level.segmented_control(ctx.t("scorecards.level"), list(AssessmentLevel), default="department",
                                  format_func=lambda k: ctx.label("scorecards.level", k),
                                  key="sc.level") or "department"
stage = c_stage.selectbox(ctx.t("scorecards.process_stage"), [None, *STAGES],
                          format_func=lambda s: ctx.t("filter.all") if s is None else ctx.label("scorecards.stage", s),
                          key="sc.stage")

if ctx.partial_note(month):
    st.warning(ctx.partial_note(month))
tab_scores, tab_health = st.tabs([ctx.t("scorecards.scores"), ctx.t("scorecards.safety_health_index")])

with tab_scores:
    counts = core.fetch(kv.rating_counts, ctx.scope, month=month, site_ids=f.site_ids, level=level, stage=stage)
    cols = st.columns(5, border=True)
    for col, key in zip(cols, ("excellent", "qualified", "needs_improvement", "not_available"), strict=False):
        col.metric(rating_label(key), ctx.num(counts[key]))
    cols[4].metric(ctx.t("scorecards.flagged_for_a_plan"), ctx.num(counts["flagged"]),
                   help=ctx.t("scorecards.two_consecutive_months_rated_needs_improvement"))

    df = core.fetch(kv.scorecard_table, ctx.scope, month=month, site_ids=f.site_ids, level=level, stage=stage)
    if df.empty:
        st.info(ctx.t("no_data"))
    else:
        view = pd.DataFrame({
            "unit": df["unit"],
            "indicator": [zh if ctx.locale == "zh" and zh else en
                          for en, zh in zip(df["name"], df["name_zh"], strict=False)],
            "stage": df["stage"].map(lambda s: ctx.label("scorecards.stage", s)),
            "value": [value_label(v, u) for v, u in zip(df["value"], df["value_unit"], strict=False)],
            "target": [value_label(v, u) for v, u in zip(df["target"], df["value_unit"], strict=False)],
            "rating": df["rating"].map(rating_label),
            "previous": df["previous_rating"].map(rating_label),
            "plan": df["needs_plan"].map(lambda x: "⚠️ " + ctx.t("scorecards.plan_2") if x else ""),
            "evidence": [ctx.t("scorecards.manual") + str(b) if b else
                         (ctx.t("scorecards.awaiting_entry") if m else ctx.num(n))
                         for b, m, n in zip(df["manual_entry_by"], df["manual"], df["evidence_rows"], strict=False)],
        })
        event = st.dataframe(
            view, hide_index=True, width="stretch", key="sc.table", on_select="rerun", selection_mode="single-row",
            column_config={"unit": ctx.t("scorecards.unit"), "indicator": ctx.t("indicator"),
                           "stage": ctx.t("scorecards.stage"), "value": ctx.t("value"),
                           "target": ctx.t("scorecards.target"), "rating": ctx.t("rating"),
                           "previous": ctx.t("scorecards.last_month"), "plan": ctx.t("scorecards.plan"),
                           "evidence": ctx.t("scorecards.evidence_rows")})
        st.caption(ctx.t("scorecards.click_a_row_to_see_the"))
        ids = df["id"].astype(int).tolist()
        picked = event.selection.rows if event is not None else []
        if picked and picked != st.session_state.get("sc.last_pick"):  # a new click on the table
            st.session_state["sc.detail"] = ids[picked[0]]
        st.session_state["sc.last_pick"] = picked
        if st.session_state.get("sc.detail") not in ids:
            st.session_state["sc.detail"] = ids[0]
        labels = {i: f"{u} · {n}" for i, u, n in zip(ids, view["unit"], view["indicator"], strict=False)}
        score_id = st.selectbox(ctx.t("scorecards.evidence_for"), ids, format_func=labels.get, key="sc.detail")

        try:
            detail = core.fetch(kv.score_detail, ctx.scope, int(score_id))
        except EvidenceNotVisible:
            st.error(ctx.t("scorecards.this_score_is_outside_your_sites"))
            st.stop()
        s = detail["score"]
        st.subheader(f"{core.plain(s['unit'])} · {core.plain(s['name'])}")
        c1, c2, c3 = st.columns(3, border=True)
        c1.metric(ctx.t("value"), value_label(s["value"], s["value_unit"]))
        c2.metric(ctx.t("rating"), rating_label(s["rating"]))
        c3.metric(ctx.t("scorecards.numerator_denominator"),
                  f"{ctx.num(s['numerator'], 1)} / {ctx.num(s['denominator'], 1)}")
        st.caption(ctx.t("scorecards.formula") + s["formula"])
        hist = detail["history"]
        if hist["value"].notna().sum() > 1:
            st.plotly_chart(kpi_charts.score_history(
                hist, ctx.t("scorecards.last_12_months"), s["value_unit"],
                {"value": ctx.t("value"), "excellent": ctx.t("scorecards.excellent"),
                 "qualified": ctx.t("scorecards.qualified"),
                 **{k: ctx.label("scorecards.rating", k) for k in Rating}}), key="sc.history")
        if s["manual_entry_by"]:
            st.info(ctx.t("scorecards.checked_by") + core.plain(s["manual_entry_by"]) + " — "
                    + core.plain(s["manual_evidence"]))
        for table, rows in detail["tables"].items():
            st.markdown(f"**{ctx.label('scorecards.table', table)}** ({ctx.num(len(rows))})")
            shown = rows.copy()
            if "passes" in shown:
                shown["passes"] = shown["passes"].map(lambda x: "✅" if x else "❌")
            st.dataframe(shown, hide_index=True, width="stretch", key=f"sc.ev.{table}",
                         column_config={"passes": ctx.t("scorecards.passes")})
        row = df[df["id"] == int(score_id)].iloc[0]
        if bool(row["manual"]):
            if may_enter:
                with st.form("sc.manual", border=True):
                    st.markdown("**" + ctx.t("scorecards.record_the_manual_check") + "**")
                    val = st.number_input(ctx.t("value") + f" ({row['value_unit']})", min_value=0.0,
                                          max_value=100.0 if row["value_unit"] == "%" else None, value=100.0,
                                          key="sc.manual.value")
                    who = st.text_input(ctx.t("checked_by"), value=ctx.user.display_name,
                                        key="sc.manual.by")
                    ev = st.text_area(ctx.t("scorecards.evidence_documents_manifest_numbers_photos"),
                                      key="sc.manual.evidence")
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
                st.caption(ctx.t("scorecards.your_role_may_view_but_not"))

    flagged = df[df["needs_plan"].astype(bool)] if not df.empty else df
    if not flagged.empty:
        flagged_title = ctx.t("scorecards.units_flagged_for_an_improvement_plan", flagged=len(flagged))
        with st.expander(flagged_title, expanded=False):
            st.dataframe(flagged[["unit", "name", "value", "previous_value"]], hide_index=True, width="stretch",
                         key="sc.flagged",
                         column_config={"unit": ctx.t("scorecards.unit"), "name": ctx.t("indicator"),
                                        "value": st.column_config.NumberColumn(ctx.t("value"), format="%.1f"),
                                        "previous_value": st.column_config.NumberColumn(ctx.t("scorecards.last_month"),
                                                                                        format="%.1f")})

with tab_health:
    hdf = core.fetch(kv.department_health, ctx.scope, month=month, site_ids=f.site_ids)
    st.caption(ctx.t("scorecards.index_0_100_from_hazard_density"))
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
                         "rank": ctx.t("rank"), "unit": ctx.t("department"),
                         "index": st.column_config.ProgressColumn(ctx.t("index"), min_value=0, max_value=100,
                                                                  format="%.1f"),
                         "change": st.column_config.NumberColumn(ctx.vs_last_month(month), format="%+.1f"),
                         "rank_change": ctx.t("rank_change"),
                         "score_hazard_density": st.column_config.NumberColumn(ctx.t("scorecards.density"),
                                                                               format="%.0f"),
                         "score_rectification_rate": st.column_config.NumberColumn(ctx.t("scorecards.rectified"),
                                                                                   format="%.0f"),
                         "score_repeat_rate": st.column_config.NumberColumn(ctx.t("scorecards.repeats"), format="%.0f"),
                         "score_severity_mix": st.column_config.NumberColumn(ctx.t("scorecards.severity"),
                                                                             format="%.0f"),
                         "hazards": ctx.t("scorecards.hazards")})
