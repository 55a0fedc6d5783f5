"""database roles: the application role qhse_app and an append-only audit log

The schema belongs to the role that runs migrations (the owner).  The application logs in
as ``qhse_app`` (or a role that is a member of it), which gets normal DML on every table
but only SELECT and INSERT on ``audit_log``.  A trigger refuses UPDATE, DELETE and TRUNCATE
of ``audit_log`` for every role except the table's owner, so even a role later granted
those rights cannot rewrite the trail.  Reading partitions are created by a SECURITY
DEFINER function, since only the owner of ``sensor_reading`` may add partitions.

``qhse_grant_app_privileges()`` is idempotent; ``db.migrate.upgrade`` calls it after every
upgrade so tables added by later migrations on other branches are covered too.

Revision ID: d2b4_audit_roles
Revises: 0008_assessment_params, c7a3_loop_indexes, c9e1_response
Create Date: 2026-12-01 12:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "d2b4_audit_roles"
down_revision: str | Sequence[str] | None = ("0008_assessment_params", "c7a3_loop_indexes", "c9e1_response")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "qhse_app"

GRANTS_SQL = f"""
CREATE OR REPLACE FUNCTION qhse_grant_app_privileges() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        BEGIN
            CREATE ROLE {APP_ROLE} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- made meanwhile by a concurrent migration on the same server
        END;
    END IF;
    GRANT USAGE ON SCHEMA public TO {APP_ROLE};
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO {APP_ROLE};
    REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM {APP_ROLE};
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {APP_ROLE};
    GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {APP_ROLE};
    REVOKE EXECUTE ON FUNCTION qhse_grant_app_privileges() FROM PUBLIC, {APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO {APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE};
END $$;
"""

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION qhse_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
        RAISE EXCEPTION 'audit_log is append-only: % refused for role %', TG_OP, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION qhse_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION qhse_audit_log_append_only();
"""


def upgrade() -> None:
    op.execute(APPEND_ONLY_SQL)
    op.execute("ALTER FUNCTION qhse_ensure_reading_partitions(timestamptz, timestamptz) "
               "SECURITY DEFINER SET search_path = public, pg_temp")
    op.execute(GRANTS_SQL)
    op.execute("SELECT qhse_grant_app_privileges()")


def downgrade() -> None:
    op.execute(f"""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE};
            REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
            REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
            REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {APP_ROLE};
            REVOKE USAGE ON SCHEMA public FROM {APP_ROLE};
        END IF;
    END $$;
    """)
    op.execute("DROP FUNCTION IF EXISTS qhse_grant_app_privileges()")
    op.execute("ALTER FUNCTION qhse_ensure_reading_partitions(timestamptz, timestamptz) SECURITY INVOKER RESET search_path")
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS qhse_audit_log_append_only()")
