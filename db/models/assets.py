"""Assets, sensors, readings (time-partitioned), rollups, alarms, maintenance, failures, predictions."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BYTEA, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from qhse.vocab import (
    AlarmOp,
    AlarmRuleKind,
    AlarmSeverity,
    AlarmStatus,
    MachineEventSeverity,
    MaintenanceKind,
    ProductType,
    RiskBand,
)

from .base import Base, choice, created_at_col


class Asset(Base):
    __tablename__ = "asset"
    __table_args__ = (choice("product_type", "product_type", ProductType),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(60))  # cnc_mill, lathe, press, reflow_oven, compressor, ...
    product_type: Mapped[str] = mapped_column(sa.String(1), default=ProductType.M.value)  # load class as in AI4I: L/M/H
    manufacturer: Mapped[str | None] = mapped_column(sa.String(120))
    installed_at: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = created_at_col()


class Sensor(Base):
    __tablename__ = "sensor"
    __table_args__ = (sa.UniqueConstraint("site_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(80))  # last MQTT topic segment
    # air_temp, process_temp, rpm, torque, tool_wear, vibration, voc, o2, h2s, temperature, humidity
    kind: Mapped[str] = mapped_column(sa.String(40))
    unit: Mapped[str] = mapped_column(sa.String(20))  # K, degC, rpm, Nm, min, mm/s, ppm, %vol, %RH
    # Physically valid range: readings outside are rejected to the dead-letter table.
    min_valid: Mapped[float | None]
    max_valid: Mapped[float | None]
    # Display thresholds (alarm rules decide alarms; these are drawn on charts).
    warn_low: Mapped[float | None]
    warn_high: Mapped[float | None]
    alarm_low: Mapped[float | None]
    alarm_high: Mapped[float | None]
    sample_period_s: Mapped[int] = mapped_column(default=60)
    active: Mapped[bool] = mapped_column(default=True)


class SensorKind(Base):
    """A kind of sensor (pressure, voltage, vibration, ...): its unit and default valid range.

    A sensor's own ``min_valid``/``max_valid`` override the kind's; default alarm rules are
    ``alarm_rule`` rows keyed by ``sensor_kind``.
    """

    __tablename__ = "sensor_kind"
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    unit: Mapped[str] = mapped_column(sa.String(20))
    min_valid: Mapped[float | None] = mapped_column(sa.Double)
    max_valid: Mapped[float | None] = mapped_column(sa.Double)
    description: Mapped[str | None] = mapped_column(sa.Text)


class SensorReading(Base):
    """One reading.  Partitioned by month on ``ts``; (sensor_id, ts) is unique so writes are idempotent.

    No foreign key to ``sensor``: keeps the table distributable by sensor id (Citus) and
    the COPY path cheap; the ingestion layer validates sensor ids before writing.
    """

    __tablename__ = "sensor_reading"
    __table_args__ = (
        sa.PrimaryKeyConstraint("sensor_id", "ts"),
        sa.Index("ix_sensor_reading_ts_brin", "ts", postgresql_using="brin"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )
    sensor_id: Mapped[int] = mapped_column(sa.Integer)
    ts: Mapped[dt.datetime]
    value: Mapped[float] = mapped_column(sa.Double)
    quality: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")  # 0 good, 1 uncertain, 2 bad


class SensorReadingHourly(Base):
    """Hourly rollup for dashboards (refreshed incrementally by the worker and the ingester)."""

    __tablename__ = "sensor_reading_hourly"
    __table_args__ = (sa.PrimaryKeyConstraint("sensor_id", "bucket"),)
    sensor_id: Mapped[int] = mapped_column(sa.Integer)
    bucket: Mapped[dt.datetime]
    n: Mapped[int]
    avg: Mapped[float] = mapped_column(sa.Double)
    min: Mapped[float] = mapped_column(sa.Double)
    max: Mapped[float] = mapped_column(sa.Double)


class SensorReadingDaily(Base):
    """Daily rollup (derived from the hourly one) for year-long charts."""

    __tablename__ = "sensor_reading_daily"
    __table_args__ = (sa.PrimaryKeyConstraint("sensor_id", "day"),)
    sensor_id: Mapped[int] = mapped_column(sa.Integer)
    day: Mapped[dt.date]
    n: Mapped[int]
    avg: Mapped[float] = mapped_column(sa.Double)
    min: Mapped[float] = mapped_column(sa.Double)
    max: Mapped[float] = mapped_column(sa.Double)


class AlarmRule(Base):
    """An alarm rule for a sensor kind (optionally restricted to one sensor)."""

    __tablename__ = "alarm_rule"
    __table_args__ = (
        choice("kind", "kind", AlarmRuleKind),
        choice("op", "op", AlarmOp),
        choice("severity", "severity", AlarmSeverity),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    sensor_kind: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    sensor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sensor.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20), default=AlarmRuleKind.THRESHOLD.value)
    op: Mapped[str] = mapped_column(sa.String(1), default=AlarmOp.GT.value)
    threshold: Mapped[float]  # value (threshold) or units per minute (rate)
    clear_threshold: Mapped[float | None]  # hysteresis: clears once back past this
    duration_s: Mapped[int] = mapped_column(default=0)  # condition must hold this long
    severity: Mapped[str] = mapped_column(sa.String(10), default=AlarmSeverity.WARNING.value)
    enabled: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(sa.Text)


class Alarm(Base):
    __tablename__ = "alarm"
    __table_args__ = (
        choice("status", "status", AlarmStatus),
        choice("severity", "severity", AlarmSeverity),
        # One open (not cleared) alarm per rule and sensor.
        sa.Index("uq_alarm_open_rule_sensor", "rule_id", "sensor_id", unique=True,
                 postgresql_where=sa.text("cleared_at IS NULL")),
        sa.Index("ix_alarm_site_raised", "site_id", "raised_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("alarm_rule.id", ondelete="CASCADE"))
    sensor_id: Mapped[int] = mapped_column(sa.ForeignKey("sensor.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    severity: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(15), default=AlarmStatus.OPEN.value)
    raised_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    first_value: Mapped[float] = mapped_column(sa.Double)
    last_value: Mapped[float] = mapped_column(sa.Double)
    peak_value: Mapped[float] = mapped_column(sa.Double)
    update_count: Mapped[int] = mapped_column(default=1)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(80))
    cleared_at: Mapped[dt.datetime | None]
    message: Mapped[str | None] = mapped_column(sa.Text)


class DeadLetter(Base):
    """Input that could not be stored, kept with its raw payload and the reason."""

    __tablename__ = "dead_letter"
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    received_at: Mapped[dt.datetime] = created_at_col()
    source: Mapped[str] = mapped_column(sa.String(40), default="mqtt")  # mqtt, import, api
    topic: Mapped[str | None] = mapped_column(sa.Text)
    payload: Mapped[bytes | None] = mapped_column(BYTEA)
    # bad_json, unknown_sensor, wrong_unit, ts_out_of_range, ...
    reason: Mapped[str] = mapped_column(sa.String(60), index=True)
    detail: Mapped[str | None] = mapped_column(sa.Text)


class MaintenanceEvent(Base):
    __tablename__ = "maintenance_event"
    __table_args__ = (choice("kind", "kind", MaintenanceKind),)
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(sa.ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    component: Mapped[str | None] = mapped_column(sa.String(60))
    note: Mapped[str | None] = mapped_column(sa.Text)


class FailureEvent(Base):
    __tablename__ = "failure_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(sa.ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(index=True)
    # TWF tool wear, HDF heat dissipation, PWF power, OSF overstrain, bearing, ...
    mode: Mapped[str] = mapped_column(sa.String(40))
    downtime_h: Mapped[float] = mapped_column(default=0.0)
    component: Mapped[str | None] = mapped_column(sa.String(60))
    note: Mapped[str | None] = mapped_column(sa.Text)


class MachineEvent(Base):
    """An error or alarm a machine logged itself (its controller's event log), imported from files."""

    __tablename__ = "machine_event"
    __table_args__ = (
        choice("severity", "severity", MachineEventSeverity),
        sa.UniqueConstraint("asset_id", "occurred_at", "code"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    asset_id: Mapped[int] = mapped_column(sa.ForeignKey("asset.id", ondelete="CASCADE"))
    occurred_at: Mapped[dt.datetime]
    code: Mapped[str] = mapped_column(sa.String(60))
    severity: Mapped[str] = mapped_column(sa.String(10))
    message: Mapped[str | None] = mapped_column(sa.Text)


class FailurePrediction(Base):
    __tablename__ = "failure_prediction"
    __table_args__ = (
        choice("risk_band", "risk_band", RiskBand),
        sa.Index("ix_failure_prediction_asset_scored", "asset_id", "scored_at"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    asset_id: Mapped[int] = mapped_column(sa.ForeignKey("asset.id", ondelete="CASCADE"))
    scored_at: Mapped[dt.datetime]
    horizon_days: Mapped[int] = mapped_column(default=7)
    probability: Mapped[float] = mapped_column(sa.Double)
    risk_band: Mapped[str] = mapped_column(sa.String(10))
    model_name: Mapped[str] = mapped_column(sa.String(120))
    model_version: Mapped[str] = mapped_column(sa.String(40))
    threshold: Mapped[float | None] = mapped_column(sa.Double)
    base_value: Mapped[float | None] = mapped_column(sa.Double)  # SHAP bias (margin)
    # [{"feature": str, "value": float, "contribution": float}], largest |contribution| first.
    contributions: Mapped[list] = mapped_column(JSONB, default=list)


class ModelMonitor(Base):
    """One figure of a monitoring run of the failure model (``ml.monitoring``): how past predictions
    turned out (kind ``outcome``: subject precision / recall / brier) or how far one feature drifted
    from the training reference (kind ``drift``: subject = feature, value = PSI).  ``flagged``: the
    figure crossed its threshold."""

    __tablename__ = "model_monitor"
    __table_args__ = (sa.Index("ix_model_monitor_kind_checked", "kind", "checked_at"),)
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    checked_at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(sa.String(20))
    model_name: Mapped[str] = mapped_column(sa.String(120))
    model_version: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(120))
    value: Mapped[float | None] = mapped_column(sa.Double)
    threshold: Mapped[float | None] = mapped_column(sa.Double)
    flagged: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[dict] = mapped_column(JSONB, default=dict)
