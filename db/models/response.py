"""Contractor control, training gating, emergency response and the compliance register.

* contractors: induction attempts, supervisors' site checks (with photos), completion sign-offs;
* training gating: rules ("a gas area needs valid H2S and confined-space training") and the
  no-entry warnings they raise;
* emergencies: plan templates (versioned; reviews add lessons), declarations, their timeline
  and the closing review;
* the register of regulations and internal standards that apply to a site's ledgers.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from qhse.vocab import (
    CheckResult,
    EmergencyEventKind,
    EmergencyKind,
    EmergencyStatus,
    GatingMatch,
    GatingTrigger,
    LedgerKind,
    RegulationKind,
    SignoffParty,
)

from .base import Base, choice, created_at_col


# ------------------------------------------------------------------------------ contractors
class InductionAttempt(Base):
    """One sitting of the site induction test by a contractor's worker."""

    __tablename__ = "induction_attempt"
    __table_args__ = (
        sa.CheckConstraint("score BETWEEN 0 AND 100", name="score_0_100"),
        sa.CheckConstraint("pass_mark BETWEEN 0 AND 100", name="pass_mark_0_100"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    taken_at: Mapped[dt.datetime]
    score: Mapped[float]
    pass_mark: Mapped[float]
    passed: Mapped[bool]
    recorded_by: Mapped[str | None] = mapped_column(sa.String(120))


class SupervisorCheck(Base):
    """A supervisor's check of contractor work on site; at least one photo is required."""

    __tablename__ = "supervisor_check"
    __table_args__ = (
        choice("result", "result", CheckResult),
        sa.CheckConstraint("jsonb_array_length(photos) >= 1", name="has_photo"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("contractor_job.id", ondelete="CASCADE"), index=True)
    supervisor_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    checked_at: Mapped[dt.datetime]
    result: Mapped[str] = mapped_column(sa.String(10))
    note: Mapped[str | None] = mapped_column(sa.Text)
    # Paths relative to the data directory, e.g. "photos/contractor/12/3f2a….jpg".
    photos: Mapped[list] = mapped_column(JSONB, default=list)


class JobSignoff(Base):
    """Completion sign-off of a contractor job by one party; the job completes when all parties signed."""

    __tablename__ = "job_signoff"
    __table_args__ = (sa.UniqueConstraint("job_id", "party"), choice("party", "party", SignoffParty))
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("contractor_job.id", ondelete="CASCADE"), index=True)
    party: Mapped[str] = mapped_column(sa.String(20))
    signed_by: Mapped[str] = mapped_column(sa.String(120))
    signed_at: Mapped[dt.datetime]
    note: Mapped[str | None] = mapped_column(sa.Text)


# --------------------------------------------------------------------------- training gating
class GatingRule(Base):
    """Entry rule: people entering matching areas need valid training in the listed courses.

    ``trigger`` 'open_alarm': the rule bites only while an alarm is open in the area;
    'always': it bites whenever the training is not valid.
    """

    __tablename__ = "gating_rule"
    __table_args__ = (choice("trigger", "trigger", GatingTrigger), choice("match", "match", GatingMatch))
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"),  # null: all sites
                                                index=True)
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"))  # null: by area filters
    gas_areas_only: Mapped[bool] = mapped_column(default=False)
    area_kinds: Mapped[list] = mapped_column(JSONB, default=list)  # empty: any kind
    required_courses: Mapped[list] = mapped_column(JSONB, default=list)  # training_course codes
    match: Mapped[str] = mapped_column(sa.String(3), default=GatingMatch.ALL.value)
    trigger: Mapped[str] = mapped_column(sa.String(12), default=GatingTrigger.OPEN_ALARM.value)
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(sa.Text)


class EntryWarning(Base):
    """A no-entry warning for one person and area, raised by a gating rule; resolved when it no longer holds."""

    __tablename__ = "entry_warning"
    __table_args__ = (
        sa.Index("uq_entry_warning_open", "rule_id", "person_id", "area_id", unique=True,
                 postgresql_where=sa.text("resolved_at IS NULL")),
        sa.Index("ix_entry_warning_site_raised", "site_id", "raised_at"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("gating_rule.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    alarm_id: Mapped[int | None] = mapped_column(sa.ForeignKey("alarm.id", ondelete="SET NULL"))
    # [{"course": "H2S", "expired_on": "2026-03-01" | null}]; null expired_on: never trained.
    missing: Mapped[list] = mapped_column(JSONB, default=list)
    message: Mapped[str] = mapped_column(sa.Text)
    raised_at: Mapped[dt.datetime]
    notified_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    resolved_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(sa.String(60))  # training_valid, alarm_cleared, rule_inactive


# -------------------------------------------------------------------------------- emergencies
class PlanTemplate(Base):
    """Response plan for an emergency type, group-wide (site null) or per site; reviews add versions."""

    __tablename__ = "plan_template"
    __table_args__ = (
        sa.UniqueConstraint("kind", "site_id", "version", postgresql_nulls_not_distinct=True),
        choice("kind", "kind", EmergencyKind),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(sa.String(200))
    steps: Mapped[list] = mapped_column(JSONB, default=list)  # ordered response steps (text)
    resource_kinds: Mapped[list] = mapped_column(JSONB, default=list)  # emergency_resource kinds to locate
    notify_roles: Mapped[list] = mapped_column(JSONB, default=list)  # area_owner, plant_manager, security, ...
    external_contacts: Mapped[list] = mapped_column(JSONB, default=list)  # [{"name": ..., "contact": ...}]
    # [{"lesson": str, "emergency_id": int, "at": iso}] accumulated from reviews.
    lessons: Mapped[list] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[dt.datetime] = created_at_col()


class Emergency(Base):
    __tablename__ = "emergency"
    __table_args__ = (
        choice("kind", "kind", EmergencyKind),
        choice("status", "status", EmergencyStatus),
        sa.Index("ix_emergency_site_declared", "site_id", "declared_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(10), default=EmergencyStatus.ACTIVE.value)
    description: Mapped[str | None] = mapped_column(sa.Text)
    declared_at: Mapped[dt.datetime]
    declared_by: Mapped[str] = mapped_column(sa.String(120))
    template_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plan_template.id", ondelete="SET NULL"))
    plan: Mapped[dict] = mapped_column(JSONB, default=dict)  # the plan as generated at declaration
    plan_ms: Mapped[float | None]  # time taken to generate it
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(sa.String(120))


class EmergencyEvent(Base):
    """Timeline entry: declaration, plan, notifications, actions, resources used, closure."""

    __tablename__ = "emergency_event"
    __table_args__ = (choice("kind", "kind", EmergencyEventKind),)
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    emergency_id: Mapped[int] = mapped_column(sa.ForeignKey("emergency.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(sa.String(20))
    actor: Mapped[str | None] = mapped_column(sa.String(120))
    detail: Mapped[str] = mapped_column(sa.Text)
    resource_id: Mapped[int | None] = mapped_column(sa.ForeignKey("emergency_resource.id", ondelete="SET NULL"))
    quantity: Mapped[int | None]
    data: Mapped[dict] = mapped_column(JSONB, default=dict)


class EmergencyReview(Base):
    """Post-emergency review; its lessons go into a new version of the plan template."""

    __tablename__ = "emergency_review"
    id: Mapped[int] = mapped_column(primary_key=True)
    emergency_id: Mapped[int] = mapped_column(sa.ForeignKey("emergency.id", ondelete="CASCADE"), unique=True)
    reviewed_at: Mapped[dt.datetime]
    reviewed_by: Mapped[str] = mapped_column(sa.String(120))
    summary: Mapped[str] = mapped_column(sa.Text)
    lessons: Mapped[list] = mapped_column(JSONB, default=list)  # [str]
    new_steps: Mapped[list] = mapped_column(JSONB, default=list)  # [str] added to the template's steps
    template_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plan_template.id", ondelete="SET NULL"))


# ------------------------------------------------------------------------- compliance register
class Regulation(Base):
    """A regulation or internal standard that applies to a site (site null: the whole group)."""

    __tablename__ = "regulation"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "code", postgresql_nulls_not_distinct=True),
        choice("kind", "kind", RegulationKind),
        choice("ledger_kind", "ledger_kind", LedgerKind, nullable=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(80))
    title: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(20))
    authority: Mapped[str | None] = mapped_column(sa.String(200))
    clause: Mapped[str | None] = mapped_column(sa.String(200))
    requirement: Mapped[str | None] = mapped_column(sa.Text)
    ledger_kind: Mapped[str | None] = mapped_column(sa.String(20))  # which ledger evidences it
    effective_on: Mapped[dt.date | None]
    review_due_on: Mapped[dt.date | None]
    active: Mapped[bool] = mapped_column(default=True)
