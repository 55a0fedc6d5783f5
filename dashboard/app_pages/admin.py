"""Administration: users, roles, site scope, and the audit log."""

from __future__ import annotations

import streamlit as st

from dashboard import core
from db.queries import audit, org, users
from qhse.domain import access
from qhse.services.auth import AuthError, add_user, set_active, set_password, set_role_and_sites

ctx = core.page_context()
st.title(ctx.tr("Users and audit", "用户与审计"))

tab_users, tab_audit = st.tabs([ctx.tr("Users", "用户"), ctx.tr("Audit log", "审计日志")])

with tab_users:
    df = core.fetch(users.list_users, ctx.scope, ttl="live")
    st.dataframe(
        df.assign(role=df["role"].map(lambda r: ctx.t(f"role.{r}")),
                  last_login_at=df["last_login_at"].map(ctx.datetime)),
        hide_index=True, width="stretch",
        column_order=["username", "display_name", "role", "all_sites", "sites", "locale", "active", "last_login_at"],
        column_config={"username": ctx.tr("Username", "用户名"), "display_name": ctx.tr("Name", "姓名"),
                       "role": ctx.tr("Role", "角色"), "all_sites": ctx.tr("All sites", "全部工厂"),
                       "sites": ctx.tr("Sites", "工厂"), "locale": ctx.tr("Language", "语言"),
                       "active": ctx.tr("Active", "启用"), "last_login_at": ctx.tr("Last sign-in", "最近登录")})
    site_df = core.fetch(org.sites, ctx.scope, ttl="slow")
    site_codes = dict(zip(site_df["code"], site_df["id"]))
    roles = list(access.ROLE_PERMISSIONS)

    c1, c2 = st.columns(2)
    with c1, st.form("add_user", clear_on_submit=True):
        st.subheader(ctx.tr("Add a user", "新增用户"))
        username = st.text_input(ctx.tr("Username", "用户名"), key="adm.new.username")
        name = st.text_input(ctx.tr("Display name", "显示名称"), key="adm.new.name")
        role = st.selectbox(ctx.tr("Role", "角色"), roles, format_func=lambda r: ctx.t(f"role.{r}"), key="adm.new.role")
        all_sites = st.checkbox(ctx.tr("Every site", "全部工厂"), key="adm.new.all", disabled=not ctx.scope.all_sites)
        sites = st.multiselect(ctx.tr("Sites", "工厂"), list(site_codes), key="adm.new.sites")
        locale = st.selectbox(ctx.tr("Language", "语言"), ["en", "zh"], key="adm.new.locale")
        pw = st.text_input(ctx.tr("Initial password", "初始密码"), type="password", key="adm.new.pw")
        if st.form_submit_button(ctx.tr("Add user", "新增"), type="primary"):
            try:
                add_user(core.engine(), username=username, password=pw, role=role, display_name=name or None,
                         locale=locale, site_codes=sites, all_sites=all_sites, actor=ctx.scope)
            except AuthError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live")
                st.success(ctx.tr(f"User {core.plain(username)} added.", f"已新增用户 {core.plain(username)}。"))

    with c2:
        st.subheader(ctx.tr("Change a user", "修改用户"))
        if df.empty:
            st.info(ctx.t("no_data"))
        else:
            pick = st.selectbox(ctx.tr("User", "用户"), df["username"].tolist(), key="adm.edit.user")
            row = df[df["username"] == pick].iloc[0]
            uid = int(row["id"])
            # Every widget below is keyed by the chosen user, so picking another user shows that user's
            # values instead of carrying the previous user's role and sites into the next save.
            k = f"{uid}"
            current = [c.strip() for c in (row["sites"] if isinstance(row["sites"], str) else "").split(",") if c.strip()]
            visible = [c for c in current if c in site_codes]  # sites outside the admin's scope are not offered
            hidden_n = len(current) - len(visible)
            with st.form(f"edit_user.{k}"):
                role = st.selectbox(ctx.tr("Role", "角色"), roles, index=roles.index(row["role"]),
                                    format_func=lambda r: ctx.t(f"role.{r}"), key=f"adm.edit.role.{k}")
                all_sites = st.checkbox(ctx.tr("Every site", "全部工厂"), value=bool(row["all_sites"]),
                                        key=f"adm.edit.all.{k}", disabled=not ctx.scope.all_sites)
                sites = st.multiselect(ctx.tr("Sites", "工厂"), list(site_codes), default=visible,
                                       key=f"adm.edit.sites.{k}")
                if hidden_n:
                    st.caption(ctx.tr(f"Also {hidden_n} site(s) outside your sites (kept as they are).",
                                      f"另有 {hidden_n} 个不在您范围内的工厂（保持不变）。"))
                active = st.checkbox(ctx.tr("Active", "启用"), value=bool(row["active"]), key=f"adm.edit.active.{k}")
                pw = st.text_input(ctx.tr("New password (optional)", "新密码（可选）"), type="password",
                                   key=f"adm.edit.pw.{k}")
                if st.form_submit_button(ctx.tr("Save", "保存"), type="primary"):
                    try:
                        if role != row["role"] or all_sites != bool(row["all_sites"]) or sorted(sites) != sorted(visible):
                            set_role_and_sites(core.engine(), ctx.scope, uid, role=role, all_sites=all_sites,
                                               site_ids=[site_codes[c] for c in sites])
                        if active != bool(row["active"]):
                            set_active(core.engine(), ctx.scope, uid, active)
                        if pw:
                            set_password(core.engine(), pick, pw, actor=ctx.scope)
                    except AuthError as exc:
                        st.error(str(exc))
                    else:
                        core.invalidate("live")
                        st.success(ctx.t("saved"))

with tab_audit:
    c1, c2, c3 = st.columns(3)
    action = c1.text_input(ctx.tr("Action", "操作"), key="adm.audit.action",
                           placeholder="login, acknowledge_alarm, read_sensitive, ...")
    who = c2.text_input(ctx.tr("User", "用户"), key="adm.audit.user")
    sens = c3.checkbox(ctx.tr("Sensitive reads only", "仅敏感数据读取"), key="adm.audit.sens")
    log = core.fetch(audit.recent, ctx.scope, limit=500, action=action.strip() or None,
                     username=who.strip().lower() or None, sensitive_only=sens, ttl="live")
    counts = core.fetch(audit.action_counts, ctx.scope, ttl="live")
    if not counts.empty:
        st.bar_chart(counts, x="action", y="n", height=220, x_label="", y_label=ctx.t("count"))
    if log.empty:
        st.info(ctx.t("no_data"))
    else:
        st.dataframe(log.assign(at=log["at"].map(ctx.datetime), detail=log["detail"].map(str)), hide_index=True,
                     width="stretch",
                     column_config={"at": ctx.t("time"), "username": ctx.tr("User", "用户"),
                                    "action": ctx.tr("Action", "操作"), "entity": ctx.tr("Object", "对象"),
                                    "entity_id": "ID", "sensitive": ctx.tr("Sensitive", "敏感"),
                                    "detail": ctx.tr("Detail", "详情")})
