"""Training, contractor qualifications and jobs, access records, emergency resources, materials."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from qhse.vocab import ContractorJobStatus

from .base import Base, choice, created_at_col


class TrainingCourse(Base):
    __tablename__ = "training_course"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)  # e.g. H2S, CONFINED_SPACE, HOT_WORK
    name: Mapped[str] = mapped_column(sa.String(200))
    validity_months: Mapped[int | None]  # null: never expires


class TrainingRecord(Base):
    __tablename__ = "training_record"
    __table_args__ = (sa.UniqueConstraint("person_id", "course_id", "completed_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("training_course.id", ondelete="CASCADE"), index=True)
    completed_on: Mapped[dt.date]
    expires_on: Mapped[dt.date | None]
    score: Mapped[float | None]
    passed: Mapped[bool] = mapped_column(default=True)


class Qualification(Base):
    """Licence or special-work certificate of a contractor company or a person."""

    __tablename__ = "qualification"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contractor_company.id", ondelete="CASCADE"),
                                                   index=True)
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    # business_licence, safety_licence, electrician, welder, work_at_height
    kind: Mapped[str] = mapped_column(sa.String(60))
    number: Mapped[str | None] = mapped_column(sa.String(80))
    expires_on: Mapped[dt.date | None]


class ContractorJob(Base):
    __tablename__ = "contractor_job"
    __table_args__ = (
        choice("status", "status", ContractorJobStatus),
        sa.CheckConstraint("ends_at > starts_at", name="window_order"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(sa.ForeignKey("contractor_company.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(sa.Text)
    work_types: Mapped[list] = mapped_column(JSONB, default=list)  # hot_work, work_at_height, ...
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(sa.String(12), default=ContractorJobStatus.REQUESTED.value)
    approved_by: Mapped[str | None] = mapped_column(sa.String(120))
    approved_at: Mapped[dt.datetime | None]
    supervisor_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = created_at_col()


class ContractorJobWorker(Base):
    __tablename__ = "contractor_job_worker"
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("contractor_job.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)


class AccessRecord(Base):
    """Someone entered (and later left) an area."""

    __tablename__ = "access_record"
    __table_args__ = (sa.Index("ix_access_record_area_open", "area_id", "exited_at"),)
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contractor_job.id", ondelete="SET NULL"))
    entered_at: Mapped[dt.datetime]
    exited_at: Mapped[dt.datetime | None]


class EmergencyResource(Base):
    __tablename__ = "emergency_resource"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("area.id", ondelete="SET NULL"), index=True)
    # gas_detector, breathing_apparatus, extinguisher, spill_kit, first_aid, eyewash
    kind: Mapped[str] = mapped_column(sa.String(40))
    quantity: Mapped[int] = mapped_column(default=1)
    location: Mapped[str | None] = mapped_column(sa.String(200))
    last_checked_on: Mapped[dt.date | None]


class HazardousMaterial(Base):
    __tablename__ = "hazardous_material"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("area.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    cas_no: Mapped[str | None] = mapped_column(sa.String(20))
    hazard_class: Mapped[str] = mapped_column(sa.String(60))  # flammable liquid, toxic gas, corrosive, ...
    quantity: Mapped[float]
    unit: Mapped[str] = mapped_column(sa.String(10))  # kg, L, m3
    max_quantity: Mapped[float | None]
