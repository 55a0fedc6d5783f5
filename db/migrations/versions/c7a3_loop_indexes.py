"""hazard loop: index for the job runner's last-run lookup and for the notification queue

Revision ID: c7a3_loop_indexes
Revises: 0001_initial
Create Date: 2026-11-21 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c7a3_loop_indexes"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_job_run_job_started", "job_run", ["job", "started_at"])
    op.create_index("ix_notification_pending", "notification", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("ix_notification_pending", table_name="notification")
    op.drop_index("ix_job_run_job_started", table_name="job_run")
