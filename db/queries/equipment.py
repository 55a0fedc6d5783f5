"""Equipment health: latest failure prediction per asset, sensors and their rollup history."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from db.models import Area, Asset, FailurePrediction, Sensor, SensorReadingDaily, SensorReadingHourly, Site
from qhse.domain.access import Scope

from .scope import site_filter

RANK_COLUMNS = ["asset_id", "code", "name", "kind", "site", "area", "area_id", "probability", "risk_band",
                "scored_at", "model_name", "model_version", "threshold", "base_value", "contributions", "horizon_days"]


def ranked_assets(engine: sa.Engine, scope: Scope, *, site_ids=None, area_ids=None) -> pd.DataFrame:
    """Active assets with their latest prediction, most likely to fail first (unscored assets last)."""
    fp, a, s, ar = FailurePrediction.__table__, Asset.__table__, Site.__table__, Area.__table__
    # One index probe per asset (asset_id, scored_at DESC): cost follows the fleet, not the history.
    latest = (sa.select(fp.c.probability, fp.c.risk_band, fp.c.scored_at, fp.c.model_name, fp.c.model_version,
                        fp.c.threshold, fp.c.base_value, fp.c.contributions, fp.c.horizon_days)
              .where(fp.c.asset_id == a.c.id).order_by(fp.c.scored_at.desc()).limit(1).lateral("latest"))
    q = (sa.select(a.c.id.label("asset_id"), a.c.code, a.c.name, a.c.kind, s.c.code.label("site"),
                   ar.c.name.label("area"), a.c.area_id, latest.c.probability, latest.c.risk_band, latest.c.scored_at,
                   latest.c.model_name, latest.c.model_version, latest.c.threshold, latest.c.base_value,
                   latest.c.contributions, latest.c.horizon_days)
         .join(s, s.c.id == a.c.site_id).join(ar, ar.c.id == a.c.area_id)
         .outerjoin(latest, sa.true())
         .where(a.c.active, site_filter(scope, a.c.site_id, site_ids))
         .order_by(latest.c.probability.desc().nulls_last(), a.c.code))
    if area_ids:
        q = q.where(a.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=RANK_COLUMNS)


def prediction_history(engine: sa.Engine, scope: Scope, asset_id: int, *, since: dt.datetime | None = None,
                       ) -> pd.DataFrame:
    fp, a = FailurePrediction.__table__, Asset.__table__
    q = (sa.select(fp.c.scored_at, fp.c.probability, fp.c.risk_band, fp.c.model_version)
         .join(a, a.c.id == fp.c.asset_id)
         .where(fp.c.asset_id == asset_id, site_filter(scope, a.c.site_id)).order_by(fp.c.scored_at))
    if since is not None:
        q = q.where(fp.c.scored_at >= since)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["scored_at", "probability", "risk_band", "model_version"])


SENSOR_COLUMNS = ["id", "code", "kind", "unit", "asset_id", "asset", "area", "site", "warn_low", "warn_high",
                  "alarm_low", "alarm_high"]


def sensors(engine: sa.Engine, scope: Scope, *, asset_id: int | None = None, site_ids=None,
            area_ids=None) -> pd.DataFrame:
    se, a, ar, s = Sensor.__table__, Asset.__table__, Area.__table__, Site.__table__
    q = (sa.select(se.c.id, se.c.code, se.c.kind, se.c.unit, se.c.asset_id, a.c.code.label("asset"),
                   ar.c.name.label("area"), s.c.code.label("site"), se.c.warn_low, se.c.warn_high, se.c.alarm_low,
                   se.c.alarm_high)
         .join(s, s.c.id == se.c.site_id).join(ar, ar.c.id == se.c.area_id).outerjoin(a, a.c.id == se.c.asset_id)
         .where(se.c.active, site_filter(scope, se.c.site_id, site_ids)).order_by(s.c.code, ar.c.name, se.c.code))
    if asset_id is not None:
        q = q.where(se.c.asset_id == asset_id)
    if area_ids:
        q = q.where(se.c.area_id.in_(tuple(area_ids)))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=SENSOR_COLUMNS)


def sensor_history(engine: sa.Engine, scope: Scope, sensor_id: int, *, start: dt.datetime, end: dt.datetime,
                   resolution: str = "auto") -> tuple[str, pd.DataFrame]:
    """(resolution, rows t/avg/min/max/n) from the hourly rollup (<= 45 days) or the daily one.

    Rollups keep a year of one sensor at a few thousand rows, so the chart never reads raw readings.
    """
    se = Sensor.__table__
    with engine.connect() as conn:
        ok = conn.execute(sa.select(se.c.id).where(se.c.id == sensor_id, site_filter(scope, se.c.site_id))).first()
        if ok is None:
            return "hour", pd.DataFrame(columns=["t", "avg", "min", "max", "n"])
        if resolution == "auto":
            resolution = "hour" if (end - start) <= dt.timedelta(days=45) else "day"
        if resolution == "hour":
            h = SensorReadingHourly.__table__
            q = (sa.select(h.c.bucket.label("t"), h.c.avg, h.c.min, h.c.max, h.c.n)
                 .where(h.c.sensor_id == sensor_id, h.c.bucket >= start, h.c.bucket < end).order_by(h.c.bucket))
        else:
            d = SensorReadingDaily.__table__
            q = (sa.select(d.c.day.label("t"), d.c.avg, d.c.min, d.c.max, d.c.n)
                 .where(d.c.sensor_id == sensor_id, d.c.day >= start.date(),
                        d.c.day < end.date() + dt.timedelta(days=1))
                 .order_by(d.c.day))
        return resolution, pd.DataFrame(conn.execute(q).mappings().all(), columns=["t", "avg", "min", "max", "n"])
