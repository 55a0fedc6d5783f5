"""ml: model_monitor (outcomes of past failure predictions, feature drift against training)

Revision ID: b7e3_model_monitor
Revises: b6d2_plant_onboarding
Create Date: 2026-12-01 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b7e3_model_monitor"
down_revision: str | Sequence[str] | None = "b6d2_plant_onboarding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_monitor",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("model_name", sa.String(120), nullable=False),
        sa.Column("model_version", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_monitor")),
    )
    op.create_index("ix_model_monitor_kind_checked", "model_monitor", ["kind", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_model_monitor_kind_checked", table_name="model_monitor")
    op.drop_table("model_monitor")
