"""Users and audit page: the edit form follows the chosen user; a site-scoped admin stays in its scope."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db.queries import audit, users
from qhse.services.access import scope_for_user
from qhse.services.auth import AuthError, add_user, set_active, set_password, set_role_and_sites

from .conftest import PASSWORD, site_id
from .helpers import assert_ok, open_page


@pytest.fixture(scope="module")
def site_admin(dash_engine, dash_users) -> int:
    """An administrator limited to SZ-ELEC, and a worker with one site inside and one outside that scope."""
    for name, role, sites in (("elec.admin", "admin", ["SZ-ELEC"]), ("two.sites", "worker", ["SZ-ELEC", "SU-MACH"]),
                              ("mach.only", "worker", ["SU-MACH"])):
        if users.get_by_username(dash_engine, name) is None:
            add_user(dash_engine, username=name, password=PASSWORD, role=role, site_codes=sites)
    return users.get_by_username(dash_engine, "elec.admin").id


def _user(engine, name):
    return users.get_by_username(engine, name)


def test_changing_the_picked_user_shows_that_users_role_and_sites(dash_env, dash_users, dash_engine):
    at = open_page(dash_users["admin"], "app_pages/admin.py")
    assert_ok(at)
    at.selectbox(key="adm.edit.user").select("admin")
    at.run()
    at.selectbox(key="adm.edit.user").select("worker")
    at.run()
    assert_ok(at)
    uid = dash_users["worker"]
    assert at.selectbox(key=f"adm.edit.role.{uid}").value == "worker"
    assert at.checkbox(key=f"adm.edit.all.{uid}").value is False
    assert at.multiselect(key=f"adm.edit.sites.{uid}").value == ["SZ-ELEC"]
    at.text_input(key=f"adm.edit.pw.{uid}").input("a-new-password-1")
    at.button(key=f"FormSubmitter:edit_user.{uid}-Save").click()
    at.run()
    assert_ok(at)
    w = _user(dash_engine, "worker")
    assert (w.role, w.all_sites, w.site_ids) == ("worker", False, (site_id(dash_engine, "SZ-ELEC"),))
    set_password(dash_engine, "worker", PASSWORD)


def test_site_admin_cannot_grant_sites_outside_its_scope(dash_engine, site_admin):
    actor = scope_for_user(users.get_by_id(dash_engine, site_admin))
    with pytest.raises(AuthError, match="outside"):
        add_user(dash_engine, username="new.mach", password=PASSWORD, role="worker", site_codes=["SU-MACH"],
                 actor=actor)
    with pytest.raises(AuthError, match="every site"):
        add_user(dash_engine, username="new.group", password=PASSWORD, role="admin", all_sites=True, actor=actor)
    with pytest.raises(AuthError):  # a group role defaults to every site: not for a site-scoped admin
        add_user(dash_engine, username="new.group", password=PASSWORD, role="group_manager", actor=actor)
    assert _user(dash_engine, "new.mach") is None and _user(dash_engine, "new.group") is None
    uid = add_user(dash_engine, username="new.elec", password=PASSWORD, role="worker", site_codes=["SZ-ELEC"],
                   actor=actor)
    assert users.get_by_id(dash_engine, uid).site_ids == (site_id(dash_engine, "SZ-ELEC"),)

    two = _user(dash_engine, "two.sites")
    with pytest.raises(AuthError, match="every site"):
        set_role_and_sites(dash_engine, actor, two.id, role="admin", all_sites=True, site_ids=[])
    with pytest.raises(AuthError, match="outside"):
        set_role_and_sites(dash_engine, actor, uid, role="worker", all_sites=False,
                           site_ids=[site_id(dash_engine, "SU-MACH")])
    # Accounts outside the admin's sites (or with every site) cannot be changed at all.
    for name in ("mach.only", "admin"):
        target = _user(dash_engine, name)
        with pytest.raises(AuthError, match="outside"):
            set_role_and_sites(dash_engine, actor, target.id, role="worker", all_sites=False,
                               site_ids=[site_id(dash_engine, "SZ-ELEC")])
        with pytest.raises(AuthError, match="outside"):
            set_password(dash_engine, name, "hijacked-password", actor=actor)
        with pytest.raises(AuthError, match="outside"):
            set_active(dash_engine, actor, target.id, False)
    # Changing a shared user keeps the site the admin cannot see.
    set_role_and_sites(dash_engine, actor, two.id, role="inspector", all_sites=False,
                       site_ids=[site_id(dash_engine, "SZ-ELEC")])
    after = _user(dash_engine, "two.sites")
    assert after.role == "inspector"
    assert set(after.site_ids) == {site_id(dash_engine, "SZ-ELEC"), site_id(dash_engine, "SU-MACH")}


def test_site_admin_page_with_a_user_outside_its_scope(dash_env, dash_engine, site_admin):
    at = open_page(site_admin, "app_pages/admin.py")
    assert_ok(at)
    names = at.selectbox(key="adm.edit.user").options
    assert "two.sites" in names and "mach.only" not in names and "admin" not in names
    at.selectbox(key="adm.edit.user").select("two.sites")
    at.run()
    assert_ok(at)
    two = _user(dash_engine, "two.sites")
    assert at.multiselect(key=f"adm.edit.sites.{two.id}").options == ["SZ-ELEC"]
    assert at.multiselect(key=f"adm.edit.sites.{two.id}").value == ["SZ-ELEC"]


def test_site_admin_sees_only_its_sites_audit_rows(dash_engine, dash_users, site_admin):
    mach = _user(dash_engine, "mach.only")
    set_password(dash_engine, "mach.only", "mach-password-2")  # audited about a SU-MACH-only account
    with dash_engine.begin() as conn:
        audit.record(conn, scope_for_user(mach), "report_hazard", entity="hazard_report", entity_id=1,
                     detail={"site_id": site_id(dash_engine, "SU-MACH")})
        audit.record(conn, scope_for_user(_user(dash_engine, "worker")), "report_hazard",
                     entity="hazard_report", entity_id=2, detail={"site_id": site_id(dash_engine, "SZ-ELEC")})
    actor = scope_for_user(users.get_by_id(dash_engine, site_admin))
    rows = audit.recent(dash_engine, actor, limit=5000)
    assert "mach.only" not in set(rows["username"])
    assert not ((rows["entity"] == "user_account") & (rows["entity_id"] == str(mach.id))).any()
    assert ((rows["username"] == "worker") & (rows["action"] == "report_hazard")).any()
    everything = audit.recent(dash_engine, scope_for_user(_user(dash_engine, "admin")), limit=5000)
    assert "mach.only" in set(everything["username"])
    counts = audit.action_counts(dash_engine, actor)
    assert counts["n"].sum() == len(audit.recent(dash_engine, actor, limit=100_000))
    with dash_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar() > counts["n"].sum()
