"""Hazards and actions: report a hazard (with a photo), follow one's reports, the SLA board."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import core
from db.queries import hazards as hazard_q
from db.queries import org, safety
from qhse.domain import access
from qhse.domain.workflow import WorkflowError
from qhse.services.hazard_intake import CATEGORIES, SEVERITIES, report
from qhse.services.uploads import MAX_PHOTO_BYTES, UploadError

ctx = core.page_context()
f = ctx.filters
see_board = access.can(ctx.scope, access.VIEW_ACTIONS)

SEV = {"low": ("Low", "低"), "normal": ("Normal", "一般"), "high": ("High", "较大"), "severe": ("Severe", "重大")}
STATE = {"escalated": ("Escalated", "已升级"), "overdue": ("Overdue", "已逾期"), "due_soon": ("Due within 24 h", "24 小时内到期"),
         "on_time": ("On time", "按期")}
STATE_ICON = {"escalated": ":material/priority_high:", "overdue": ":material/schedule:",
              "due_soon": ":material/hourglass_top:", "on_time": ":material/check_circle:"}
CAT = {"chemical": "化学品", "electrical": "电气", "fire": "消防", "machine_guarding": "机械防护", "lockout": "上锁挂牌",
       "ppe": "个人防护", "housekeeping": "现场管理", "ventilation": "通风", "environmental": "环境", "ergonomics": "人机工效",
       "esd": "静电防护", "other": "其他"}
LEVEL = {0: ("owner", "责任人"), 1: ("area manager", "区域经理"), 2: ("plant manager", "工厂经理"), 3: ("group", "集团")}

st.title(ctx.tr("Hazards and actions", "隐患与整改"))
tabs = [ctx.tr("Report a hazard", "上报隐患"), ctx.tr("My reports", "我的上报")]
if see_board:
    tabs += [ctx.tr("SLA board", "整改时限看板"), ctx.tr("Awaiting response", "待响应")]
tab = st.tabs(tabs)

# -- report -----------------------------------------------------------------------------
with tab[0]:
    sites = core.fetch(org.sites, ctx.scope, ttl="slow")
    site_labels = dict(zip(sites["id"].tolist(), (sites["code"] + " · " + sites["name"]).tolist()))
    c1, c2 = st.columns(2)
    site_id = c1.selectbox(ctx.t("site"), list(site_labels), format_func=site_labels.get, key="hz.site")
    areas = core.fetch(org.areas, ctx.scope, (site_id,), ttl="slow") if site_id else None
    area_labels = dict(zip(areas["id"].tolist(), areas["name"].tolist())) if areas is not None else {}
    area_id = c2.selectbox(ctx.t("area"), list(area_labels), format_func=area_labels.get, key="hz.area")
    flash = st.session_state.pop("hz.flash", None)
    if flash:
        st.success(flash, icon=":material/check:")
    # Not cleared on submit: a refused report keeps what was typed; a saved one is cleared below.
    with st.form("hz.form", clear_on_submit=False):
        title = st.text_input(ctx.tr("What is the hazard?", "隐患描述（标题）"), max_chars=300, key="hz.title")
        c1, c2 = st.columns(2)
        category = c1.selectbox(ctx.tr("Category", "类别"), CATEGORIES, key="hz.category",
                                format_func=lambda c: ctx.tr(c.replace("_", " "), CAT.get(c, c)))
        severity = c2.selectbox(ctx.t("severity"), SEVERITIES, index=1, key="hz.severity",
                                format_func=lambda s: ctx.tr(*SEV[s]))
        c1, c2 = st.columns(2)
        likelihood = c1.slider(ctx.tr("Likelihood (1 rare - 5 almost certain)", "可能性（1 罕见 - 5 几乎肯定）"), 1, 5, 3,
                               key="hz.likelihood")
        consequence = c2.slider(ctx.tr("Consequence (1 minor - 5 catastrophic)", "后果（1 轻微 - 5 灾难性）"), 1, 5, 3,
                                key="hz.consequence")
        description = st.text_area(ctx.tr("Details (optional)", "详细说明（可选）"), key="hz.description")
        photo = st.file_uploader(
            ctx.tr(f"Photo (JPEG, PNG or WebP, at most {MAX_PHOTO_BYTES // 1_000_000} MB)",
                   f"照片（JPEG、PNG 或 WebP，不超过 {MAX_PHOTO_BYTES // 1_000_000} MB）"),
            type=["jpg", "jpeg", "png", "webp"], key="hz.photo")
        sent = st.form_submit_button(ctx.tr("Submit report", "提交"), type="primary")
    if sent:
        if not area_id:
            st.error(ctx.tr("Choose the area.", "请选择区域。"))
        else:
            try:
                hid = report(core.engine(), ctx.scope, site_id=int(site_id), area_id=int(area_id), category=category,
                             title=title, severity=severity, description=description, likelihood=likelihood,
                             consequence=consequence, photo=photo.getvalue() if photo else None,
                             photo_name=photo.name if photo else "")
            except UploadError as exc:
                st.error(ctx.tr(f"Photo refused: {core.plain(exc)}. Nothing was saved.", f"照片被拒绝：{core.plain(exc)}。未保存任何内容。"))
            except (WorkflowError, access.AccessDenied) as exc:
                st.error(ctx.tr(f"Report refused: {core.plain(exc)}.", f"上报被拒绝：{core.plain(exc)}。"))
            else:
                core.invalidate("live", "standard")
                st.session_state["hz.flash"] = ctx.tr(f"Hazard #{hid} reported. You can follow it under 'My reports'.",
                                                      f"隐患 #{hid} 已上报，可在“我的上报”中跟踪。")
                for k in ("hz.title", "hz.description", "hz.photo", "hz.likelihood", "hz.consequence"):
                    st.session_state.pop(k, None)
                st.rerun()

# -- my reports -----------------------------------------------------------------------------
with tab[1]:
    mine = core.fetch(safety.my_reports, ctx.scope, ttl="live")
    if mine.empty:
        st.info(ctx.tr("You have not reported a hazard yet.", "您还没有上报过隐患。"))
    else:
        c1, c2, c3 = st.columns(3, border=True)
        c1.metric(ctx.tr("Reports", "上报数"), ctx.num(len(mine)))
        c2.metric(ctx.tr("Still open", "处理中"), ctx.num(int((~mine["status"].isin(["closed", "rejected"])).sum())))
        c3.metric(ctx.tr("Points", "积分"), ctx.num(int(mine["points_awarded"].sum())))
        st.dataframe(mine.assign(reported_at=mine["reported_at"].map(ctx.datetime),
                                 last_step_at=mine["last_step_at"].map(ctx.datetime),
                                 severity=mine["severity"].map(lambda s: ctx.tr(*SEV.get(s, (s, s)))),
                                 photo=mine["photo_path"].notna()),
                     hide_index=True, width="stretch",
                     column_order=["id", "reported_at", "title", "site", "area", "severity", "status", "last_step",
                                   "last_step_at", "points_awarded", "photo"],
                     column_config={"id": "#", "reported_at": ctx.tr("Reported", "上报时间"),
                                    "title": ctx.tr("Hazard", "隐患"), "site": ctx.t("site"), "area": ctx.t("area"),
                                    "severity": ctx.t("severity"), "status": ctx.t("status"),
                                    "last_step": ctx.tr("Last step", "最新进展"),
                                    "last_step_at": ctx.tr("When", "时间"), "points_awarded": ctx.tr("Points", "积分"),
                                    "photo": ctx.tr("Photo", "照片")})
        with_photo = mine[mine["photo_path"].notna()]
        if not with_photo.empty:
            pick = st.selectbox(ctx.tr("Show the photo of", "查看照片"), with_photo["id"].tolist(), key="hz.photo_of",
                                format_func=lambda i: f"#{i} {with_photo.loc[with_photo['id'] == i, 'title'].iloc[0]}")
            path = core.fetch(safety.hazard_photo_path, ctx.scope, int(pick), ttl="live")
            if path:
                try:
                    st.image(path, width=360)
                except (OSError, ValueError):
                    st.warning(ctx.tr("The photo file is missing.", "照片文件缺失。"))

# -- SLA board --------------------------------------------------------------------------------
if see_board:
    with tab[2]:
        now = dt.datetime.now(dt.UTC)
        board = core.fetch(hazard_q.sla_board, ctx.scope, site_ids=f.site_ids, area_ids=f.area_ids, ttl="live")
        cols = st.columns(4, border=True)
        for col, state in zip(cols, STATE):
            n = int((board["state"] == state).sum()) if len(board) else 0
            col.metric(ctx.tr(*STATE[state]), ctx.num(n))
        if board.empty:
            st.success(ctx.tr("Nothing is waiting on an SLA clock.", "没有待处理的计时事项。"))
        else:
            lanes = st.columns(4)
            for lane, state in zip(lanes, STATE):
                items = board[board["state"] == state].head(6)
                lane.markdown(f"**{ctx.tr(*STATE[state])}**")
                for r in items.itertuples():
                    with lane.container(border=True):
                        due = ctx.duration_h(r.hours_to_due)
                        kind = ctx.tr("response", "响应") if r.item == "response" else ctx.tr("action", "整改")
                        st.markdown(f"{STATE_ICON[state]} **#{r.hazard_id}** {core.plain(r.title)} · {kind}")
                        st.caption(f"{core.plain(r.site)} · {core.plain(r.area)} · {ctx.tr(*SEV.get(r.severity, (r.severity, r.severity)))}")
                        when = (ctx.tr(f"due in {due}", f"{due} 后到期") if r.hours_to_due >= 0
                                else ctx.tr(f"{due.lstrip('-')} past due", f"已逾期 {due.lstrip('-')}"))
                        lvl = ctx.tr(*LEVEL[int(r.escalation_level)])
                        who = r.department if isinstance(r.department, str) else (r.owner if isinstance(r.owner, str) else "-")
                        st.caption(f"{core.plain(who)} · {when}"
                                   + (f" · {ctx.tr('escalated to', '已升级至')} {lvl}" if r.escalation_level else ""))
            st.subheader(ctx.tr("Everything on an SLA clock, by due time", "全部计时事项（按到期时间）"))
            st.dataframe(board.assign(due_at=board["due_at"].map(ctx.datetime),
                                      state=board["state"].map(lambda s: ctx.tr(*STATE[s])),
                                      escalated_to=board["escalation_level"].map(lambda x: ctx.tr(*LEVEL[int(x)])),
                                   item=board["item"].map(lambda x: ctx.tr("response", "响应") if x == "response"
                                                          else ctx.tr("action", "整改")))
                         .sort_values(["hours_to_due"]),
                         hide_index=True, width="stretch",
                         column_order=["item", "action_id", "hazard_id", "state", "due_at", "hours_to_due", "escalated_to",
                                       "site", "area", "department", "owner", "title", "severity", "team_count"],
                         column_config={"item": ctx.tr("Clock", "计时对象"), "action_id": ctx.tr("Action", "整改项"), "hazard_id": ctx.tr("Hazard", "隐患"),
                                        "state": ctx.t("status"), "due_at": ctx.tr("Due", "到期时间"),
                                        "hours_to_due": st.column_config.NumberColumn(ctx.tr("Hours to due", "距到期(小时)"),
                                                                                      format="%.1f"),
                                        "escalated_to": ctx.tr("Escalation level", "升级级别"), "site": ctx.t("site"),
                                        "area": ctx.t("area"), "department": ctx.tr("Department", "部门"),
                                        "owner": ctx.tr("Owner", "责任人"), "title": ctx.tr("Hazard", "隐患"),
                                        "severity": ctx.t("severity"), "team_count": ctx.tr("Teams", "参与部门数")})
    with tab[3]:
        waiting = core.fetch(hazard_q.awaiting_response, ctx.scope, site_ids=f.site_ids, ttl="live")
        if waiting.empty:
            st.success(ctx.tr("Every report has been answered.", "所有上报均已响应。"))
        else:
            st.metric(ctx.tr("Response overdue", "响应已逾期"), ctx.num(int(waiting["response_overdue"].sum())))
            st.dataframe(waiting.assign(reported_at=waiting["reported_at"].map(ctx.datetime),
                                        response_due_at=waiting["response_due_at"].map(ctx.datetime)),
                         hide_index=True, width="stretch",
                         column_config={"hazard_id": "#", "title": ctx.tr("Hazard", "隐患"),
                                        "category": ctx.tr("Category", "类别"), "severity": ctx.t("severity"),
                                        "status": ctx.t("status"), "site": ctx.t("site"), "area": ctx.t("area"),
                                        "reported_at": ctx.tr("Reported", "上报时间"),
                                        "response_due_at": ctx.tr("Response due", "响应期限"),
                                        "response_overdue": ctx.tr("Overdue", "逾期"),
                                        "hours_to_due": st.column_config.NumberColumn(ctx.tr("Hours to due", "距到期(小时)"),
                                                                                      format="%.1f")})
