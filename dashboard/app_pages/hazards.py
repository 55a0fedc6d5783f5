"""Hazards and actions: report a hazard (with a photo), follow one's reports, the SLA board."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import core
from db.queries import hazards as hazard_q
from db.queries import org, safety
from qhse.domain import access
from qhse.domain.sla import BOARD_STATES
from qhse.domain.uploads import MAX_PHOTO_BYTES, UploadError
from qhse.domain.workflow import CATEGORIES, WorkflowError
from qhse.services.hazard_intake import report
from qhse.vocab import HazardSeverity

ctx = core.page_context()
f = ctx.filters
see_board = ctx.can(access.VIEW_ACTIONS)

STATE_ICON = {"escalated": ":material/priority_high:", "overdue": ":material/schedule:",
              "due_soon": ":material/hourglass_top:", "on_time": ":material/check_circle:"}

tabs = [ctx.t("hazards.report_a_hazard"), ctx.t("hazards.my_reports")]
if see_board:
    tabs += [ctx.t("hazards.sla_board"), ctx.t("hazards.awaiting_response")]
tab = st.tabs(tabs)

# -- report -----------------------------------------------------------------------------
with tab[0]:
    sites = core.fetch(org.sites, ctx.scope, ttl="slow")
    site_labels = dict(zip(sites["id"].tolist(), (sites["code"] + " · " + sites["name"]).tolist(), strict=False))
    c1, c2 = st.columns(2)
    site_id = c1.selectbox(ctx.t("site"), list(site_labels), format_func=site_labels.get, key="hz.site")
    areas = core.fetch(org.areas, ctx.scope, (site_id,), ttl="slow") if site_id else None
    area_labels = dict(zip(areas["id"].tolist(), areas["name"].tolist(), strict=False)) if areas is not None else {}
    area_id = c2.selectbox(ctx.t("area"), list(area_labels), format_func=area_labels.get, key="hz.area")
    flash = st.session_state.pop("hz.flash", None)
    if flash:
        st.success(flash, icon=":material/check:")
    # Not cleared on submit: a refused report keeps what was typed; a saved one is cleared below.
    with st.form("hz.form", clear_on_submit=False):
        title = st.text_input(ctx.t("hazards.what_is_the_hazard"), max_chars=300, key="hz.title")
        c1, c2 = st.columns(2)
        category = c1.selectbox(ctx.t("category"), CATEGORIES, key="hz.category",
                                format_func=lambda c: ctx.label("hazard_category", c))
        severity = c2.selectbox(ctx.t("severity"), list(HazardSeverity), index=1, key="hz.severity",
                                format_func=lambda s: ctx.label("hazard_severity", s))
        c1, c2 = st.columns(2)
        likelihood = c1.slider(ctx.t("hazards.likelihood_1_rare_5_almost_certain"), 1, 5, 3,
                               key="hz.likelihood")
        consequence = c2.slider(ctx.t("hazards.consequence_1_minor_5_catastrophic"), 1, 5, 3,
                                key="hz.consequence")
        description = st.text_area(ctx.t("hazards.details_optional"), key="hz.description")
        photo = st.file_uploader(
            ctx.t("hazards.photo_jpeg_png_or_webp_at", mb=MAX_PHOTO_BYTES // 1_000_000),
            type=["jpg", "jpeg", "png", "webp"], key="hz.photo")
        sent = st.form_submit_button(ctx.t("hazards.submit_report"), type="primary")
    if sent:
        if not area_id:
            st.error(ctx.t("hazards.choose_the_area"))
        else:
            try:
                hid = report(core.engine(), ctx.scope, site_id=int(site_id), area_id=int(area_id), category=category,
                             title=title, severity=severity, description=description, likelihood=likelihood,
                             consequence=consequence, photo=photo.getvalue() if photo else None,
                             photo_name=photo.name if photo else "")
            except UploadError as exc:
                st.error(ctx.t("hazards.photo_refused_exc_nothing_was_saved", exc=core.plain(exc)))
            except (WorkflowError, access.AccessDenied) as exc:
                st.error(ctx.t("hazards.report_refused_exc", exc=core.plain(exc)))
            else:
                core.invalidate("live", "standard")
                st.session_state["hz.flash"] = ctx.t("hazards.hazard_hid_reported_you_can_follow", hid=hid)
                for k in ("hz.title", "hz.description", "hz.photo", "hz.likelihood", "hz.consequence"):
                    st.session_state.pop(k, None)
                st.rerun()

# -- my reports -----------------------------------------------------------------------------
with tab[1]:
    mine = core.fetch(safety.my_reports, ctx.scope, ttl="live")
    if mine.empty:
        st.info(ctx.t("hazards.you_have_not_reported_a_hazard"))
    else:
        c1, c2, c3 = st.columns(3, border=True)
        c1.metric(ctx.t("hazards.reports"), ctx.num(len(mine)))
        c2.metric(ctx.t("hazards.still_open"), ctx.num(int((~mine["status"].isin(["closed", "rejected"])).sum())))
        c3.metric(ctx.t("hazards.points"), ctx.num(int(mine["points_awarded"].sum())))
        st.dataframe(mine.assign(reported_at=mine["reported_at"].map(ctx.datetime),
                                 last_step_at=mine["last_step_at"].map(ctx.datetime),
                                 severity=mine["severity"].map(lambda s: ctx.label("hazard_severity", s)),
                                 photo=mine["photo_path"].notna()),
                     hide_index=True, width="stretch",
                     column_order=["id", "reported_at", "title", "site", "area", "severity", "status", "last_step",
                                   "last_step_at", "points_awarded", "photo"],
                     column_config={"id": "#", "reported_at": ctx.t("reported"),
                                    "title": ctx.t("hazard"), "site": ctx.t("site"), "area": ctx.t("area"),
                                    "severity": ctx.t("severity"), "status": ctx.t("status"),
                                    "last_step": ctx.t("hazards.last_step"),
                                    "last_step_at": ctx.t("hazards.when"), "points_awarded": ctx.t("hazards.points"),
                                    "photo": ctx.t("hazards.photo")})
        with_photo = mine[mine["photo_path"].notna()]
        if not with_photo.empty:
            pick = st.selectbox(ctx.t("hazards.show_the_photo_of"), with_photo["id"].tolist(), key="hz.photo_of",
                                format_func=lambda i: f"#{i} {with_photo.loc[with_photo['id'] == i, 'title'].iloc[0]}")
            path = core.fetch(safety.hazard_photo_path, ctx.scope, int(pick), ttl="live")
            if path:
                try:
                    st.image(path, width=360)
                except (OSError, ValueError):
                    st.warning(ctx.t("hazards.the_photo_file_is_missing"))

# -- SLA board --------------------------------------------------------------------------------
if see_board:
    with tab[2]:
        now = dt.datetime.now(dt.UTC)
        board = core.fetch(hazard_q.sla_board, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids, ttl="live")
        cols = st.columns(4, border=True)
        for col, state in zip(cols, BOARD_STATES, strict=False):
            n = int((board["state"] == state).sum()) if len(board) else 0
            col.metric(ctx.label('sla_state', state), ctx.num(n))
        if board.empty:
            st.success(ctx.t("hazards.nothing_is_waiting_on_an_sla"))
        else:
            lanes = st.columns(4)
            for lane, state in zip(lanes, BOARD_STATES, strict=False):
                items = board[board["state"] == state].head(6)
                lane.markdown(f"**{ctx.label('sla_state', state)}**")
                for r in items.itertuples():
                    with lane.container(border=True):
                        due = ctx.duration_h(r.hours_to_due)
                        kind = ctx.t("hazards.response") if r.item == "response" else ctx.t("hazards.action_2")
                        st.markdown(f"{STATE_ICON[state]} **#{r.hazard_id}** {core.plain(r.title)} · {kind}")
                        st.caption(f"{core.plain(r.site)} · {core.plain(r.area)} · "
                                   f"{ctx.label('hazard_severity', r.severity)}")
                        when = (ctx.t("hazards.due_in_due", due=due) if r.hours_to_due >= 0
                                else ctx.t("hazards.past_due", overdue=due.lstrip('-')))
                        lvl = ctx.label("escalation_level", int(r.escalation_level))
                        who = (r.department if isinstance(r.department, str)
                               else (r.owner if isinstance(r.owner, str) else "-"))
                        st.caption(f"{core.plain(who)} · {when}"
                                   + (f" · {ctx.t('hazards.escalated_to')} {lvl}" if r.escalation_level else ""))
            st.subheader(ctx.t("hazards.everything_on_an_sla_clock_by"))
            st.dataframe(board.assign(due_at=board["due_at"].map(ctx.datetime),
                                      state=board["state"].map(lambda s: ctx.label("sla_state", s)),
                                      escalated_to=board["escalation_level"].map(
                                          lambda x: ctx.label("escalation_level", int(x))),
                                   item=board["item"].map(lambda x: ctx.t("hazards.response") if x == "response"
                                                          else ctx.t("hazards.action_2")))
                         .sort_values(["hours_to_due"]),
                         hide_index=True, width="stretch",
                         column_order=["item", "action_id", "hazard_id", "state", "due_at", "hours_to_due",
                                       "escalated_to",
                                       "site", "area", "department", "owner", "title", "severity", "team_count"],
                         column_config={"item": ctx.t("hazards.clock"), "action_id": ctx.t("hazards.action"),
                                        "hazard_id": ctx.t("hazard"),
                                        "state": ctx.t("status"), "due_at": ctx.t("hazards.due"),
                                        "hours_to_due": st.column_config.NumberColumn(ctx.t("hazards.hours_to_due"),
                                                                                      format="%.1f"),
                                        "escalated_to": ctx.t("hazards.escalation_level"), "site": ctx.t("site"),
                                        "area": ctx.t("area"), "department": ctx.t("department"),
                                        "owner": ctx.t("hazards.owner"), "title": ctx.t("hazard"),
                                        "severity": ctx.t("severity"), "team_count": ctx.t("hazards.teams")})
    with tab[3]:
        waiting = core.fetch(hazard_q.awaiting_response, ctx.scope, site_ids=f.site_ids, ttl="live")
        if waiting.empty:
            st.success(ctx.t("hazards.every_report_has_been_answered"))
        else:
            st.metric(ctx.t("hazards.response_overdue"), ctx.num(int(waiting["response_overdue"].sum())))
            st.dataframe(waiting.assign(reported_at=waiting["reported_at"].map(ctx.datetime),
                                        response_due_at=waiting["response_due_at"].map(ctx.datetime)),
                         hide_index=True, width="stretch",
                         column_config={"hazard_id": "#", "title": ctx.t("hazard"),
                                        "category": ctx.t("category"), "severity": ctx.t("severity"),
                                        "status": ctx.t("status"), "site": ctx.t("site"), "area": ctx.t("area"),
                                        "reported_at": ctx.t("reported"),
                                        "response_due_at": ctx.t("hazards.response_due"),
                                        "response_overdue": ctx.t("hazards.overdue"),
                                        "hours_to_due": st.column_config.NumberColumn(ctx.t("hazards.hours_to_due"),
                                                                                      format="%.1f")})
