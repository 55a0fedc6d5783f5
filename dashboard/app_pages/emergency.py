"""Emergency response: declare (the plan appears at once), follow the timeline, log, close with a review."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import core
from db.queries import emergency as eq
from db.queries import org
from qhse.domain.emergency import EmergencyError
from qhse.services.emergency import close, declare, log_action, use_resource
from qhse.vocab import EmergencyKind

ctx = core.page_context()


def kind_label(k: str) -> str:
    return ctx.label("emergency_kind", k)


if msg := st.session_state.pop("em.closed_msg", None):
    st.success(msg)

# -- declare ------------------------------------------------------------------------------
with st.container(border=True):
    st.subheader(ctx.t("emergency.declare_an_emergency"))
    sites = core.fetch(org.sites, ctx.scope, ttl="slow")
    site_labels = dict(zip(sites["id"].tolist(), (sites["code"] + " · " + sites["name"]).tolist(), strict=False))
    c1, c2, c3 = st.columns(3)
    site_id = c1.selectbox(ctx.t("site"), list(site_labels), format_func=site_labels.get, key="em.site")
    areas = (core.fetch(org.areas, ctx.scope, (site_id,), ttl="slow") if site_id
             else pd.DataFrame(columns=["id", "code", "name"]))
    area_labels = dict(zip(areas["id"].tolist(), (areas["code"] + " · " + areas["name"]).tolist(), strict=False))
    area_id = c2.selectbox(ctx.t("area"), list(area_labels), format_func=area_labels.get, key="em.area")
    kind = c3.selectbox(ctx.t("emergency.type"), list(EmergencyKind), format_func=kind_label, key="em.kind")
    description = st.text_input(ctx.t("emergency.what_is_happening_optional"), key="em.description")
    if st.button(ctx.t("emergency.declare_emergency"), type="primary", key="em.declare", disabled=area_id is None,
                 icon=":material/emergency:"):
        try:
            res = declare(core.engine(), area_id=int(area_id), kind=kind, actor=ctx.scope,
                          description=description or None)
        except EmergencyError as exc:
            st.error(str(exc))
        else:
            core.invalidate("live", "standard")
            st.session_state["em.selected"] = res.emergency_id
            st.success(ctx.t("emergency.emergency_emergency_id_declared_plan_generated",
                             emergency_id=res.emergency_id, plan_ms=res.plan_ms, notifications=res.notifications))

# -- list ---------------------------------------------------------------------------------
status = st.segmented_control(ctx.t("status"), ["active", "closed", "all"], default="active", key="em.status",
                              format_func=lambda s: ctx.t(f"emergency.list_status.{s}"))
lst = core.fetch(eq.emergencies, ctx.scope, status=None if status in (None, "all") else status, ttl="live")
if lst.empty:
    st.info(ctx.t("emergency.no_emergency_in_this_list"))
    st.stop()
st.dataframe(
    lst.assign(kind=lst["kind"].map(kind_label), declared_at=lst["declared_at"].map(ctx.datetime),
               closed_at=lst["closed_at"].map(lambda t: ctx.datetime(t) if pd.notna(t) else "")),
    hide_index=True, width="stretch",
    column_order=["id", "kind", "status", "site", "area", "declared_at", "declared_by", "people_inside", "closed_at"],
    column_config={"id": "#", "kind": ctx.t("emergency.type"), "status": ctx.t("status"), "site": ctx.t("site"),
                   "area": ctx.t("area"), "declared_at": ctx.t("emergency.declared"),
                   "declared_by": ctx.t("emergency.by"), "people_inside": ctx.t("emergency.people_inside_2"),
                   "closed_at": ctx.t("emergency.closed")})
ids = lst["id"].astype(int).tolist()
chosen = st.session_state.get("em.selected")
pick = st.selectbox(ctx.t("emergency.emergency"), ids, index=ids.index(chosen) if chosen in ids else 0,
                    format_func=lambda i: f"#{i} · " + kind_label(lst.loc[lst["id"] == i, "kind"].iloc[0]) + " · "
                    + str(lst.loc[lst["id"] == i, "area"].iloc[0]), key="em.pick")
detail = core.fetch(eq.emergency_detail, ctx.scope, int(pick), ttl="live")
if detail is None:
    st.warning(ctx.t("emergency.this_emergency_is_outside_your_sites"))
    st.stop()
e, plan = detail["emergency"], detail["emergency"]["plan"]

# -- the plan -------------------------------------------------------------------------------
st.header(f"#{e['id']} · {core.plain(plan['title'])}")
pc = plan["people_count"]
c1, c2, c3, c4 = st.columns(4, border=True)
c1.metric(ctx.t("emergency.people_inside"), ctx.num(pc["employees"] + pc["contractors"]),
          help=ctx.t("emergency.employees_employees_contractors_contractors", employees=pc['employees'],
                     contractors=pc['contractors']))
c2.metric(ctx.t("emergency.hazardous_materials"), ctx.num(len(plan["materials"])))
c3.metric(ctx.t("emergency.nearest_resources"), ctx.num(len(plan["resources"])))
c4.metric(ctx.t("emergency.plan_generated_in"), f"{(e['plan_ms'] or 0):.0f} ms")
st.error(ctx.t("emergency.evacuation_route") + f": {core.plain(plan['evacuation_route'])}  \n"
         + ctx.t("emergency.assembly_point") + f": {core.plain(plan['assembly_point'])}",
         icon=":material/directions_run:")
if plan["missing_resources"]:
    st.warning(ctx.t("emergency.not_stocked_anywhere_on_site") + ", ".join(map(core.plain, plan["missing_resources"])))

t_people, t_mat, t_res, t_steps, t_notify, t_time = st.tabs([
    ctx.t("emergency.people_inside"), ctx.t("emergency.materials_stored"), ctx.t("emergency.nearest_resources_2"),
    ctx.t("emergency.response_steps"), ctx.t("emergency.notify"), ctx.t("emergency.timeline")])
with t_people:
    ppl = pd.DataFrame(plan["people"],
                       columns=["employee_no", "name", "kind", "company", "phone", "entered_at", "job_id"])
    if ppl.empty:
        st.info(ctx.t("emergency.nobody_is_recorded_inside"))
    else:
        st.dataframe(ppl.assign(entered_at=pd.to_datetime(ppl["entered_at"]).map(ctx.datetime)), hide_index=True,
                     width="stretch", column_config={
                         "employee_no": ctx.t("employee_no"), "name": ctx.t("name"),
                         "kind": ctx.t("kind"), "company": ctx.t("company"),
                         "phone": ctx.t("emergency.phone"), "entered_at": ctx.t("emergency.in_since"),
                         "job_id": ctx.t("job")})
with t_mat:
    mats = pd.DataFrame(plan["materials"],
                        columns=["name", "hazard_class", "cas_no", "quantity", "unit", "max_quantity"])
    if mats.empty:
        st.info(ctx.t("emergency.no_hazardous_material_is_stored_in"))
    else:
        st.dataframe(mats, hide_index=True, width="stretch", column_config={
            "name": ctx.t("emergency.material"), "hazard_class": ctx.t("emergency.hazard_class"), "cas_no": "CAS",
            "quantity": ctx.t("emergency.quantity"), "unit": ctx.t("unit"),
            "max_quantity": ctx.t("emergency.permitted")})
with t_res:
    res = pd.DataFrame(plan["resources"], columns=["id", "kind", "quantity", "location", "area_code", "distance_m",
                                                   "last_checked_on"])
    st.dataframe(res, hide_index=True, width="stretch", column_config={
        "id": "#", "kind": ctx.t("emergency.resource"), "quantity": ctx.t("emergency.quantity"),
        "location": ctx.t("emergency.location"), "area_code": ctx.t("area"),
        "distance_m": ctx.t("emergency.distance_m"), "last_checked_on": ctx.t("emergency.last_checked")})
with t_steps:
    st.markdown("\n".join(f"{i}. {core.plain(s)}" for i, s in enumerate(plan["steps"], 1)))
    if plan["lessons"]:
        st.markdown("**" + ctx.t("emergency.lessons_from_past_emergencies") + "**")
        st.markdown("\n".join(f"- {core.plain(x)}" for x in plan["lessons"]))
    if plan["template"]:
        st.caption(ctx.t("emergency.template_id_version_version", id=plan['template']['id'],
                         version=plan['template']['version']))
with t_notify:
    nt = pd.DataFrame(plan["notify"], columns=["role", "name", "phone", "email"])
    st.dataframe(nt.assign(role=nt["role"].map(lambda r: ctx.label("emergency.notify_role", r))), hide_index=True,
                 width="stretch", column_config={"role": ctx.t("role"), "name": ctx.t("name"),
                                                 "phone": ctx.t("emergency.phone"), "email": "E-mail"})
    for c in plan["external_contacts"]:
        st.markdown(f"- **{core.plain(c['name'])}**: {core.plain(c['contact'])}")
with t_time:
    tl = pd.DataFrame(detail["timeline"], columns=["at", "kind", "actor", "detail"])
    st.dataframe(tl.assign(at=tl["at"].map(ctx.datetime)), hide_index=True, width="stretch",
                 column_config={"at": ctx.t("time"), "kind": ctx.t("emergency.entry"), "actor": ctx.t("emergency.by_2"),
                                "detail": ctx.t("emergency.detail")})
    if detail["review"]:
        r = detail["review"]
        st.success(ctx.t("emergency.review") + f" ({core.plain(r['reviewed_by'])}): {core.plain(r['summary'])}")
        for x in r["lessons"]:
            st.markdown(f"- {core.plain(x)}")

# -- actions (active emergencies) ------------------------------------------------------------
if e["status"] == "active":
    st.subheader(ctx.t("emergency.record"))
    a1, a2, a3 = st.columns(3)
    with a1, st.container(border=True):
        text = st.text_area(ctx.t("emergency.action_taken"), key="em.action")
        if st.button(ctx.t("emergency.add_to_timeline"), key="em.log", disabled=not text.strip()):
            try:
                log_action(core.engine(), int(e["id"]), actor=ctx.scope, text=text)
            except EmergencyError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live")
                st.rerun()
    with a2, st.container(border=True):
        stock = core.fetch(eq.site_resources, ctx.scope, int(e["site_id"]), ttl="live")
        stock = stock[stock["quantity"] > 0]
        labels = {int(r.id): f"#{r.id} {r.kind} ×{r.quantity} · {r.location or r.area}" for r in stock.itertuples()}
        rid = st.selectbox(ctx.t("emergency.resource_used"), list(labels), format_func=labels.get, key="em.res")
        qty = st.number_input(ctx.t("emergency.quantity"), min_value=1, value=1, step=1, key="em.qty")
        if st.button(ctx.t("emergency.record_use"), key="em.use", disabled=rid is None):
            try:
                use_resource(core.engine(), int(e["id"]), resource_id=int(rid), quantity=int(qty),
                             actor=ctx.scope)
            except EmergencyError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live")
                st.rerun()
    with a3, st.container(border=True):
        summary = st.text_area(ctx.t("emergency.review_summary"), key="em.summary")
        lessons = st.text_area(ctx.t("emergency.lessons_one_per_line"), key="em.lessons")
        steps = st.text_area(ctx.t("emergency.new_response_steps_one_per_line"), key="em.steps")
        if st.button(ctx.t("emergency.close_with_review"), type="primary", key="em.close",
                     disabled=not summary.strip()):
            try:
                tid = close(core.engine(), int(e["id"]), actor=ctx.scope, summary=summary,
                            lessons=lessons.splitlines(), new_steps=steps.splitlines())
            except EmergencyError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live", "standard")
                st.session_state["em.closed_msg"] = (
                    ctx.t("emergency.closed_the_lessons_are_in_plan", tid=tid)
                    if tid else ctx.t("emergency.closed_2"))
                st.rerun()
