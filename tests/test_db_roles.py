"""Database roles on real PostgreSQL: the application role and the append-only audit log."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa

from db import models as m
from db.engine import libpq_dsn
from db.queries import audit
from qhse.domain.access import SYSTEM


def _audit_row(engine) -> int:
    with engine.begin() as conn:
        audit.record(conn, SYSTEM, "role_test", entity="test", entity_id=1)
        return conn.execute(sa.text("SELECT max(id) FROM audit_log")).scalar_one()


def test_suite_runs_as_the_application_role(engine):
    with engine.connect() as conn:
        who, su = conn.execute(sa.text(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
    assert who == "qhse_app" and su is False


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET action = 'forged' WHERE id = :i",
                                 "DELETE FROM audit_log WHERE id = :i",
                                 "TRUNCATE audit_log"])
def test_application_role_cannot_rewrite_the_audit_log(engine, sql):
    rid = _audit_row(engine)
    with engine.connect() as conn:
        with pytest.raises(sa.exc.ProgrammingError) as err:
            conn.execute(sa.text(sql), {"i": rid})
        conn.rollback()
    assert isinstance(err.value.orig, psycopg.errors.InsufficientPrivilege)
    assert "permission denied" in str(err.value.orig)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT action FROM audit_log WHERE id = :i"), {"i": rid}).scalar() == "role_test"


def test_trigger_refuses_even_a_role_granted_update_and_delete(engine, db_factory):
    rid = _audit_row(engine)
    role = f"qhse_auditor_{uuid.uuid4().hex[:8]}"
    owner = db_factory.owner_url(engine.url.render_as_string(hide_password=False))
    with psycopg.connect(libpq_dsn(owner), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}"')
        try:
            conn.execute(f'GRANT SELECT, UPDATE, DELETE, TRUNCATE ON audit_log TO "{role}"')
            conn.execute(f'SET ROLE "{role}"')
            for sql in (f"UPDATE audit_log SET action = 'forged' WHERE id = {rid}",
                        f"DELETE FROM audit_log WHERE id = {rid}", "TRUNCATE audit_log"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    conn.execute(sql)
            conn.execute("RESET ROLE")
            assert conn.execute("SELECT action FROM audit_log WHERE id = %s", (rid,)).fetchone()[0] == "role_test"
        finally:
            conn.execute("RESET ROLE")
            conn.execute(f'REVOKE ALL ON audit_log FROM "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_application_role_has_normal_dml_elsewhere(engine):
    with engine.begin() as conn:
        eid = conn.execute(sa.text("SELECT coalesce(max(id), 0) + 1 FROM enterprise")).scalar_one()
        conn.execute(sa.insert(m.Enterprise.__table__).values(id=eid, name="Roles Ltd"))
        conn.execute(sa.update(m.Enterprise.__table__).where(m.Enterprise.__table__.c.id == eid).values(name="R2"))
        conn.execute(sa.delete(m.Enterprise.__table__).where(m.Enterprise.__table__.c.id == eid))
        # Reading partitions are made through the owner's SECURITY DEFINER function.
        assert conn.execute(sa.text("SELECT qhse_ensure_reading_partitions('2031-01-05', '2031-02-05')")).scalar() >= 0
        assert conn.execute(sa.text("SELECT to_regclass('sensor_reading_y2031m02') IS NOT NULL")).scalar()
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
            conn.execute(sa.text("DROP TABLE enterprise"))


def test_seed_reset_keeps_the_audit_log_and_users(fresh_db_url):
    from qhse.demo.seed import reset_data, restore_user_sites

    eng = sa.create_engine(fresh_db_url)
    try:
        with eng.begin() as conn:
            conn.execute(sa.insert(m.Enterprise.__table__), [{"id": 1, "name": "E"}])
            conn.execute(sa.insert(m.Region.__table__), [{"id": 1, "enterprise_id": 1, "code": "R", "name": "R"}])
            conn.execute(sa.insert(m.Site.__table__), [{"id": 1, "region_id": 1, "code": "S1", "name": "P",
                                                        "industry": "x", "timezone": "UTC", "settings": {}}])
            uid = conn.execute(sa.text(
                "INSERT INTO user_account (username, display_name, password_hash, role, locale, all_sites, active) "
                "VALUES ('keeper', 'Keeper', 'x', 'plant_manager', 'en', false, true) RETURNING id")).scalar_one()
            conn.execute(sa.insert(m.UserSiteScope.__table__), [{"user_id": uid, "site_id": 1}])
            audit.record(conn, SYSTEM, "before_reset")
        with eng.begin() as conn:
            scopes = reset_data(conn)
            assert conn.execute(sa.text("SELECT count(*) FROM site")).scalar() == 0
            conn.execute(sa.insert(m.Enterprise.__table__), [{"id": 1, "name": "E"}])
            conn.execute(sa.insert(m.Region.__table__), [{"id": 1, "enterprise_id": 1, "code": "R", "name": "R"}])
            conn.execute(sa.insert(m.Site.__table__), [{"id": 7, "region_id": 1, "code": "S1", "name": "P",
                                                        "industry": "x", "timezone": "UTC", "settings": {}}])
            assert restore_user_sites(conn, scopes) == 1
        with eng.connect() as conn:
            actions = list(conn.execute(sa.text("SELECT action FROM audit_log ORDER BY id")).scalars())
            assert actions == ["before_reset", "seed_reset"]
            assert conn.execute(sa.text("SELECT site_id FROM user_site_scope WHERE user_id = :u"),
                                {"u": uid}).scalar() == 7
    finally:
        eng.dispose()
