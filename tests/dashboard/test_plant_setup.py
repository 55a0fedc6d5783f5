"""Plant set-up page: admins open it and see each file kind's columns; other roles do not get it."""

from __future__ import annotations

from dashboard.pages import allowed_pages
from qhse.domain import access

from .helpers import assert_ok, open_page


def test_admin_opens_plant_setup_and_reads_the_columns_of_a_kind(dash_env, dash_users):
    at = open_page(dash_users["admin"], "app_pages/plant_setup.py")
    assert_ok(at)
    at.selectbox(key="ps.kind").select("readings")
    at.run()
    assert_ok(at)
    shown = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert "sensor" in shown and "quality" in shown
    at = open_page(dash_users["admin"], "app_pages/plant_setup.py", locale="zh")
    assert_ok(at)


def test_only_roles_with_manage_plant_get_the_page():
    keys = {r: {p.key for p in allowed_pages(r)} for r in access.ROLE_PERMISSIONS}
    assert {r for r, k in keys.items() if "plant_setup" in k} == set(access.roles_with(access.MANAGE_PLANT))
    assert "plant_setup" not in keys["worker"] and "plant_setup" in keys["admin"]
