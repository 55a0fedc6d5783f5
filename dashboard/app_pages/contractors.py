"""Contractors and training: companies and approvals, jobs with checks and sign-offs, certificates,
training due soon per department and the no-entry warnings of training gating."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import core
from db.queries import contractors as cq
from db.queries import training as tq
from qhse.settings import get_settings
from qhse.domain.contractors import ContractorError, approval_capacities, may_approve_jobs
from qhse.services.contractors import approve_company, approve_job

ctx = core.page_context()
f = ctx.filters
today = dt.datetime.now(core.report_tz()).date()
STATUS = {"pending": ("pending", "待审批"), "approved": ("approved", "已批准"), "suspended": ("suspended", "已暂停"),
          "requested": ("requested", "待审批"), "active": ("active", "作业中"), "completed": ("completed", "已完成"),
          "cancelled": ("cancelled", "已取消")}
PARTY = {"contractor": ("Contractor", "承包商"), "supervisor": ("Supervisor", "监护人"),
         "area_owner": ("Area owner", "区域负责人"), "safety": ("Safety", "安全部门")}


def st_label(s: str) -> str:
    return ctx.tr(*STATUS.get(s, (s, s)))


st.title(ctx.tr("Contractors and training", "承包商与培训"))
t_comp, t_jobs, t_qual, t_train = st.tabs([ctx.tr("Companies", "承包商单位"), ctx.tr("Jobs", "作业"),
                                           ctx.tr("Certificates", "资质证书"), ctx.tr("Training and entry", "培训与准入")])

# -- companies ------------------------------------------------------------------------------
with t_comp:
    comp = core.fetch(cq.companies, ctx.scope, on=today)
    c1, c2, c3 = st.columns(3, border=True)
    c1.metric(ctx.tr("Approved", "已批准"), ctx.num(int((comp["status"] == "approved").sum())))
    c2.metric(ctx.tr("Awaiting approval", "待审批"), ctx.num(int((comp["status"] == "pending").sum())))
    c3.metric(ctx.tr("Licence expired", "执照过期"), ctx.num(int((~comp["licence_valid"].astype(bool)).sum())))
    st.dataframe(comp.assign(status=comp["status"].map(st_label)), hide_index=True, width="stretch",
                 column_order=["id", "name", "status", "licence_no", "licence_expires_on", "safety_licence_expires_on",
                               "approved_safety_by", "approved_legal_by", "workers", "inducted", "open_jobs"],
                 column_config={"id": "#", "name": ctx.tr("Company", "单位"), "status": ctx.t("status"),
                                "licence_no": ctx.tr("Licence", "营业执照"),
                                "licence_expires_on": ctx.tr("Licence expires", "执照到期"),
                                "safety_licence_expires_on": ctx.tr("Safety licence expires", "安全许可到期"),
                                "approved_safety_by": ctx.tr("Safety approval", "安全审批"),
                                "approved_legal_by": ctx.tr("Legal approval", "法务审批"),
                                "workers": ctx.tr("Workers", "人员"), "inducted": ctx.tr("Inducted", "已通过入场培训"),
                                "open_jobs": ctx.tr("Open jobs", "进行中作业")})
    capacities = list(approval_capacities(ctx.scope))
    todo = comp[comp["status"] != "approved"]
    if capacities and not todo.empty:
        with st.container(border=True):
            st.subheader(ctx.tr("Approve a company", "审批承包商"))
            names = dict(zip(todo["id"].astype(int), todo["name"]))
            a1, a2, a3 = st.columns([3, 1, 1])
            cid = a1.selectbox(ctx.tr("Company", "单位"), list(names), format_func=names.get, key="ct.company")
            cap = a2.selectbox(ctx.tr("As", "审批身份"), capacities, key="ct.capacity",
                               format_func=lambda c: ctx.tr({"safety": "Safety", "legal": "Legal"}[c],
                                                            {"safety": "安全", "legal": "法务"}[c]))
            if a3.button(ctx.tr("Approve", "批准"), type="primary", key="ct.approve", width="stretch"):
                try:
                    status = approve_company(core.engine(), int(cid), cap, actor=ctx.scope)
                except ContractorError as exc:
                    st.error(str(exc))
                else:
                    core.invalidate("standard")
                    st.success(ctx.tr(f"Approval recorded; the company is now {status}.",
                                      f"审批已记录，单位状态：{st_label(status)}。"))

# -- jobs -----------------------------------------------------------------------------------
with t_jobs:
    status = st.selectbox(ctx.t("status"), ["all", "requested", "approved", "active", "completed", "cancelled"],
                          format_func=lambda s: ctx.tr("all", "全部") if s == "all" else st_label(s), key="ct.jstatus")
    jobs = core.fetch(cq.jobs, ctx.scope, status=None if status == "all" else status, ttl="live")
    if jobs.empty:
        st.info(ctx.t("no_data"))
    else:
        st.dataframe(jobs.assign(status=jobs["status"].map(st_label), starts_at=jobs["starts_at"].map(ctx.datetime),
                                 ends_at=jobs["ends_at"].map(ctx.datetime),
                                 work_types=jobs["work_types"].map(lambda x: ", ".join(x or []))),
                     hide_index=True, width="stretch",
                     column_order=["id", "site", "area", "company", "scope", "work_types", "starts_at", "ends_at",
                                   "status", "workers", "inside_now", "checks", "signoffs"],
                     column_config={"id": "#", "site": ctx.t("site"), "area": ctx.t("area"),
                                    "company": ctx.tr("Company", "单位"), "scope": ctx.tr("Scope", "作业内容"),
                                    "work_types": ctx.tr("Work types", "作业类型"), "starts_at": ctx.tr("From", "开始"),
                                    "ends_at": ctx.tr("To", "结束"), "status": ctx.t("status"),
                                    "workers": ctx.tr("Workers", "人员"), "inside_now": ctx.tr("Inside now", "当前在场"),
                                    "checks": ctx.tr("Site checks", "现场检查"), "signoffs": ctx.tr("Sign-offs", "验收签字")})
        ids = jobs["id"].astype(int).tolist()
        jid = st.selectbox(ctx.tr("Job", "作业"), ids, key="ct.job",
                           format_func=lambda i: f"#{i} · " + str(jobs.loc[jobs["id"] == i, "scope"].iloc[0]))
        d = core.fetch(cq.job_detail, ctx.scope, int(jid), ttl="live")
        if d is not None:
            j = d["job"]
            st.caption(ctx.tr(f"Approved by {core.plain(j['approved_by'] or '-')}; window {ctx.datetime(j['starts_at'])} - "
                              f"{ctx.datetime(j['ends_at'])}",
                              f"审批人 {core.plain(j['approved_by'] or '-')}；作业时段 {ctx.datetime(j['starts_at'])} - "
                              f"{ctx.datetime(j['ends_at'])}"))
            w1, w2 = st.columns(2)
            w1.markdown("**" + ctx.tr("Workers", "作业人员") + "**")
            w1.dataframe(pd.DataFrame(d["workers"], columns=["employee_no", "name", "induction_score"]),
                         hide_index=True, width="stretch",
                         column_config={"employee_no": ctx.tr("No.", "工号"), "name": ctx.tr("Name", "姓名"),
                                        "induction_score": ctx.tr("Induction %", "入场考试 %")})
            w2.markdown("**" + ctx.tr("Completion sign-off", "完工验收签字") + "**")
            signed = {x["party"]: x for x in d["signoffs"]}
            for p, (en, zh) in PARTY.items():
                x = signed.get(p)
                w2.markdown(f"- {ctx.tr(en, zh)}: " + (f"✅ {core.plain(x['signed_by'])} · {ctx.datetime(x['signed_at'])}" if x
                                                       else ctx.tr("not signed", "未签字")))
            st.markdown("**" + ctx.tr("Supervisor site checks", "监护人现场检查") + "**")
            if not d["checks"]:
                st.caption(ctx.tr("No site check recorded yet.", "尚无现场检查记录。"))
            data_dir = get_settings().data_path
            for k in d["checks"]:
                with st.container(border=True):
                    st.markdown(f"**#{k['id']}** · {ctx.datetime(k['checked_at'])} · {core.plain(k['result'])} · "
                                f"{core.plain(k['supervisor'])}  \n{core.plain(k['note'])}")
                    imgs = [str(data_dir / p) for p in k["photos"] if (data_dir / p).is_file()]
                    if imgs:
                        st.image(imgs, width=160)
                    if len(imgs) < len(k["photos"]):
                        st.caption(ctx.tr(f"{len(k['photos']) - len(imgs)} photo file(s) not found on this server.",
                                          f"{len(k['photos']) - len(imgs)} 张照片在本服务器上未找到。"))
            if j["status"] == "requested" and may_approve_jobs(ctx.scope):
                if st.button(ctx.tr("Approve this job", "批准该作业"), type="primary", key="ct.jobapprove"):
                    try:
                        approve_job(core.engine(), int(jid), actor=ctx.scope)
                    except ContractorError as exc:
                        st.error(str(exc))
                    else:
                        core.invalidate("live", "standard")
                        st.rerun()

# -- certificates ---------------------------------------------------------------------------
with t_qual:
    days = st.slider(ctx.tr("Expired or expiring within (days)", "已过期或将在以下天数内到期"), 0, 365, 60, key="ct.qdays")
    q = core.fetch(cq.qualifications, ctx.scope, on=today, within_days=days)
    st.dataframe(q, hide_index=True, width="stretch",
                 column_order=["holder", "holder_type", "company", "kind", "number", "expires_on", "days_left", "state"],
                 column_config={"holder": ctx.tr("Holder", "持证人"), "holder_type": ctx.tr("Type", "类别"),
                                "company": ctx.tr("Company", "单位"), "kind": ctx.tr("Certificate", "证书"),
                                "number": ctx.tr("Number", "编号"), "expires_on": ctx.tr("Expires", "到期日"),
                                "days_left": ctx.tr("Days left", "剩余天数"), "state": ctx.t("status")})

# -- training and entry gating ---------------------------------------------------------------
with t_train:
    tdays = st.slider(ctx.tr("Due within (days)", "到期天数"), 7, 180, 30, key="ct.tdays")
    due = core.fetch(tq.due_soon, ctx.scope, on=today, days=tdays, site_ids=f.site_ids)
    per_dept = tq.due_soon_by_department(due)
    st.markdown("**" + ctx.tr("Training due soon, per department", "各部门即将到期的培训") + "**")
    if per_dept.empty:
        st.success(ctx.tr("Nothing expires in this window.", "该时间段内没有到期的培训。"))
    else:
        st.dataframe(per_dept, hide_index=True, width="stretch",
                     column_config={"site": ctx.t("site"), "department": ctx.tr("Department", "部门"),
                                    "due_soon": ctx.tr("Due soon", "即将到期"), "expired": ctx.tr("Expired", "已过期"),
                                    "people": ctx.tr("People", "人数")})
        with st.expander(ctx.tr("Everyone on the list", "明细")):
            st.dataframe(due, hide_index=True, width="stretch",
                         column_order=["site", "department", "employee_no", "person", "course_code", "course",
                                       "expires_on", "days_left", "status"])
    st.markdown("**" + ctx.tr("No-entry warnings (training gating)", "禁止进入警示（培训准入）") + "**")
    warns = core.fetch(tq.entry_warnings, ctx.scope, open_only=True, site_ids=f.site_ids, ttl="live")
    if warns.empty:
        st.success(ctx.tr("No open no-entry warning.", "没有未解除的禁止进入警示。"))
    else:
        st.dataframe(warns.assign(raised_at=warns["raised_at"].map(ctx.datetime)), hide_index=True, width="stretch",
                     column_order=["id", "site", "area", "person", "employee_no", "rule", "message", "raised_at",
                                   "notified"],
                     column_config={"id": "#", "site": ctx.t("site"), "area": ctx.t("area"),
                                    "person": ctx.tr("Person", "人员"), "employee_no": ctx.tr("No.", "工号"),
                                    "rule": ctx.tr("Rule", "规则"), "message": ctx.tr("Warning", "警示"),
                                    "raised_at": ctx.tr("Raised", "时间"), "notified": ctx.tr("Owner told", "已通知")})
    with st.expander(ctx.tr("Gating rules", "准入规则")):
        rules = core.fetch(tq.gating_rules, ctx.scope, ttl="slow")
        st.dataframe(rules.assign(area_kinds=rules["area_kinds"].map(lambda x: ", ".join(x or [])),
                                  required_courses=rules["required_courses"].map(lambda x: ", ".join(x or []))),
                     hide_index=True, width="stretch")
