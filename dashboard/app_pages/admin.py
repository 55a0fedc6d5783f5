"""Administration: users, roles, site scope, and the audit log."""

from __future__ import annotations

import streamlit as st

from dashboard import core
from db.queries import audit, org, users
from qhse.domain import access
from qhse.services.auth import AuthError, add_user, set_active, set_password, set_role_and_sites

ctx = core.page_context()

tab_users, tab_audit = st.tabs([ctx.t("admin.users"), ctx.t("admin.audit_log")])

with tab_users:
    df = core.fetch(users.list_users, ctx.scope, ttl="live")
    st.dataframe(
        df.assign(role=df["role"].map(lambda r: ctx.t(f"role.{r}")),
                  last_login_at=df["last_login_at"].map(ctx.datetime)),
        hide_index=True, width="stretch",
        column_order=["username", "display_name", "role", "all_sites", "sites", "locale", "active", "last_login_at"],
        column_config={"username": ctx.t("login.username"), "display_name": ctx.t("name"),
                       "role": ctx.t("role"), "all_sites": ctx.t("admin.all_sites"),
                       "sites": ctx.t("filter.sites"), "locale": ctx.t("language"),
                       "active": ctx.t("admin.active"), "last_login_at": ctx.t("admin.last_sign_in")})
    site_df = core.fetch(org.sites, ctx.scope, ttl="slow")
    site_codes = dict(zip(site_df["code"], site_df["id"], strict=False))
    roles = list(access.ROLE_PERMISSIONS)

    c1, c2 = st.columns(2)
    with c1, st.form("add_user", clear_on_submit=True):
        st.subheader(ctx.t("admin.add_a_user"))
        username = st.text_input(ctx.t("login.username"), key="adm.new.username")
        name = st.text_input(ctx.t("admin.display_name"), key="adm.new.name")
        role = st.selectbox(ctx.t("role"), roles, format_func=lambda r: ctx.t(f"role.{r}"), key="adm.new.role")
        all_sites = st.checkbox(ctx.t("admin.every_site"), key="adm.new.all", disabled=not ctx.scope.all_sites)
        sites = st.multiselect(ctx.t("filter.sites"), list(site_codes), key="adm.new.sites")
        locale = st.selectbox(ctx.t("language"), ["en", "zh"], key="adm.new.locale")
        pw = st.text_input(ctx.t("admin.initial_password"), type="password", key="adm.new.pw")
        if st.form_submit_button(ctx.t("admin.add_user"), type="primary"):
            try:
                add_user(core.engine(), username=username, password=pw, role=role, display_name=name or None,
                         locale=locale, site_codes=sites, all_sites=all_sites, actor=ctx.scope)
            except AuthError as exc:
                st.error(str(exc))
            else:
                core.invalidate("live")
                st.success(ctx.t("admin.user_username_added", username=core.plain(username)))

    with c2:
        st.subheader(ctx.t("admin.change_a_user"))
        if df.empty:
            st.info(ctx.t("no_data"))
        else:
            pick = st.selectbox(ctx.t("admin.user"), df["username"].tolist(), key="adm.edit.user")
            row = df[df["username"] == pick].iloc[0]
            uid = int(row["id"])
            # Every widget below is keyed by the chosen user, so picking another user shows that user's
            # values instead of carrying the previous user's role and sites into the next save.
            k = f"{uid}"
            current = [c.strip() for c in (row["sites"] if isinstance(row["sites"], str) else "").split(",")
                       if c.strip()]
            visible = [c for c in current if c in site_codes]  # sites outside the admin's scope are not offered
            hidden_n = len(current) - len(visible)
            with st.form(f"edit_user.{k}"):
                role = st.selectbox(ctx.t("role"), roles, index=roles.index(row["role"]),
                                    format_func=lambda r: ctx.t(f"role.{r}"), key=f"adm.edit.role.{k}")
                all_sites = st.checkbox(ctx.t("admin.every_site"), value=bool(row["all_sites"]),
                                        key=f"adm.edit.all.{k}", disabled=not ctx.scope.all_sites)
                sites = st.multiselect(ctx.t("filter.sites"), list(site_codes), default=visible,
                                       key=f"adm.edit.sites.{k}")
                if hidden_n:
                    st.caption(ctx.t("admin.also_hidden_n_site_s_outside", hidden_n=hidden_n))
                active = st.checkbox(ctx.t("admin.active"), value=bool(row["active"]), key=f"adm.edit.active.{k}")
                pw = st.text_input(ctx.t("admin.new_password_optional"), type="password",
                                   key=f"adm.edit.pw.{k}")
                if st.form_submit_button(ctx.t("save"), type="primary"):
                    try:
                        if (role != row["role"] or all_sites != bool(row["all_sites"])
                                or sorted(sites) != sorted(visible)):
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
    action = c1.text_input(ctx.t("admin.action"), key="adm.audit.action",
                           placeholder="login, acknowledge_alarm, read_sensitive, ...")
    who = c2.text_input(ctx.t("admin.user"), key="adm.audit.user")
    sens = c3.checkbox(ctx.t("admin.sensitive_reads_only"), key="adm.audit.sens")
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
                     column_config={"at": ctx.t("time"), "username": ctx.t("admin.user"),
                                    "action": ctx.t("admin.action"), "entity": ctx.t("admin.object"),
                                    "entity_id": "ID", "sensitive": ctx.t("admin.sensitive"),
                                    "detail": ctx.t("admin.detail")})
