"""Ingestion consumers' heartbeats (written by ``ingestion.heartbeat``, read by ``db.heartbeats``)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from qhse.vocab import HeartbeatStatus

from .base import Base, choice


class IngestHeartbeat(Base):
    """One row per consumer (MQTT client id), upserted every few seconds by its writer thread."""

    __tablename__ = "ingest_heartbeat"
    __table_args__ = (choice("status", "status", HeartbeatStatus),)
    client_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    host: Mapped[str | None] = mapped_column(sa.String(255))
    pid: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(10))
    started_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime]  # the database's now() at the last heartbeat
    last_commit_at: Mapped[dt.datetime | None]  # last batch committed
    lag_s: Mapped[float | None]  # age of the oldest message received and not yet stored
    backlog: Mapped[int] = mapped_column(sa.BigInteger)  # messages received, not yet stored
    spool_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    spool_segments: Mapped[int]
    received: Mapped[int] = mapped_column(sa.BigInteger)  # since the consumer started
    readings: Mapped[int] = mapped_column(sa.BigInteger)
    dead_letters: Mapped[int] = mapped_column(sa.BigInteger)
    dead_letters_per_s: Mapped[float | None]  # over the last heartbeat interval
    connected: Mapped[bool]  # to the broker
    db_up: Mapped[bool]
    stale_notified_at: Mapped[dt.datetime | None]  # on-call notified of this stall (cleared by the next heartbeat)
