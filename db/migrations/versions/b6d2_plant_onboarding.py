"""plant onboarding: sensor kinds as data, machine event logs, components on failures and maintenance

Revision ID: b6d2_plant_onboarding
Revises: e5f1_ingest_heartbeat
Create Date: 2026-12-01 12:20:00

The sensor kinds below are a copy of the standard catalogue at the time of writing
(a migration imports nothing from the application); plants add their own with
``qhse import sensor-kinds``.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b6d2_plant_onboarding"
down_revision: str | Sequence[str] | None = "e5f1_ingest_heartbeat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = [
    # kind, unit, min_valid, max_valid, description
    ("air_temp", "K", 250.0, 350.0, "Ambient air temperature at the machine"),
    ("process_temp", "K", 250.0, 400.0, "Process (spindle, tool) temperature"),
    ("rpm", "rpm", 0.0, 4000.0, "Rotational speed"),
    ("torque", "Nm", 0.0, 120.0, "Torque"),
    ("tool_wear", "min", 0.0, 400.0, "Minutes of use of the current tool"),
    ("vibration", "mm/s", 0.0, 50.0, "Vibration velocity (RMS), ISO 10816"),
    ("voc", "ppm", 0.0, 2000.0, "Volatile organic compounds (solvent vapour)"),
    ("temperature", "degC", -20.0, 80.0, "Room temperature"),
    ("humidity", "%RH", 0.0, 100.0, "Relative humidity"),
    ("o2", "%vol", 0.0, 30.0, "Oxygen concentration"),
    ("h2s", "ppm", 0.0, 200.0, "Hydrogen sulphide concentration"),
]


def upgrade() -> None:
    kind = op.create_table(
        "sensor_kind",
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("min_valid", sa.Double(), nullable=True),
        sa.Column("max_valid", sa.Double(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_sensor_kind")),
    )
    op.bulk_insert(kind, [dict(kind=k, unit=u, min_valid=lo, max_valid=hi, description=d)
                          for k, u, lo, hi, d in KINDS])
    # Kinds already used by sensors of this database (with their most common unit) become rows too.
    op.execute("""
        INSERT INTO sensor_kind (kind, unit, min_valid, max_valid)
        SELECT kind, mode() WITHIN GROUP (ORDER BY unit), min(min_valid), max(max_valid)
        FROM sensor WHERE kind NOT IN (SELECT kind FROM sensor_kind) GROUP BY kind
    """)
    op.create_table(
        "machine_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint("severity IN ('info', 'warning', 'error', 'critical')",
                           name=op.f("ck_machine_event_severity")),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], name=op.f("fk_machine_event_asset_id_asset"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_event")),
        sa.UniqueConstraint("asset_id", "occurred_at", "code", name=op.f("uq_machine_event_asset_id_occurred_at_code")),
    )
    op.add_column("failure_event", sa.Column("component", sa.String(60), nullable=True))
    op.add_column("maintenance_event", sa.Column("component", sa.String(60), nullable=True))


def downgrade() -> None:
    op.drop_column("maintenance_event", "component")
    op.drop_column("failure_event", "component")
    op.drop_table("machine_event")
    op.drop_table("sensor_kind")
