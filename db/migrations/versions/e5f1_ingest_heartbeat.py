"""ingestion: consumer heartbeats (one row per MQTT client id)

Revision ID: e5f1_ingest_heartbeat
Revises: d2b4_audit_roles
Create Date: 2026-12-01 12:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5f1_ingest_heartbeat"
down_revision: str | Sequence[str] | None = "d2b4_audit_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_heartbeat",
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_commit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lag_s", sa.Float(), nullable=True),
        sa.Column("backlog", sa.BigInteger(), nullable=False),
        sa.Column("spool_bytes", sa.BigInteger(), nullable=False),
        sa.Column("spool_segments", sa.Integer(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("readings", sa.BigInteger(), nullable=False),
        sa.Column("dead_letters", sa.BigInteger(), nullable=False),
        sa.Column("dead_letters_per_s", sa.Float(), nullable=True),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("db_up", sa.Boolean(), nullable=False),
        sa.Column("stale_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('running', 'stopped')", name=op.f("ck_ingest_heartbeat_status")),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_ingest_heartbeat")),
    )


def downgrade() -> None:
    op.drop_table("ingest_heartbeat")
