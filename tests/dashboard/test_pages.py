"""AppTest: sign-in, navigation by role, central refusal, admin page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.pages import PAGES
from qhse.domain import access
from qhse.services.auth import DEMO_USERS

from .conftest import APP, PASSWORD
from .helpers import assert_ok, open_page, texts

ROLE_USER = {d.role: d.username for d in DEMO_USERS}


def test_sign_in_with_the_form(dash_env, dash_users):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert_ok(at)
    assert "Sign in" in texts(at)
    at.text_input(key="login.username").input("admin")
    at.text_input(key="login.password").input("not the password")
    at.get("form_submit_button")[0].click()
    at.run()
    assert "Wrong username or password." in texts(at)
    at.text_input(key="login.username").input("admin")
    at.text_input(key="login.password").input(PASSWORD)
    at.get("form_submit_button")[0].click()
    at.run()
    assert_ok(at)
    assert at.session_state["auth.user_id"] == dash_users["admin"]
    assert "Signed in as" in texts(at)


@pytest.mark.parametrize("spec", PAGES, ids=[p.key for p in PAGES])
@pytest.mark.parametrize("role", list(access.ROLE_PERMISSIONS))
def test_every_page_for_every_role(dash_env, dash_users, role, spec):
    """Allowed roles get the page without an exception; the others get a refusal and no data."""
    at = open_page(dash_users[ROLE_USER[role]], spec.file)
    assert_ok(at)
    shown = texts(at)
    if access.can(role, spec.permission):
        assert "may not open this page" not in shown
    else:
        assert "may not open this page" in shown
        assert not at.dataframe and not at.metric


def test_admin_lists_users_and_audit(dash_env, dash_users):
    at = open_page(dash_users["admin"], "app_pages/admin.py")
    assert_ok(at)
    users_df = at.dataframe[0].value
    assert {"admin", "plant.manager", "worker"} <= set(users_df["username"])
    log = at.dataframe[1].value
    assert "login" in set(log["action"]) or "user_add" in set(log["action"])


def test_admin_adds_a_user_and_it_is_audited(dash_env, dash_users, dash_engine):
    import sqlalchemy as sa

    at = open_page(dash_users["admin"], "app_pages/admin.py")
    at.text_input(key="adm.new.username").input("new.inspector")
    at.selectbox(key="adm.new.role").select("inspector")
    at.multiselect(key="adm.new.sites").select("SU-MACH")
    at.text_input(key="adm.new.pw").input("a-good-password")
    at.get("form_submit_button")[0].click()
    at.run()
    assert_ok(at)
    assert "User new.inspector added." in texts(at)
    with dash_engine.connect() as conn:
        who = conn.execute(sa.text("SELECT username FROM audit_log WHERE action = 'user_add' "
                                   "AND detail->>'username' = 'new.inspector'")).scalar_one()
    assert who == "admin"


def test_chinese_locale(dash_env, dash_users):
    at = open_page(dash_users["admin"], "app_pages/admin.py", locale="zh")
    assert_ok(at)
    assert "用户与审计" in texts(at)
