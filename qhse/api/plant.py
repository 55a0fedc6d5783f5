"""Read routes of the plant: sites, areas, assets, sensors, reading history (rollups), failure predictions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from db.queries import api as q
from qhse.api.deps import MAX_ID, Caller, Code, Engine, Page, Page_, need, not_found, page
from qhse.api.problems import ApiProblem
from qhse.api.schemas import AreaOut, AssetOut, PredictionOut, RollupOut, SensorOut, SiteOut
from qhse.domain import access
from qhse.vocab import RiskBand, RiskClass

router = APIRouter(tags=["plant"])
SiteQ = Annotated[Code | None, Query(description="Site code")]
IdQ = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get("/sites", response_model=Page[SiteOut], summary="Sites in the token's scope")
def list_sites(scope: Caller, engine: Engine, p: Page_):
    return page(q.sites(engine, scope, limit=p.limit, offset=p.offset), p)


@router.get("/areas", response_model=Page[AreaOut], summary="Areas")
def list_areas(scope: Caller, engine: Engine, p: Page_, site: SiteQ = None,
               risk_class: Annotated[RiskClass | None, Query()] = None):
    return page(q.areas(engine, scope, site=site, risk_class=risk_class, limit=p.limit, offset=p.offset), p)


@router.get("/assets", response_model=Page[AssetOut], summary="Assets (machines)")
def list_assets(scope: Caller, engine: Engine, p: Page_, site: SiteQ = None, area_id: IdQ = None,
                kind: Annotated[Code | None, Query()] = None):
    need(scope, access.VIEW_EQUIPMENT)
    return page(q.assets(engine, scope, site=site, area_id=area_id, kind=kind, limit=p.limit, offset=p.offset), p)


@router.get("/sensors", response_model=Page[SensorOut], summary="Sensors")
def list_sensors(scope: Caller, engine: Engine, p: Page_, site: SiteQ = None, area_id: IdQ = None,
                 asset_id: IdQ = None, kind: Annotated[Code | None, Query()] = None):
    need(scope, access.VIEW_EQUIPMENT)
    return page(q.sensors(engine, scope, site=site, area_id=area_id, asset_id=asset_id, kind=kind, limit=p.limit,
                          offset=p.offset), p)


@router.get("/sensors/{sensor_id}", response_model=SensorOut, summary="One sensor")
def show_sensor(scope: Caller, engine: Engine, sensor_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
    need(scope, access.VIEW_EQUIPMENT)
    rows = q.sensors(engine, scope, sensor_id=sensor_id, limit=None)
    if not rows:
        raise not_found("sensor", sensor_id, "path.sensor_id")
    return rows[0]


@router.get("/sensors/{sensor_id}/readings", response_model=Page[RollupOut],
            summary="Reading history from the hourly or daily rollups")
def sensor_readings(scope: Caller, engine: Engine, p: Page_, sensor_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                    start: Annotated[dt.datetime | None, Query(description="Default: 7 days before end")] = None,
                    end: Annotated[dt.datetime | None, Query(description="Default: now")] = None,
                    grain: Annotated[Literal["hour", "day"], Query()] = "hour"):
    need(scope, access.VIEW_EQUIPMENT)
    end = _aware(end) or dt.datetime.now(dt.UTC)
    start = _aware(start) or end - dt.timedelta(days=7)
    if start > end:
        raise ApiProblem(422, "start must not be after end", field="query.start", kind="validation")
    try:
        rows = q.reading_history(engine, scope, sensor_id, start=start, end=end, grain=grain, limit=p.limit,
                                 offset=p.offset)
    except OverflowError:
        raise ApiProblem(422, "start/end out of range", field="query.start", kind="validation") from None
    if rows is None:
        raise not_found("sensor", sensor_id, "path.sensor_id")
    return page(rows, p)


@router.get("/predictions", response_model=Page[PredictionOut], summary="Failure predictions (latest per asset)")
def list_predictions(scope: Caller, engine: Engine, p: Page_, site: SiteQ = None, asset_id: IdQ = None,
                     risk_band: Annotated[RiskBand | None, Query()] = None,
                     history: Annotated[bool, Query(description="Every scoring, not only the latest")] = False):
    need(scope, access.VIEW_EQUIPMENT)
    return page(q.predictions(engine, scope, site=site, asset_id=asset_id, risk_band=risk_band,
                              latest_only=not history, limit=p.limit, offset=p.offset), p)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)
