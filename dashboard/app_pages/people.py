"""People: who works where, their training status; health fields only for roles that may read them."""

from __future__ import annotations

import streamlit as st

from dashboard import core
from db.queries import people
from qhse.domain import access

ctx = core.page_context()
sensitive = ctx.can(access.READ_SENSITIVE)  # health fields unmasked (the query layer masks them otherwise)
f = ctx.filters

c1, c2 = st.columns([2, 1])
search = c1.text_input(ctx.t("people.search_name_or_employee_number"), key="people.search")
kind = c2.selectbox(ctx.t("kind"), ["", "employee", "contractor"], key="people.kind",
                    format_func=lambda k: {"": ctx.t("people.everyone"), "employee": ctx.t("people.employees"),
                                           "contractor": ctx.t("people.contractors")}[k])
# Not cached: a read of health data is audited every time it happens.
df = core.call(people.people, ctx.scope, site_ids=f.site_ids, kind=kind or None, search=search or None)
if sensitive:
    st.caption(ctx.t("people.health_fields_are_shown_because_your"), help=None)
else:
    st.caption(ctx.t("people.health_fields_are_masked_for_your"))
if df.empty:
    st.info(ctx.t("no_data"))
else:
    c1, c2, c3 = st.columns(3, border=True)
    c1.metric(ctx.t("people"), ctx.num(len(df)))
    c2.metric(ctx.t("people.with_expired_training"), ctx.num(int((df["training_expired"] > 0).sum())))
    if sensitive:
        c3.metric(ctx.t("people.not_fit_for_duty"), ctx.num(int((df["fit_for_duty"] == False).sum())))  # noqa: E712
    st.dataframe(df.drop(columns=["id"]), hide_index=True, width="stretch",
                 column_config={"employee_no": ctx.t("people.employee_no"), "name": ctx.t("name"),
                                "kind": ctx.t("kind"), "site": ctx.t("site"),
                                "department": ctx.t("department"), "post": ctx.t("people.post"),
                                "training_valid": ctx.t("people.valid_trainings"),
                                "training_expired": ctx.t("people.expired_trainings"),
                                "blood_type": ctx.t("people.blood_type"),
                                "medical_conditions": ctx.t("people.medical_conditions"),
                                "last_medical_exam_on": ctx.t("people.last_medical_exam"),
                                "fit_for_duty": ctx.t("people.fit_for_duty")})
