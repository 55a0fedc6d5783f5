"""Access policy, passwords, scope in the query layer, audit of logins."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db.queries import org, users
from qhse.domain import access
from qhse.domain.access import SYSTEM
from qhse.services.access import scope_for_user, sensitive_columns
from qhse.services.auth import (
    AuthError,
    LoginFailed,
    add_user,
    authenticate,
    hash_password,
    set_password,
    verify_password,
)

from .conftest import PASSWORD, site_id


def test_masking_follows_the_sensitive_column_marks():
    from db.models import Person

    cols = sensitive_columns(Person)
    assert set(cols) == {"blood_type", "medical_conditions", "last_medical_exam_on", "fit_for_duty"}
    rec = {"name": "Li Wei", "blood_type": "A", "fit_for_duty": True}
    pm = access.scope_for(user_id=1, username="pm", role="plant_manager", all_sites=True)
    sec = access.scope_for(user_id=2, username="sec", role="security", all_sites=True)
    assert access.mask_record(rec, cols, pm)["blood_type"] == "A"
    masked = access.mask_record(rec, cols, sec)
    assert masked["blood_type"] == access.MASK and masked["fit_for_duty"] == access.MASK and masked["name"] == "Li Wei"


def test_password_hash_is_argon2_and_verifies():
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "correct horse")
    assert not verify_password(h, "wrong horse")
    assert not verify_password("not-a-hash", "x")
    with pytest.raises(AuthError):
        hash_password("short")


def test_add_user_validates_and_login_is_audited(dash_engine, dash_users):
    with pytest.raises(AuthError, match="unknown role"):
        add_user(dash_engine, username="someone", password=PASSWORD, role="pilot", site_codes=["SZ-ELEC"])
    with pytest.raises(AuthError, match="needs --site"):
        add_user(dash_engine, username="someone", password=PASSWORD, role="plant_manager")
    with pytest.raises(AuthError, match="unknown site"):
        add_user(dash_engine, username="someone", password=PASSWORD, role="plant_manager", site_codes=["XX"])
    with pytest.raises(AuthError, match="already exists"):
        add_user(dash_engine, username="admin", password=PASSWORD, role="admin")

    u = authenticate(dash_engine, "Plant.Manager", PASSWORD)
    assert u.role == "plant_manager" and u.site_ids == (site_id(dash_engine, "SZ-ELEC"),)
    with pytest.raises(LoginFailed):
        authenticate(dash_engine, "plant.manager", "wrong password!")
    with pytest.raises(LoginFailed):
        authenticate(dash_engine, "nobody", "whatever-123")
    with dash_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT action, username, detail->>'reason' FROM audit_log "
            "WHERE action IN ('login', 'login_failed') ORDER BY id DESC LIMIT 3")).all()
    assert rows[0] == ("login_failed", "nobody", "unknown user")
    assert rows[1] == ("login_failed", "plant.manager", "bad password")
    assert rows[2] == ("login", "plant.manager", None)


def test_password_change_is_audited_without_the_hash(dash_engine, dash_users):
    add_user(dash_engine, username="temp.user", password=PASSWORD, role="worker", site_codes=["SU-MACH"])
    set_password(dash_engine, "temp.user", "another-password")
    assert authenticate(dash_engine, "temp.user", "another-password").username == "temp.user"
    with dash_engine.connect() as conn:
        detail = conn.execute(sa.text(
            "SELECT detail::text FROM audit_log WHERE action = 'user_password' ORDER BY id DESC LIMIT 1")).scalar_one()
    assert "argon2" not in detail and "changed" in detail


def test_reference_queries_apply_scope(dash_engine, dash_users):
    elec = site_id(dash_engine, "SZ-ELEC")
    mach = site_id(dash_engine, "SU-MACH")
    pm = scope_for_user(users.get_by_id(dash_engine, dash_users["plant.manager"]))
    assert org.sites(dash_engine, pm)["code"].tolist() == ["SZ-ELEC"]
    assert set(org.areas(dash_engine, pm)["site_id"]) == {elec}
    assert org.areas(dash_engine, pm, (mach,)).empty  # asking for another plant gives nothing
    assert len(org.sites(dash_engine, SYSTEM)) == 3
