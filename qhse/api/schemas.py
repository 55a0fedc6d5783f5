"""Response and request bodies of the HTTP API (pydantic).

Vocabularies come from :mod:`qhse.vocab` (the same ``StrEnum`` the models, rules and pages use);
a reading in ``POST /readings`` has the fields of the MQTT payload (``ingestion.schemas.Reading``)
plus the sensor it belongs to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qhse.vocab import (
    AlarmSeverity,
    EmergencyKind,
    EmergencyStatus,
    HazardSeverity,
    HazardStatus,
    ReviewStatus,
)


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SiteOut(_Out):
    id: int
    code: str
    name: str
    industry: str
    city: str | None
    timezone: str


class AreaOut(_Out):
    id: int
    site_id: int
    site: str
    code: str
    name: str
    kind: str
    risk_class: str
    is_gas_area: bool


class AssetOut(_Out):
    id: int
    site_id: int
    site: str
    area_id: int
    code: str
    name: str
    kind: str
    product_type: str
    manufacturer: str | None
    installed_at: dt.datetime | None
    active: bool


class SensorOut(_Out):
    id: int
    site_id: int
    site: str
    area_id: int
    area: str
    asset_id: int | None
    asset: str | None
    code: str
    kind: str
    unit: str
    min_valid: float | None
    max_valid: float | None
    warn_low: float | None
    warn_high: float | None
    alarm_low: float | None
    alarm_high: float | None
    sample_period_s: int
    active: bool


class RollupOut(_Out):
    t: dt.datetime | dt.date = Field(description="Start of the hour (grain=hour) or the day (grain=day)")
    n: int
    avg: float
    min: float
    max: float


class ReadingIn(BaseModel):
    """One reading: the MQTT payload's fields plus the sensor (and its site when the code is not unique)."""

    model_config = ConfigDict(extra="allow")
    sensor: str = Field(description="Sensor code")
    site: str | None = Field(None, description="Site code; needed only when the sensor code exists at several sites")
    ts: int | float | dt.datetime | None = Field(None, description="Epoch milliseconds or ISO 8601 with a time zone; "
                                                 "absent: the time of receipt")
    value: float
    unit: str
    quality: int | None = Field(None, ge=0, le=2, description="0 good (default), 1 uncertain, 2 bad")


class ReadingBatchIn(BaseModel):
    readings: list[ReadingIn] = Field(description="At most 10,000 readings")


class BadReading(BaseModel):
    index: int = Field(description="Position of the reading in the batch")
    field: str = Field(description="body.readings.<index>.<field>: the wrong field")
    reason: str = Field(description="Dead-letter reason, as for MQTT: unknown_sensor, wrong_unit, ts_out_of_range, "
                                    "value_out_of_range, invalid_payload, inactive_sensor, ...")
    detail: str


class ReadingBatchOut(BaseModel):
    received: int
    stored: int = Field(description="New readings written (a reading already stored is not stored twice)")
    duplicates: int
    rejected: int
    bad: list[BadReading]


class AlarmOut(_Out):
    id: int
    site_id: int
    site: str
    area_id: int
    sensor_id: int
    sensor: str
    rule_id: int
    rule: str
    severity: AlarmSeverity
    status: str
    raised_at: dt.datetime
    updated_at: dt.datetime
    first_value: float
    last_value: float
    peak_value: float
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    cleared_at: dt.datetime | None
    message: str | None


class NoteIn(BaseModel):
    note: str | None = Field(None, max_length=2000, pattern=r"^[^\x00]*$")


class HazardOut(_Out):
    id: int
    site_id: int
    site: str
    area_id: int
    asset_id: int | None
    category: str
    title: str
    severity: HazardSeverity
    status: HazardStatus
    source: str
    reported_at: dt.datetime
    response_due_at: dt.datetime | None
    closed_at: dt.datetime | None
    is_repeat: bool


class TransitionOut(_Out):
    from_status: str | None
    to_status: str
    actor: str | None
    at: dt.datetime
    note: str | None


class ActionOut(_Out):
    id: int
    department: str | None
    owner: str | None
    description: str | None
    status: str
    created_at: dt.datetime | None
    due_at: dt.datetime | None
    completed_at: dt.datetime | None
    verified_at: dt.datetime | None
    verified_by: str | None
    escalation_level: int | None
    escalations: str | None


class HazardDetailOut(HazardOut):
    description: str | None
    location: str | None
    likelihood: int
    consequence: int
    area: str
    asset: str | None
    reporter: str | None
    has_photo: bool
    rectified_at: dt.datetime | None
    verified_at: dt.datetime | None
    reject_reason: str | None
    predecessor_id: int | None
    points_awarded: int
    transitions: list[TransitionOut]
    actions: list[ActionOut]


class TransitionIn(BaseModel):
    to_status: HazardStatus
    reason: str | None = Field(None, max_length=2000, pattern=r"^[^\x00]*$")
    note: str | None = Field(None, max_length=2000, pattern=r"^[^\x00]*$")
    department_ids: list[int] | None = Field(None, max_length=20)


class CreatedOut(BaseModel):
    id: int


class VisionEventOut(_Out):
    id: int
    site_id: int
    site: str
    area_id: int | None
    camera_id: int
    zone_id: int | None
    label: str
    score: float
    max_score: float
    track_id: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    review_status: ReviewStatus
    reviewed_at: dt.datetime | None
    review_note: str | None


class ReviewIn(BaseModel):
    decision: ReviewStatus
    note: str | None = Field(None, max_length=2000, pattern=r"^[^\x00]*$")


class EmergencyOut(_Out):
    id: int
    site_id: int
    site: str
    area_id: int
    kind: EmergencyKind
    status: EmergencyStatus
    description: str | None
    declared_at: dt.datetime
    declared_by: str
    closed_at: dt.datetime | None
    closed_by: str | None
    plan_ms: float | None


class EmergencyDetailOut(EmergencyOut):
    plan: dict[str, Any]


class EmergencyIn(BaseModel):
    area_id: int = Field(ge=1, le=2**31 - 1)
    kind: EmergencyKind
    description: str | None = Field(None, max_length=2000, pattern=r"^[^\x00]*$")


class DeclaredOut(BaseModel):
    id: int
    plan_ms: float
    notifications: int


class PredictionOut(_Out):
    id: int
    asset_id: int
    asset: str
    site_id: int
    site: str
    scored_at: dt.datetime
    horizon_days: int
    probability: float
    risk_band: str
    model_name: str
    model_version: str
    threshold: float | None


class KpiRowOut(BaseModel):
    key: str
    label: str
    values: dict[str, float | int | None]


class KpiOut(BaseModel):
    period: str
    by: str
    rows: list[dict[str, Any]]
