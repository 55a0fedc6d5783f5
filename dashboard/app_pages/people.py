"""People: who works where, their training status; health fields only for roles that may read them."""

from __future__ import annotations

import streamlit as st

from dashboard import core
from db.queries import people

ctx = core.page_context()
f = ctx.filters

st.title(ctx.tr("People and training", "人员与培训"))
c1, c2 = st.columns([2, 1])
search = c1.text_input(ctx.tr("Search name or employee number", "搜索姓名或工号"), key="people.search")
kind = c2.selectbox(ctx.tr("Kind", "类别"), ["", "employee", "contractor"], key="people.kind",
                    format_func=lambda k: {"": ctx.tr("everyone", "全部"), "employee": ctx.tr("employees", "员工"),
                                           "contractor": ctx.tr("contractors", "承包商人员")}[k])
# Not cached: a read of health data is audited every time it happens.
df = core.call(people.people, ctx.scope, site_ids=f.site_ids, kind=kind or None, search=search or None)
if ctx.scope.sensitive:
    st.caption(ctx.tr("Health fields are shown because your role may read them; this read is recorded in the audit log.",
                      "您的角色可查看健康信息；本次读取已记入审计日志。"), help=None)
else:
    st.caption(ctx.tr("Health fields are masked for your role.", "您的角色无权查看健康信息，已脱敏显示。"))
if df.empty:
    st.info(ctx.t("no_data"))
else:
    c1, c2, c3 = st.columns(3, border=True)
    c1.metric(ctx.tr("People", "人数"), ctx.num(len(df)))
    c2.metric(ctx.tr("With expired training", "有过期培训的人员"), ctx.num(int((df["training_expired"] > 0).sum())))
    if ctx.scope.sensitive:
        c3.metric(ctx.tr("Not fit for duty", "不适岗人员"), ctx.num(int((df["fit_for_duty"] == False).sum())))  # noqa: E712
    st.dataframe(df.drop(columns=["id"]), hide_index=True, width="stretch",
                 column_config={"employee_no": ctx.tr("Employee no.", "工号"), "name": ctx.tr("Name", "姓名"),
                                "kind": ctx.tr("Kind", "类别"), "site": ctx.t("site"),
                                "department": ctx.tr("Department", "部门"), "post": ctx.tr("Post", "岗位"),
                                "training_valid": ctx.tr("Valid trainings", "有效培训"),
                                "training_expired": ctx.tr("Expired trainings", "过期培训"),
                                "blood_type": ctx.tr("Blood type", "血型"),
                                "medical_conditions": ctx.tr("Medical conditions", "健康状况"),
                                "last_medical_exam_on": ctx.tr("Last medical exam", "最近体检"),
                                "fit_for_duty": ctx.tr("Fit for duty", "适岗")})
