"""Schema migrations (Alembic), driven from Python so the CLI and tests share one path."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply migrations as the schema owner, then (re)grant the application role its rights."""
    command.upgrade(alembic_config(url), revision)
    grant_app_privileges(url)


def grant_app_privileges(url: str) -> bool:
    """Run ``qhse_grant_app_privileges()`` (migration d2b4) if it exists; True when it ran.

    Idempotent.  Covers tables that migrations on other branches added after d2b4 ran.
    """
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with eng.begin() as conn:
            ok = conn.execute(sa.text(
                "SELECT CASE WHEN to_regprocedure('qhse_grant_app_privileges()') IS NULL THEN false "
                "ELSE has_function_privilege(to_regprocedure('qhse_grant_app_privileges()'), 'EXECUTE') END")).scalar()
            if ok:
                conn.execute(sa.text("SELECT qhse_grant_app_privileges()"))
            return bool(ok)
    finally:
        eng.dispose()


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def heads(url: str = "postgresql+psycopg://") -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def current(url: str) -> set[str]:
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with eng.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        eng.dispose()


def is_up_to_date(url: str) -> bool:
    return current(url) == heads(url)
