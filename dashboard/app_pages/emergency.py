"""Emergency response: declare (the plan appears at once), follow the timeline, log, close with a review."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import core
from db.queries import emergency as eq
from db.queries import org
from qhse.services.emergency import KIND_LABELS, EmergencyError, close, declare, log_action, use_resource

ctx = core.page_context()
KIND_ZH = {"fire": "火灾", "gas_leak": "气体泄漏", "chemical_spill": "化学品泄漏", "injury": "人身伤害"}
ROLE = {"area_owner": ("Area owner", "区域负责人"), "plant_manager": ("Plant manager", "工厂经理"),
        "security": ("Security", "安保"), "contractor_supervisor": ("Contractor supervisor", "承包商监护人")}


def kind_label(k: str) -> str:
    return ctx.tr(KIND_LABELS.get(k, k), KIND_ZH.get(k, k))


st.title(ctx.tr("Emergency response", "应急响应"))
if msg := st.session_state.pop("em.closed_msg", None):
    st.success(msg)

# -- declare ------------------------------------------------------------------------------
with st.container(border=True):
    st.subheader(ctx.tr("Declare an emergency", "发布紧急事件"))
    sites = core.fetch(org.sites, ctx.scope, ttl="slow")
    site_labels = dict(zip(sites["id"].tolist(), (sites["code"] + " · " + sites["name"]).tolist()))
    c1, c2, c3 = st.columns(3)
    site_id = c1.selectbox(ctx.t("site"), list(site_labels), format_func=site_labels.get, key="em.site")
    areas = core.fetch(org.areas, ctx.scope, (site_id,), ttl="slow") if site_id else pd.DataFrame(columns=["id", "code", "name"])
    area_labels = dict(zip(areas["id"].tolist(), (areas["code"] + " · " + areas["name"]).tolist()))
    area_id = c2.selectbox(ctx.t("area"), list(area_labels), format_func=area_labels.get, key="em.area")
    kind = c3.selectbox(ctx.tr("Type", "类型"), list(KIND_LABELS), format_func=kind_label, key="em.kind")
    description = st.text_input(ctx.tr("What is happening (optional)", "现场情况（可选）"), key="em.description")
    if st.button(ctx.tr("Declare emergency", "发布紧急事件"), type="primary", key="em.declare", disabled=area_id is None,
                 icon=":material/emergency:"):
        try:
            res = declare(core.engine(), area_id=int(area_id), kind=kind, actor=ctx.scope,
                          description=description or None)
        except EmergencyError as exc:
            st.error(str(exc))
        else:
            core.invalidate("live", "standard")
            st.session_state["em.selected"] = res.emergency_id
            st.success(ctx.tr(f"Emergency #{res.emergency_id} declared: plan generated in {res.plan_ms:.0f} ms, "
                              f"{res.notifications} notification(s) queued.",
                              f"紧急事件 #{res.emergency_id} 已发布：预案生成耗时 {res.plan_ms:.0f} 毫秒，"
                              f"已发送 {res.notifications} 条通知。"))

# -- list ---------------------------------------------------------------------------------
status = st.segmented_control(ctx.t("status"), ["active", "closed", "all"], default="active", key="em.status",
                              format_func=lambda s: ctx.tr({"active": "Active", "closed": "Closed", "all": "All"}[s],
                                                           {"active": "进行中", "closed": "已关闭", "all": "全部"}[s]))
lst = core.fetch(eq.emergencies, ctx.scope, status=None if status in (None, "all") else status, ttl="live")
if lst.empty:
    st.info(ctx.tr("No emergency in this list.", "列表中没有紧急事件。"))
    st.stop()
st.dataframe(
    lst.assign(kind=lst["kind"].map(kind_label), declared_at=lst["declared_at"].map(ctx.datetime),
               closed_at=lst["closed_at"].map(lambda t: ctx.datetime(t) if pd.notna(t) else "")),
    hide_index=True, width="stretch",
    column_order=["id", "kind", "status", "site", "area", "declared_at", "declared_by", "people_inside", "closed_at"],
    column_config={"id": "#", "kind": ctx.tr("Type", "类型"), "status": ctx.t("status"), "site": ctx.t("site"),
                   "area": ctx.t("area"), "declared_at": ctx.tr("Declared", "发布时间"),
                   "declared_by": ctx.tr("By", "发布人"), "people_inside": ctx.tr("People inside", "区域内人数"),
                   "closed_at": ctx.tr("Closed", "关闭时间")})
ids = lst["id"].astype(int).tolist()
chosen = st.session_state.get("em.selected")
pick = st.selectbox(ctx.tr("Emergency", "紧急事件"), ids, index=ids.index(chosen) if chosen in ids else 0,
                    format_func=lambda i: f"#{i} · " + kind_label(lst.loc[lst["id"] == i, "kind"].iloc[0]) + " · "
                    + str(lst.loc[lst["id"] == i, "area"].iloc[0]), key="em.pick")
detail = core.fetch(eq.emergency_detail, ctx.scope, int(pick), ttl="live")
if detail is None:
    st.warning(ctx.tr("This emergency is outside your sites.", "该紧急事件不在您的工厂范围内。"))
    st.stop()
e, plan = detail["emergency"], detail["emergency"]["plan"]

# -- the plan -------------------------------------------------------------------------------
st.header(f"#{e['id']} · {core.plain(plan['title'])}")
pc = plan["people_count"]
c1, c2, c3, c4 = st.columns(4, border=True)
c1.metric(ctx.tr("People inside", "区域内人员"), ctx.num(pc["employees"] + pc["contractors"]),
          help=ctx.tr(f"{pc['employees']} employees, {pc['contractors']} contractors",
                      f"员工 {pc['employees']} 人，承包商 {pc['contractors']} 人"))
c2.metric(ctx.tr("Hazardous materials", "危险化学品"), ctx.num(len(plan["materials"])))
c3.metric(ctx.tr("Nearest resources", "最近应急物资"), ctx.num(len(plan["resources"])))
c4.metric(ctx.tr("Plan generated in", "预案生成耗时"), f"{(e['plan_ms'] or 0):.0f} ms")
st.error(ctx.tr("Evacuation route", "疏散路线") + f": {core.plain(plan['evacuation_route'])}  \n"
         + ctx.tr("Assembly point", "集合点") + f": {core.plain(plan['assembly_point'])}", icon=":material/directions_run:")
if plan["missing_resources"]:
    st.warning(ctx.tr("Not stocked anywhere on site: ", "全厂未配备：") + ", ".join(map(core.plain, plan["missing_resources"])))

t_people, t_mat, t_res, t_steps, t_notify, t_time = st.tabs([
    ctx.tr("People inside", "区域内人员"), ctx.tr("Materials stored", "存放物料"), ctx.tr("Nearest resources", "最近物资"),
    ctx.tr("Response steps", "处置步骤"), ctx.tr("Notify", "通知对象"), ctx.tr("Timeline", "时间线")])
with t_people:
    ppl = pd.DataFrame(plan["people"], columns=["employee_no", "name", "kind", "company", "phone", "entered_at", "job_id"])
    if ppl.empty:
        st.info(ctx.tr("Nobody is recorded inside.", "记录显示区域内无人。"))
    else:
        st.dataframe(ppl.assign(entered_at=pd.to_datetime(ppl["entered_at"]).map(ctx.datetime)), hide_index=True,
                     width="stretch", column_config={
                         "employee_no": ctx.tr("No.", "工号"), "name": ctx.tr("Name", "姓名"),
                         "kind": ctx.tr("Kind", "类别"), "company": ctx.tr("Company", "单位"),
                         "phone": ctx.tr("Phone", "电话"), "entered_at": ctx.tr("In since", "进入时间"),
                         "job_id": ctx.tr("Job", "作业")})
with t_mat:
    mats = pd.DataFrame(plan["materials"], columns=["name", "hazard_class", "cas_no", "quantity", "unit", "max_quantity"])
    if mats.empty:
        st.info(ctx.tr("No hazardous material is stored in this area.", "该区域未存放危险化学品。"))
    else:
        st.dataframe(mats, hide_index=True, width="stretch", column_config={
            "name": ctx.tr("Material", "物料"), "hazard_class": ctx.tr("Hazard class", "危险类别"), "cas_no": "CAS",
            "quantity": ctx.tr("Quantity", "数量"), "unit": ctx.tr("Unit", "单位"),
            "max_quantity": ctx.tr("Permitted", "最大存量")})
with t_res:
    res = pd.DataFrame(plan["resources"], columns=["id", "kind", "quantity", "location", "area_code", "distance_m",
                                                   "last_checked_on"])
    st.dataframe(res, hide_index=True, width="stretch", column_config={
        "id": "#", "kind": ctx.tr("Resource", "物资"), "quantity": ctx.tr("Quantity", "数量"),
        "location": ctx.tr("Location", "位置"), "area_code": ctx.t("area"), "distance_m": ctx.tr("Distance (m)", "距离（米）"),
        "last_checked_on": ctx.tr("Last checked", "最近检查")})
with t_steps:
    st.markdown("\n".join(f"{i}. {core.plain(s)}" for i, s in enumerate(plan["steps"], 1)))
    if plan["lessons"]:
        st.markdown("**" + ctx.tr("Lessons from past emergencies", "以往事件经验") + "**")
        st.markdown("\n".join(f"- {core.plain(x)}" for x in plan["lessons"]))
    if plan["template"]:
        st.caption(ctx.tr(f"Template #{plan['template']['id']} version {plan['template']['version']}",
                          f"预案模板 #{plan['template']['id']} 第 {plan['template']['version']} 版"))
with t_notify:
    nt = pd.DataFrame(plan["notify"], columns=["role", "name", "phone", "email"])
    st.dataframe(nt.assign(role=nt["role"].map(lambda r: ctx.tr(*ROLE.get(r, (r, r))))), hide_index=True,
                 width="stretch", column_config={"role": ctx.tr("Role", "角色"), "name": ctx.tr("Name", "姓名"),
                                                 "phone": ctx.tr("Phone", "电话"), "email": "E-mail"})
    for c in plan["external_contacts"]:
        st.markdown(f"- **{core.plain(c['name'])}**: {core.plain(c['contact'])}")
with t_time:
    tl = pd.DataFrame(detail["timeline"], columns=["at", "kind", "actor", "detail"])
    st.dataframe(tl.assign(at=tl["at"].map(ctx.datetime)), hide_index=True, width="stretch",
                 column_config={"at": ctx.t("time"), "kind": ctx.tr("Entry", "类型"), "actor": ctx.tr("By", "记录人"),
                                "detail": ctx.tr("Detail", "内容")})
    if detail["review"]:
        r = detail["review"]
        st.success(ctx.tr("Review", "复盘") + f" ({core.plain(r['reviewed_by'])}): {core.plain(r['summary'])}")
        for x in r["lessons"]:
            st.markdown(f"- {core.plain(x)}")

# -- actions (active emergencies) ------------------------------------------------------------
if e["status"] == "active":
    st.subheader(ctx.tr("Record", "记录"))
    a1, a2, a3 = st.columns(3)
    with a1, st.container(border=True):
        text = st.text_area(ctx.tr("Action taken", "已采取的行动"), key="em.action")
        if st.button(ctx.tr("Add to timeline", "加入时间线"), key="em.log", disabled=not text.strip()):
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
        rid = st.selectbox(ctx.tr("Resource used", "使用的物资"), list(labels), format_func=labels.get, key="em.res")
        qty = st.number_input(ctx.tr("Quantity", "数量"), min_value=1, value=1, step=1, key="em.qty")
        if st.button(ctx.tr("Record use", "记录使用"), key="em.use", disabled=rid is None):
            try:
                use_resource(core.engine(), int(e["id"]), resource_id=int(rid), quantity=int(qty),
                             actor=ctx.scope)
            except EmergencyError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live")
                st.rerun()
    with a3, st.container(border=True):
        summary = st.text_area(ctx.tr("Review summary", "复盘总结"), key="em.summary")
        lessons = st.text_area(ctx.tr("Lessons (one per line)", "经验教训（每行一条）"), key="em.lessons")
        steps = st.text_area(ctx.tr("New response steps (one per line)", "新增处置步骤（每行一条）"), key="em.steps")
        if st.button(ctx.tr("Close with review", "复盘并关闭"), type="primary", key="em.close", disabled=not summary.strip()):
            try:
                tid = close(core.engine(), int(e["id"]), actor=ctx.scope, summary=summary,
                            lessons=lessons.splitlines(), new_steps=steps.splitlines())
            except EmergencyError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live", "standard")
                st.session_state["em.closed_msg"] = (
                    ctx.tr(f"Closed. The lessons are in plan template #{tid}.", f"已关闭，经验已写入预案模板 #{tid}。")
                    if tid else ctx.tr("Closed.", "已关闭。"))
                st.rerun()
