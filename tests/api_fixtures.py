"""Two plants with alarms, hazard reports and camera events, and API tokens, for the HTTP API tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from db import models as m
from qhse.services import actors, api_tokens
from tests.ingest_fixtures import Plant, make_plant

UTC = dt.UTC


@dataclass
class World:
    plant: Plant
    area_id: int
    alarm_id: int
    hazard_id: int
    event_id: int


def make_world(engine: sa.Engine) -> World:
    plant = make_plant(engine)
    now = dt.datetime.now(UTC)
    with engine.begin() as conn:
        area = conn.execute(sa.select(m.Area.id).where(m.Area.site_id == plant.site_id, m.Area.code == "CHEM")).scalar()
        sensor = plant.sensors["voc"].id if "voc" in plant.sensors else next(iter(plant.sensors.values())).id
        rule = conn.execute(sa.select(m.AlarmRule.id).where(m.AlarmRule.site_id == plant.site_id).limit(1)).scalar()
        alarm = conn.execute(sa.insert(m.Alarm).values(
            rule_id=rule, sensor_id=sensor, site_id=plant.site_id, area_id=area, severity="warning", status="open",
            raised_at=now, updated_at=now, first_value=1.0, last_value=1.0, peak_value=1.0, update_count=1,
        ).returning(m.Alarm.id)).scalar()
        hazard = conn.execute(sa.insert(m.HazardReport).values(
            site_id=plant.site_id, area_id=area, category="chemical", title="Open drum", severity="normal",
            likelihood=3, consequence=3, status="reported", source="worker", reported_at=now,
        ).returning(m.HazardReport.id)).scalar()
        cam = conn.execute(sa.insert(m.Camera).values(site_id=plant.site_id, area_id=area, name="Gate",
                                                      source_url="file:///dev/null").returning(m.Camera.id)).scalar()
        event = conn.execute(sa.insert(m.VisionEvent).values(
            camera_id=cam, site_id=plant.site_id, area_id=area, label="no_helmet", score=0.9, max_score=0.95,
            boxes=[], started_at=now, updated_at=now,
        ).returning(m.VisionEvent.id)).scalar()
    return World(plant, area, alarm, hazard, event)


def token(engine: sa.Engine, name: str, role: str, sites: list[str] | None, **kw) -> str:
    secret, _ = api_tokens.create(engine, actors.system("tests"), name=name, role=role, sites=sites, **kw)
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
