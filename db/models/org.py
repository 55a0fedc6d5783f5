"""Organisation: enterprise -> region -> site -> area; departments, posts, people, users."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qhse.vocab import ContractorStatus, Locale, PersonKind, RiskClass, Role

from .base import Base, choice, created_at_col, sensitive


class Enterprise(Base):
    __tablename__ = "enterprise"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[dt.datetime] = created_at_col()


class Region(Base):
    __tablename__ = "region"
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))


class Site(Base):
    """A plant."""

    __tablename__ = "site"
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    industry: Mapped[str] = mapped_column(sa.String(80))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Shanghai")
    city: Mapped[str | None] = mapped_column(sa.String(120))
    # Site-specific settings: SLA overrides, working calendar, local indicators.
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    areas: Mapped[list[Area]] = relationship(back_populates="site")


class Department(Base):
    __tablename__ = "department"
    __table_args__ = (sa.UniqueConstraint("site_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    # Process stage for assessment: storage, machining, welding, electronics_assembly, waste_disposal, general
    stage: Mapped[str] = mapped_column(sa.String(40), default="general")


class Area(Base):
    __tablename__ = "area"
    __table_args__ = (sa.UniqueConstraint("site_id", "code"), choice("risk_class", "risk_class", RiskClass))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(60))  # e.g. chemical_store, machining, smt_line, welding
    risk_class: Mapped[str] = mapped_column(sa.String(1))
    is_gas_area: Mapped[bool] = mapped_column(default=False)
    owner_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"), index=True)
    evacuation_route: Mapped[str | None] = mapped_column(sa.Text)
    assembly_point: Mapped[str | None] = mapped_column(sa.String(200))
    # Position on the site plan (metres), for "nearest resource" lookups.
    x_m: Mapped[float] = mapped_column(default=0.0)
    y_m: Mapped[float] = mapped_column(default=0.0)
    site: Mapped[Site] = relationship(back_populates="areas")


class Post(Base):
    """A job role (post) within a department."""

    __tablename__ = "post"
    __table_args__ = (sa.UniqueConstraint("department_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    hazardous: Mapped[bool] = mapped_column(default=False)


class ContractorCompany(Base):
    __tablename__ = "contractor_company"
    __table_args__ = (choice("status", "status", ContractorStatus),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    licence_no: Mapped[str | None] = mapped_column(sa.String(80))
    licence_expires_on: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(sa.String(20), default=ContractorStatus.PENDING.value)
    approved_safety_by: Mapped[str | None] = mapped_column(sa.String(120))
    approved_safety_at: Mapped[dt.datetime | None]
    approved_legal_by: Mapped[str | None] = mapped_column(sa.String(120))
    approved_legal_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_col()


class Person(Base):
    """An employee or a contractor's worker.  Health fields are sensitive (masked by role)."""

    __tablename__ = "person"
    __table_args__ = (choice("kind", "kind", PersonKind),)
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_no: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20), default=PersonKind.EMPLOYEE.value)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"), index=True)
    post_id: Mapped[int | None] = mapped_column(sa.ForeignKey("post.id", ondelete="SET NULL"), index=True)
    contractor_company_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contractor_company.id", ondelete="SET NULL"), index=True
    )
    induction_score: Mapped[float | None]  # percent, contractors
    induction_passed_at: Mapped[dt.datetime | None]
    hired_on: Mapped[dt.date | None]
    active: Mapped[bool] = mapped_column(default=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    # Sensitive health fields.
    blood_type: Mapped[str | None] = mapped_column(sa.String(4), info=sensitive())
    medical_conditions: Mapped[str | None] = mapped_column(sa.Text, info=sensitive())
    last_medical_exam_on: Mapped[dt.date | None] = mapped_column(info=sensitive())
    fit_for_duty: Mapped[bool | None] = mapped_column(info=sensitive())


class UserAccount(Base):
    __tablename__ = "user_account"
    __table_args__ = (choice("role", "role", Role), choice("locale", "locale", Locale))
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(30))
    locale: Mapped[str] = mapped_column(sa.String(5), default=Locale.EN.value)
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    # True: every site (group roles).  False: only the sites in user_site_scope.
    all_sites: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = created_at_col()
    last_login_at: Mapped[dt.datetime | None]


class UserSiteScope(Base):
    __tablename__ = "user_site_scope"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), primary_key=True)


class HoursWorked(Base):
    """Hours worked per site (and optionally department) and month: the KPI denominator."""

    __tablename__ = "hours_worked"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "department_id", "month", postgresql_nulls_not_distinct=True),
        sa.CheckConstraint("hours >= 0", name="hours_nonneg"),
        sa.CheckConstraint("extract(day from month) = 1", name="month_first_day"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    month: Mapped[dt.date]
    hours: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    headcount: Mapped[int] = mapped_column(default=0)
    contractor_hours: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), default=0)
