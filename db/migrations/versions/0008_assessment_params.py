"""assessment indicators: source parameters and applicability filters

Revision ID: 0008_assessment_params
Revises: 0001_initial
Create Date: 2026-11-21 12:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_assessment_params"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("assessment_indicator",
                  sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False))
    op.add_column("assessment_indicator",
                  sa.Column("applies_to", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False))
    op.create_index("ix_assessment_score_period_unit", "assessment_score", ["period", "unit_type", "unit_id"])


def downgrade() -> None:
    op.drop_index("ix_assessment_score_period_unit", table_name="assessment_score")
    op.drop_column("assessment_indicator", "applies_to")
    op.drop_column("assessment_indicator", "params")
