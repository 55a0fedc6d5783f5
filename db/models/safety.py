"""Hazard reports, corrective actions, dispatch, SLA, inspections, incidents, jobs, notifications."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from qhse.vocab import (
    ActionStatus,
    EscalationLevel,
    HazardSeverity,
    HazardSource,
    HazardStatus,
    IncidentKind,
    InspectionStatus,
    JobRunStatus,
    NotificationChannel,
    NotificationStatus,
)

from .base import Base, choice, created_at_col


class HazardReport(Base):
    __tablename__ = "hazard_report"
    __table_args__ = (
        choice("status", "status", HazardStatus),
        choice("severity", "severity", HazardSeverity),
        choice("source", "source", HazardSource),
        sa.CheckConstraint("likelihood BETWEEN 1 AND 5", name="likelihood_1_5"),
        sa.CheckConstraint("consequence BETWEEN 1 AND 5", name="consequence_1_5"),
        sa.Index("ix_hazard_report_site_reported", "site_id", "reported_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("asset.id", ondelete="SET NULL"), index=True)
    # electrical, chemical, machine_guarding, fire, housekeeping, ppe, ...
    category: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    location: Mapped[str | None] = mapped_column(sa.String(300))
    severity: Mapped[str] = mapped_column(sa.String(10), default=HazardSeverity.NORMAL.value)
    likelihood: Mapped[int] = mapped_column(sa.SmallInteger, default=3)
    consequence: Mapped[int] = mapped_column(sa.SmallInteger, default=3)
    status: Mapped[str] = mapped_column(sa.String(15), default=HazardStatus.REPORTED.value)
    source: Mapped[str] = mapped_column(sa.String(15), default=HazardSource.WORKER.value)
    reporter_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"), index=True)
    reporter_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    photo_path: Mapped[str | None] = mapped_column(sa.Text)
    reported_at: Mapped[dt.datetime]
    response_due_at: Mapped[dt.datetime | None]
    responded_at: Mapped[dt.datetime | None]
    rectified_at: Mapped[dt.datetime | None]
    verified_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(sa.Text)
    is_repeat: Mapped[bool] = mapped_column(default=False)
    predecessor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hazard_report.id", ondelete="SET NULL"))
    inspection_id: Mapped[int | None] = mapped_column(sa.ForeignKey("inspection.id", ondelete="SET NULL"))
    points_awarded: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = created_at_col()


class HazardTransition(Base):
    """Every status change of a hazard report: who, when, from, to, why."""

    __tablename__ = "hazard_transition"
    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(sa.ForeignKey("hazard_report.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(15))
    to_status: Mapped[str] = mapped_column(sa.String(15))
    actor: Mapped[str] = mapped_column(sa.String(120))
    at: Mapped[dt.datetime]
    note: Mapped[str | None] = mapped_column(sa.Text)


class DispatchRule(Base):
    """Which team(s) own a hazard: matched by site/area/category/minimum severity, most specific first."""

    __tablename__ = "dispatch_rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(sa.String(60))
    min_severity: Mapped[str | None] = mapped_column(sa.String(10))
    department_ids: Mapped[list] = mapped_column(JSONB, default=list)  # several = cross-department
    priority: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)


class SlaPolicy(Base):
    """Response time by severity, optionally per site and category (most specific wins)."""

    __tablename__ = "sla_policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(sa.String(60))
    severity: Mapped[str] = mapped_column(sa.String(10))
    response_hours: Mapped[float]
    use_calendar: Mapped[bool] = mapped_column(default=False)


class CorrectiveAction(Base):
    __tablename__ = "corrective_action"
    __table_args__ = (
        choice("status", "status", ActionStatus),
        sa.CheckConstraint(f"escalation_level BETWEEN 0 AND {len(EscalationLevel) - 1}", name="escalation_0_3"),
        sa.Index("ix_corrective_action_due", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(sa.ForeignKey("hazard_report.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"), index=True)
    owner_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(15), default=ActionStatus.OPEN.value)
    created_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None]
    verified_at: Mapped[dt.datetime | None]
    verified_by: Mapped[str | None] = mapped_column(sa.String(120))
    # Index into EscalationLevel: 0 owner, 1 area manager, 2 plant manager, 3 group.
    escalation_level: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    last_escalated_at: Mapped[dt.datetime | None]
    cost: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")


class ActionEscalation(Base):
    """One row per escalation step; unique (action, level) makes escalation idempotent."""

    __tablename__ = "action_escalation"
    __table_args__ = (sa.UniqueConstraint("action_id", "level"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(sa.ForeignKey("corrective_action.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    escalated_at: Mapped[dt.datetime]
    notified: Mapped[str | None] = mapped_column(sa.Text)


class InspectionRoute(Base):
    __tablename__ = "inspection_route"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Null: from the area's risk class (A daily, B every 2 days, C twice a week).
    frequency_days: Mapped[float | None]
    # [{"key": "...", "label": "...", "required": true, "type": "bool|number|text"}]
    checklist: Mapped[list] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(default=True)


class Inspection(Base):
    __tablename__ = "inspection"
    __table_args__ = (
        choice("status", "status", InspectionStatus),
        sa.UniqueConstraint("route_id", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(sa.ForeignKey("inspection_route.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[dt.datetime]
    performed_at: Mapped[dt.datetime | None]
    inspector_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(10), default=InspectionStatus.SCHEDULED.value)
    results: Mapped[dict] = mapped_column(JSONB, default=dict)
    findings: Mapped[int] = mapped_column(default=0)


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (
        choice("kind", "kind", IncidentKind),
        sa.CheckConstraint("days_away >= 0 AND days_restricted >= 0", name="days_nonneg"),
        sa.Index("ix_incident_site_occurred", "site_id", "occurred_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("area.id", ondelete="SET NULL"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"), index=True)
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    occurred_at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(sa.String(20))
    recordable: Mapped[bool] = mapped_column(default=False)
    lost_time: Mapped[bool] = mapped_column(default=False)
    restricted_or_transfer: Mapped[bool] = mapped_column(default=False)
    days_away: Mapped[int] = mapped_column(default=0)
    days_restricted: Mapped[int] = mapped_column(default=0)
    fatality: Mapped[bool] = mapped_column(default=False)
    contractor_involved: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    related_hazard_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hazard_report.id", ondelete="SET NULL"))
    cost: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")


class JobRun(Base):
    __tablename__ = "job_run"
    __table_args__ = (
        choice("status", "status", JobRunStatus),
        sa.Index("ix_job_run_job_started", "job", "started_at"),  # the worker's "last run of this job"
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(80), index=True)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    duration_s: Mapped[float | None]
    status: Mapped[str] = mapped_column(sa.String(10), default=JobRunStatus.RUNNING.value)
    worker: Mapped[str | None] = mapped_column(sa.String(120))
    detail: Mapped[str | None] = mapped_column(sa.Text)


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        choice("channel", "channel", NotificationChannel),
        choice("status", "status", NotificationStatus),
        # The delivery queue: pending rows by next attempt (sent rows pile up and are never scanned).
        sa.Index("ix_notification_pending", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(10))
    recipient: Mapped[str] = mapped_column(sa.Text)
    subject: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(10), default=NotificationStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = created_at_col()
    next_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    ref: Mapped[str | None] = mapped_column(sa.String(120))  # e.g. action:42:level:2
