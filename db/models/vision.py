"""Cameras, their zones, and PPE vision events with their review status."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from qhse.vocab import ReviewStatus

from .base import Base, choice, created_at_col


class Camera(Base):
    __tablename__ = "camera"
    __table_args__ = (sa.UniqueConstraint("site_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("area.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    source_url: Mapped[str] = mapped_column(sa.Text)  # rtsp://, http(s)://, file path, or webcam index
    detect_fps: Mapped[float] = mapped_column(default=2.0)
    enabled: Mapped[bool] = mapped_column(default=True)
    config: Mapped[dict] = mapped_column(JSONB, default=dict)  # motion thresholds, min score, ...


class CameraZone(Base):
    __tablename__ = "camera_zone"
    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("camera.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("area.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(sa.String(120))
    polygon: Mapped[list] = mapped_column(JSONB)  # [[x, y], ...] normalised 0..1
    required_ppe: Mapped[list] = mapped_column(JSONB, default=list)  # ["helmet", "vest"]
    active_from: Mapped[dt.time | None]
    active_to: Mapped[dt.time | None]
    cooldown_s: Mapped[int] = mapped_column(default=60)


class VisionEvent(Base):
    __tablename__ = "vision_event"
    __table_args__ = (
        choice("review_status", "review_status", ReviewStatus),
        sa.Index("ix_vision_event_review", "review_status", "started_at"),
        sa.Index("ix_vision_event_site_started", "site_id", "started_at"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("camera.id", ondelete="CASCADE"), index=True)
    zone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("camera_zone.id", ondelete="SET NULL"))
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("area.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(sa.String(40))  # no_helmet, no_vest
    score: Mapped[float] = mapped_column(sa.Double)  # median score when fired
    max_score: Mapped[float] = mapped_column(sa.Double)
    boxes: Mapped[list] = mapped_column(JSONB, default=list)  # [{"cls","score","xyxy":[...]}] in pixels
    track_id: Mapped[str | None] = mapped_column(sa.String(60))
    started_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    snapshot_path: Mapped[str | None] = mapped_column(sa.Text)
    review_status: Mapped[str] = mapped_column(sa.String(15), default=ReviewStatus.NEW.value,
                                               server_default=ReviewStatus.NEW.value)
    reviewed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None]
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = created_at_col()
