"""Who may see what (qhse.domain.access) without a database: permissions, scope, masking."""

from __future__ import annotations

import pytest

from qhse.domain import access
from qhse.domain.access import MASK, SYSTEM


def test_every_role_has_a_permission_set_and_admin_cannot_read_health():
    assert set(access.ROLE_PERMISSIONS) == set(access.ROLES)
    assert access.can("plant_manager", access.READ_SENSITIVE)
    assert not access.can("admin", access.READ_SENSITIVE)
    assert access.can("admin", access.MANAGE_USERS)
    assert not access.can("worker", access.VIEW_OVERVIEW)
    assert access.can("data_scientist", access.MANAGE_MODELS)
    assert not access.can("plant_manager", access.MANAGE_MODELS)
    with pytest.raises(ValueError):
        access.can("admin", "fly_to_the_moon")


def test_require_checks_permission_and_site():
    s = access.scope_for(user_id=1, username="pm", role="plant_manager", all_sites=False, site_ids=[1])
    access.require(s, access.ACK_ALARMS, site_id=1)
    with pytest.raises(access.AccessDenied):
        access.require(s, access.ACK_ALARMS, site_id=2)
    with pytest.raises(access.AccessDenied):
        access.require(s, access.MANAGE_USERS)


def test_scope_intersects_requests_and_never_widens():
    s = access.scope_for(user_id=1, username="pm", role="plant_manager", all_sites=False, site_ids=[3, 1])
    assert s.site_ids == (1, 3)
    assert s.sites([2]) == ()  # asked for a site outside scope: nothing
    assert s.sites([1, 2]) == (1,)
    assert s.sites(None) == (1, 3)
    assert SYSTEM.sites([2]) == (2,)
    assert SYSTEM.sites(None) is None


def test_mask_record_hides_sensitive_fields_unless_the_scope_may_read_them():
    rec = {"name": "Li Wei", "blood_type": "A+", "fit_for_duty": True}
    pm = access.scope_for(user_id=1, username="pm", role="plant_manager", all_sites=True)
    gm = access.scope_for(user_id=2, username="gm", role="group_manager", all_sites=True)
    assert pm.sensitive and not gm.sensitive
    assert access.mask_record(rec, ["blood_type", "fit_for_duty"], pm) == rec
    masked = access.mask_record(rec, ["blood_type", "fit_for_duty", "missing"], gm)
    assert masked == {"name": "Li Wei", "blood_type": MASK, "fit_for_duty": MASK}
    assert rec["blood_type"] == "A+"  # a copy


def test_unknown_role_gets_no_scope_and_group_roles_are_known():
    with pytest.raises(access.AccessDenied, match="unknown role"):
        access.scope_for(user_id=1, username="x", role="pilot", all_sites=True)
    assert access.GROUP_ROLES <= set(access.ROLES)
    assert SYSTEM.all_sites and SYSTEM.allows_site(99) and SYSTEM.user_id is None
    assert access.roles_with(access.RECORD_ACCESS) == ("admin", "plant_manager", "security")
