"""Contractors and training: companies and approvals, jobs with checks and sign-offs, certificates,
training due soon per department and the no-entry warnings of training gating."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import core
from db.queries import contractors as cq
from db.queries import training as tq
from qhse.domain.contractors import ContractorError, approval_capacities, may_approve_jobs
from qhse.services.contractors import approve_company, approve_job
from qhse.settings import get_settings
from qhse.vocab import SignoffParty

ctx = core.page_context()
f = ctx.filters
today = dt.datetime.now(core.report_tz()).date()


def st_label(s: str) -> str:
    return ctx.label("contractors.status", s)


t_comp, t_jobs, t_qual, t_train = st.tabs([ctx.t("contractors.companies"), ctx.t("contractors.jobs"),
                                           ctx.t("contractors.certificates"), ctx.t("contractors.training_and_entry")])

# -- companies ------------------------------------------------------------------------------
with t_comp:
    comp = core.fetch(cq.companies, ctx.scope, on=today)
    c1, c2, c3 = st.columns(3, border=True)
    c1.metric(ctx.t("contractors.approved"), ctx.num(int((comp["status"] == "approved").sum())))
    c2.metric(ctx.t("contractors.awaiting_approval"), ctx.num(int((comp["status"] == "pending").sum())))
    c3.metric(ctx.t("contractors.licence_expired"), ctx.num(int((~comp["licence_valid"].astype(bool)).sum())))
    st.dataframe(comp.assign(status=comp["status"].map(st_label)), hide_index=True, width="stretch",
                 column_order=["id", "name", "status", "licence_no", "licence_expires_on", "safety_licence_expires_on",
                               "approved_safety_by", "approved_legal_by", "workers", "inducted", "open_jobs"],
                 column_config={"id": "#", "name": ctx.t("company"), "status": ctx.t("status"),
                                "licence_no": ctx.t("contractors.licence"),
                                "licence_expires_on": ctx.t("contractors.licence_expires"),
                                "safety_licence_expires_on": ctx.t("contractors.safety_licence_expires"),
                                "approved_safety_by": ctx.t("contractors.safety_approval"),
                                "approved_legal_by": ctx.t("contractors.legal_approval"),
                                "workers": ctx.t("contractors.workers"), "inducted": ctx.t("contractors.inducted"),
                                "open_jobs": ctx.t("contractors.open_jobs")})
    capacities = list(approval_capacities(ctx.scope))
    todo = comp[comp["status"] != "approved"]
    if capacities and not todo.empty:
        with st.container(border=True):
            st.subheader(ctx.t("contractors.approve_a_company"))
            names = dict(zip(todo["id"].astype(int), todo["name"], strict=False))
            a1, a2, a3 = st.columns([3, 1, 1])
            cid = a1.selectbox(ctx.t("company"), list(names), format_func=names.get, key="ct.company")
            cap = a2.selectbox(ctx.t("contractors.as"), capacities, key="ct.capacity",
                               format_func=lambda c: ctx.t(f"contractors.capacity.{c}"))
            if a3.button(ctx.t("contractors.approve"), type="primary", key="ct.approve", width="stretch"):
                try:
                    status = approve_company(core.engine(), int(cid), cap, actor=ctx.scope)
                except ContractorError as exc:
                    st.error(str(exc))
                else:
                    core.invalidate("standard")
                    st.success(ctx.t("contractors.approval_recorded_the_company_is_now", status=st_label(status)))

# -- jobs -----------------------------------------------------------------------------------
with t_jobs:
    status = st.selectbox(ctx.t("status"), ["all", "requested", "approved", "active", "completed", "cancelled"],
                          format_func=lambda s: ctx.t("contractors.all") if s == "all" else st_label(s),
                          key="ct.jstatus")
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
                                    "company": ctx.t("company"), "scope": ctx.t("contractors.scope"),
                                    "work_types": ctx.t("contractors.work_types"),
                                    "starts_at": ctx.t("contractors.from"),
                                    "ends_at": ctx.t("contractors.to"), "status": ctx.t("status"),
                                    "workers": ctx.t("contractors.workers"),
                                    "inside_now": ctx.t("contractors.inside_now"),
                                    "checks": ctx.t("contractors.site_checks"),
                                    "signoffs": ctx.t("contractors.sign_offs")})
        ids = jobs["id"].astype(int).tolist()
        jid = st.selectbox(ctx.t("job"), ids, key="ct.job",
                           format_func=lambda i: f"#{i} · " + str(jobs.loc[jobs["id"] == i, "scope"].iloc[0]))
        d = core.fetch(cq.job_detail, ctx.scope, int(jid), ttl="live")
        if d is not None:
            j = d["job"]
            st.caption(ctx.t("contractors.approved_by_approved_by_window_starts",
                             approved_by=core.plain(j['approved_by'] or '-'), starts_at=ctx.datetime(j['starts_at']),
                             ends_at=ctx.datetime(j['ends_at'])))
            w1, w2 = st.columns(2)
            w1.markdown("**" + ctx.t("contractors.workers_2") + "**")
            w1.dataframe(pd.DataFrame(d["workers"], columns=["employee_no", "name", "induction_score"]),
                         hide_index=True, width="stretch",
                         column_config={"employee_no": ctx.t("employee_no"), "name": ctx.t("name"),
                                        "induction_score": ctx.t("contractors.induction")})
            w2.markdown("**" + ctx.t("contractors.completion_sign_off") + "**")
            signed = {x["party"]: x for x in d["signoffs"]}
            for p in SignoffParty:
                x = signed.get(p)
                w2.markdown(f"- {ctx.label('signoff_party', p)}: "
                            + (f"✅ {core.plain(x['signed_by'])} · {ctx.datetime(x['signed_at'])}" if x
                               else ctx.t("contractors.not_signed")))
            st.markdown("**" + ctx.t("contractors.supervisor_site_checks") + "**")
            if not d["checks"]:
                st.caption(ctx.t("contractors.no_site_check_recorded_yet"))
            data_dir = get_settings().data_path
            for k in d["checks"]:
                with st.container(border=True):
                    st.markdown(f"**#{k['id']}** · {ctx.datetime(k['checked_at'])} · {core.plain(k['result'])} · "
                                f"{core.plain(k['supervisor'])}  \n{core.plain(k['note'])}")
                    imgs = [str(data_dir / p) for p in k["photos"] if (data_dir / p).is_file()]
                    if imgs:
                        st.image(imgs, width=160)
                    if len(imgs) < len(k["photos"]):
                        st.caption(ctx.t("contractors.photos_photo_file_s_not_found",
                                         photos=len(k['photos']) - len(imgs)))
            if j["status"] == "requested" and may_approve_jobs(ctx.scope):
                if st.button(ctx.t("contractors.approve_this_job"), type="primary", key="ct.jobapprove"):
                    try:
                        approve_job(core.engine(), int(jid), actor=ctx.scope)
                    except ContractorError as exc:
                        st.error(str(exc))
                    else:
                        core.invalidate("live", "standard")
                        st.rerun()

# -- certificates ---------------------------------------------------------------------------
with t_qual:
    days = st.slider(ctx.t("contractors.expired_or_expiring_within_days"), 0, 365, 60, key="ct.qdays")
    q = core.fetch(cq.qualifications, ctx.scope, on=today, within_days=days)
    st.dataframe(q, hide_index=True, width="stretch",
                 column_order=["holder", "holder_type", "company", "kind", "number", "expires_on", "days_left",
                               "state"],
                 column_config={"holder": ctx.t("contractors.holder"), "holder_type": ctx.t("contractors.type"),
                                "company": ctx.t("company"), "kind": ctx.t("contractors.certificate"),
                                "number": ctx.t("contractors.number"), "expires_on": ctx.t("contractors.expires"),
                                "days_left": ctx.t("contractors.days_left"), "state": ctx.t("status")})

# -- training and entry gating ---------------------------------------------------------------
with t_train:
    tdays = st.slider(ctx.t("contractors.due_within_days"), 7, 180, 30, key="ct.tdays")
    due = core.fetch(tq.due_soon, ctx.scope, on=today, days=tdays, site_ids=f.site_ids)
    per_dept = tq.due_soon_by_department(due)
    st.markdown("**" + ctx.t("contractors.training_due_soon_per_department") + "**")
    if per_dept.empty:
        st.success(ctx.t("contractors.nothing_expires_in_this_window"))
    else:
        st.dataframe(per_dept, hide_index=True, width="stretch",
                     column_config={"site": ctx.t("site"), "department": ctx.t("department"),
                                    "due_soon": ctx.t("contractors.due_soon"), "expired": ctx.t("contractors.expired"),
                                    "people": ctx.t("people")})
        with st.expander(ctx.t("contractors.everyone_on_the_list")):
            st.dataframe(due, hide_index=True, width="stretch",
                         column_order=["site", "department", "employee_no", "person", "course_code", "course",
                                       "expires_on", "days_left", "status"])
    st.markdown("**" + ctx.t("contractors.no_entry_warnings_training_gating") + "**")
    warns = core.fetch(tq.entry_warnings, ctx.scope, open_only=True, site_ids=f.site_ids, ttl="live")
    if warns.empty:
        st.success(ctx.t("contractors.no_open_no_entry_warning"))
    else:
        st.dataframe(warns.assign(raised_at=warns["raised_at"].map(ctx.datetime)), hide_index=True, width="stretch",
                     column_order=["id", "site", "area", "person", "employee_no", "rule", "message", "raised_at",
                                   "notified"],
                     column_config={"id": "#", "site": ctx.t("site"), "area": ctx.t("area"),
                                    "person": ctx.t("contractors.person"), "employee_no": ctx.t("employee_no"),
                                    "rule": ctx.t("rule"), "message": ctx.t("contractors.warning"),
                                    "raised_at": ctx.t("contractors.raised"),
                                    "notified": ctx.t("contractors.owner_told")})
    with st.expander(ctx.t("contractors.gating_rules")):
        rules = core.fetch(tq.gating_rules, ctx.scope, ttl="slow")
        st.dataframe(rules.assign(area_kinds=rules["area_kinds"].map(lambda x: ", ".join(x or [])),
                                  required_courses=rules["required_courses"].map(lambda x: ", ".join(x or []))),
                     hide_index=True, width="stretch")
