"""Declarative base, naming convention and small column helpers shared by all models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model is mapped to a plain Table (DeclarativeBase declares the wider FromClause).
        __table__: ClassVar[sa.Table]

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: sa.DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        Decimal: sa.Numeric(14, 2),
    }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def created_at_col() -> Mapped[dt.datetime]:
    return mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def choice(name: str, column: str, vocabulary: type[StrEnum], *, nullable: bool = False) -> sa.CheckConstraint:
    """CHECK (column IN (...)) over a qhse.vocab enum's stored strings: enumerations as checked
    text, easy to extend in migrations.  ``nullable``: NULL passes too."""
    quoted = ", ".join("'" + member.value + "'" for member in vocabulary)
    expr = f"{column} IN ({quoted})"
    return sa.CheckConstraint(f"{column} IS NULL OR {expr}" if nullable else expr, name=name)


def sensitive(**kw) -> dict:
    """Column ``info`` marking personal health data: masked unless a role may see it."""
    return {"sensitive": True, **kw}
