"""Assessment indicators (versioned definitions) and their monthly scores; audit log."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from qhse.vocab import AssessmentLevel, Rating, UnitType

from .base import Base, choice, created_at_col


class AssessmentIndicator(Base):
    __tablename__ = "assessment_indicator"
    __table_args__ = (sa.UniqueConstraint("code", "version"), choice("level", "level", AssessmentLevel))
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60))
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(sa.String(200))
    name_zh: Mapped[str | None] = mapped_column(sa.String(200))
    level: Mapped[str] = mapped_column(sa.String(12))
    # storage, machining, welding, electronics_assembly, waste_disposal, general
    stage: Mapped[str] = mapped_column(sa.String(40))
    source: Mapped[str] = mapped_column(sa.String(80))  # name of the computation (data source) or "manual"
    formula: Mapped[str] = mapped_column(sa.Text)  # human-readable definition
    unit: Mapped[str] = mapped_column(sa.String(20), default="%")
    target: Mapped[float]
    excellent_at: Mapped[float]
    qualified_at: Mapped[float]
    higher_is_better: Mapped[bool] = mapped_column(default=True)
    manual: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))  # local indicator
    created_at: Mapped[dt.datetime] = created_at_col()
    # Parameters of the data source (e.g. hazard categories, hours allowed) and which units it
    # applies to (e.g. {"local": true}: only sites listing it in settings.local_indicators).
    params: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    applies_to: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class AssessmentScore(Base):
    __tablename__ = "assessment_score"
    __table_args__ = (
        sa.UniqueConstraint("indicator_id", "unit_type", "unit_id", "period"),
        choice("rating", "rating", Rating),
        choice("unit_type", "unit_type", UnitType),
        sa.Index("ix_assessment_score_period_unit", "period", "unit_type", "unit_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("assessment_indicator.id", ondelete="CASCADE"), index=True)
    unit_type: Mapped[str] = mapped_column(sa.String(12))
    unit_id: Mapped[int]
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    period: Mapped[dt.date]  # first day of month
    value: Mapped[float | None]
    numerator: Mapped[float | None]
    denominator: Mapped[float | None]
    rating: Mapped[str] = mapped_column(sa.String(20))
    evidence: Mapped[list] = mapped_column(JSONB, default=list)  # [{"table": ..., "id": ...}]
    manual_entry_by: Mapped[str | None] = mapped_column(sa.String(120))
    manual_evidence: Mapped[str | None] = mapped_column(sa.Text)
    needs_plan: Mapped[bool] = mapped_column(default=False)
    computed_at: Mapped[dt.datetime] = created_at_col()


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_at", "at"),)
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = created_at_col()
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    username: Mapped[str | None] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(60))  # login, read_sensitive, acknowledge_alarm, review_event, ...
    entity: Mapped[str | None] = mapped_column(sa.String(60))
    entity_id: Mapped[str | None] = mapped_column(sa.String(60))
    sensitive: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[dict] = mapped_column(JSONB, default=dict)
