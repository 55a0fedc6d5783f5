"""Point-in-time features and labels for machine failure prediction, computed in SQL.

A *snapshot* is (asset, t): the asset as it looked at prediction time ``t``. Every feature
of a snapshot uses only readings with ``ts < t`` and events that started before ``t``:

1. Raw readings of the asset's machine sensors in [min(t) - 7 days, max(t)) are pivoted
   into one row per asset and hour (temporary table, indexed): hourly means of each
   signal, derived physics (temperature difference, power = torque x speed x 2 pi / 60) and
   the last tool-wear value of the hour. Snapshot windows take buckets strictly before
   ``t``; the pivot itself stops at max(t), and when several prediction times are built at
   once they must be whole hours, so no bucket used by a snapshot holds a reading at or
   after its ``t``.
2. For each snapshot, one LATERAL aggregate over that asset's hours in [t - 7 d, t) gives
   24-hour and 7-day means, extremes and least-squares slopes (per day), restricted to
   running hours (spindle turning), plus time since the last maintenance and tool change.
3. The asset's normal level (baseline) is the mean of running hours over the 30 days
   before that 7-day window, read from the hourly rollup; features such as
   ``vibration_vs_baseline`` compare the last 24 hours with it.

Labels: a snapshot is positive when a failure of the asset occurs in (t, t + horizon].
Snapshots whose horizon reaches past the end of the recorded data are censored (unknown
outcome) and left out of training.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

MACHINE_KINDS = ("air_temp", "process_temp", "rpm", "torque", "tool_wear", "vibration")
PRODUCT_TYPE_CODE = {"L": 0, "M": 1, "H": 2}
# Overstrain limit (tool wear x torque, min*Nm) by product/load class, as in AI4I 2020.
OVERSTRAIN_LIMIT = {"L": 11_000.0, "M": 12_000.0, "H": 13_000.0}
RUNNING_RPM = 100.0  # an hour counts as running when the mean spindle speed is above this
WINDOW_DAYS = 7
# The asset's own normal level: running-hour means over the 30 days before the 7-day window.
BASELINE_DAYS = 30
LOOKBACK_DAYS = WINDOW_DAYS + BASELINE_DAYS

FEATURES: list[str] = [
    "product_type_code",
    "running_hours_24h",
    "running_hours_7d",
    "air_temp_mean_24h",
    "process_temp_mean_24h",
    "process_temp_max_24h",
    "process_temp_slope_7d",
    "temp_diff_mean_24h",
    "temp_diff_min_24h",
    "temp_diff_mean_7d",
    "temp_diff_slope_7d",
    "temp_diff_delta",
    "rpm_mean_24h",
    "rpm_min_24h",
    "torque_mean_24h",
    "torque_max_24h",
    "torque_slope_7d",
    "torque_delta",
    "power_mean_24h",
    "power_min_24h",
    "power_max_24h",
    "vibration_mean_24h",
    "vibration_max_24h",
    "vibration_mean_7d",
    "vibration_slope_7d",
    "vibration_delta",
    "vibration_vs_baseline",
    "temp_diff_vs_baseline",
    "torque_vs_baseline",
    "rpm_vs_baseline",
    "tool_wear_min",
    "overstrain_ratio",
    "hours_since_maintenance",
    "hours_since_tool_change",
]

_PIVOT_SQL = f"""
CREATE TEMPORARY TABLE ml_hourly ON COMMIT DROP AS
SELECT asset_id, bucket, air_temp, process_temp, rpm, torque, vibration, tool_wear_last,
       process_temp - air_temp AS temp_diff,
       CASE WHEN rpm > {RUNNING_RPM} THEN torque * rpm * 2 * pi() / 60 END AS power_w,
       COALESCE(rpm > {RUNNING_RPM}, false) AS running,
       extract(epoch FROM bucket) / 86400.0 AS day
FROM (
    SELECT s.asset_id, date_trunc('hour', r.ts) AS bucket,
           avg(r.value) FILTER (WHERE s.kind = 'air_temp') AS air_temp,
           avg(r.value) FILTER (WHERE s.kind = 'process_temp') AS process_temp,
           avg(r.value) FILTER (WHERE s.kind = 'rpm') AS rpm,
           avg(r.value) FILTER (WHERE s.kind = 'torque') AS torque,
           avg(r.value) FILTER (WHERE s.kind = 'vibration') AS vibration,
           (array_agg(r.value ORDER BY r.ts DESC) FILTER (WHERE s.kind = 'tool_wear'))[1] AS tool_wear_last
    FROM sensor_reading r
    JOIN sensor s ON s.id = r.sensor_id
    WHERE s.asset_id = ANY(:asset_ids)
      AND s.kind = ANY(:kinds)
      AND r.ts >= :lo AND r.ts < :hi
      AND r.quality < 2
    GROUP BY s.asset_id, date_trunc('hour', r.ts)
) p
"""

# The baseline (30 days ending 7 days before t) reads the hourly rollup maintained by
# ingestion (sensor_reading_hourly) rather than raw readings: at one-minute sampling that
# is 60x fewer rows, and data a week old is always rolled up. Day buckets are used only
# when they end before the 7-day window starts, hence well before t. Training and scoring
# both go through this code, so the baseline is computed the same way in both.
_DAILY_SQL = f"""
CREATE TEMPORARY TABLE ml_daily ON COMMIT DROP AS
SELECT asset_id, date_trunc('day', bucket) AS day,
       avg(vibration) AS vibration, avg(process_temp - air_temp) AS temp_diff,
       avg(torque) AS torque, avg(rpm) AS rpm
FROM (
    SELECT s.asset_id, h.bucket,
           avg(h.avg) FILTER (WHERE s.kind = 'air_temp') AS air_temp,
           avg(h.avg) FILTER (WHERE s.kind = 'process_temp') AS process_temp,
           avg(h.avg) FILTER (WHERE s.kind = 'rpm') AS rpm,
           avg(h.avg) FILTER (WHERE s.kind = 'torque') AS torque,
           avg(h.avg) FILTER (WHERE s.kind = 'vibration') AS vibration
    FROM sensor_reading_hourly h
    JOIN sensor s ON s.id = h.sensor_id
    WHERE s.asset_id = ANY(:asset_ids)
      AND s.kind = ANY(:kinds)
      AND h.bucket >= :lo AND h.bucket < :hi
    GROUP BY s.asset_id, h.bucket
) p
WHERE rpm > {RUNNING_RPM}
GROUP BY asset_id, date_trunc('day', bucket)
"""

_SNAPSHOT_SQL = f"""
SELECT g.asset_id, g.t, a.product_type,
       w.*, b.*,
       tw.tool_wear_last,
       extract(epoch FROM g.t - mt.last_maint) / 3600.0 AS hours_since_maintenance,
       extract(epoch FROM g.t - tc.last_change) / 3600.0 AS hours_since_tool_change,
       EXISTS (SELECT 1 FROM failure_event f
               WHERE f.asset_id = g.asset_id AND f.occurred_at > g.t
                 AND f.occurred_at <= g.t + make_interval(days => :horizon)) AS label
FROM unnest(CAST(:g_asset AS integer[]), CAST(:g_t AS timestamptz[])) AS g(asset_id, t)
JOIN asset a ON a.id = g.asset_id
LEFT JOIN LATERAL (
    SELECT
      count(*) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS running_hours_24h,
      count(*) FILTER (WHERE h.running) AS running_hours_7d,
      avg(h.air_temp) FILTER (WHERE h.bucket >= g.t - interval '24 hours') AS air_temp_mean_24h,
      avg(h.process_temp) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS process_temp_mean_24h,
      max(h.process_temp) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS process_temp_max_24h,
      regr_slope(h.process_temp, h.day) FILTER (WHERE h.running) AS process_temp_slope_7d,
      avg(h.temp_diff) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS temp_diff_mean_24h,
      min(h.temp_diff) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS temp_diff_min_24h,
      avg(h.temp_diff) FILTER (WHERE h.running) AS temp_diff_mean_7d,
      regr_slope(h.temp_diff, h.day) FILTER (WHERE h.running) AS temp_diff_slope_7d,
      avg(h.rpm) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS rpm_mean_24h,
      min(h.rpm) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS rpm_min_24h,
      avg(h.torque) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS torque_mean_24h,
      max(h.torque) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS torque_max_24h,
      avg(h.torque) FILTER (WHERE h.running) AS torque_mean_7d,
      regr_slope(h.torque, h.day) FILTER (WHERE h.running) AS torque_slope_7d,
      avg(h.power_w) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS power_mean_24h,
      min(h.power_w) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS power_min_24h,
      max(h.power_w) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS power_max_24h,
      avg(h.vibration) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS vibration_mean_24h,
      max(h.vibration) FILTER (WHERE h.running AND h.bucket >= g.t - interval '24 hours') AS vibration_max_24h,
      avg(h.vibration) FILTER (WHERE h.running) AS vibration_mean_7d,
      regr_slope(h.vibration, h.day) FILTER (WHERE h.running) AS vibration_slope_7d,
      max(h.bucket) AS last_bucket
    FROM ml_hourly h
    WHERE h.asset_id = g.asset_id
      AND h.bucket >= g.t - make_interval(days => {WINDOW_DAYS}) AND h.bucket < g.t
) w ON true
LEFT JOIN LATERAL (
    SELECT avg(d.vibration) AS vibration_base, avg(d.temp_diff) AS temp_diff_base,
           avg(d.torque) AS torque_base, avg(d.rpm) AS rpm_base
    FROM ml_daily d
    WHERE d.asset_id = g.asset_id
      AND d.day >= g.t - make_interval(days => {LOOKBACK_DAYS})
      AND d.day < g.t - make_interval(days => {WINDOW_DAYS})
) b ON true
LEFT JOIN LATERAL (
    SELECT h.tool_wear_last FROM ml_hourly h
    WHERE h.asset_id = g.asset_id AND h.bucket < g.t
      AND h.bucket >= g.t - make_interval(days => {WINDOW_DAYS})
      AND h.tool_wear_last IS NOT NULL
    ORDER BY h.bucket DESC LIMIT 1
) tw ON true
LEFT JOIN LATERAL (
    SELECT max(m.started_at) AS last_maint FROM maintenance_event m
    WHERE m.asset_id = g.asset_id AND m.started_at < g.t AND m.kind IN ('preventive', 'corrective')
) mt ON true
LEFT JOIN LATERAL (
    SELECT max(m.started_at) AS last_change FROM maintenance_event m
    WHERE m.asset_id = g.asset_id AND m.started_at < g.t AND m.kind = 'tool_change'
) tc ON true
ORDER BY g.t, g.asset_id
"""


class FeatureError(ValueError):
    """Features cannot be built (no machine assets, no readings); the message says why."""


@dataclass(frozen=True)
class DataRange:
    first: dt.datetime | None
    last: dt.datetime | None


def machine_assets(conn, *, active_only: bool = False) -> list[int]:
    """Assets with at least one machine sensor."""
    sql = """
        SELECT DISTINCT a.id FROM asset a JOIN sensor s ON s.asset_id = a.id
        WHERE s.kind = ANY(:kinds) {active} ORDER BY a.id
    """.format(active="AND a.active" if active_only else "")
    return [r[0] for r in conn.execute(sa.text(sql), {"kinds": list(MACHINE_KINDS)})]


def reading_range(conn, asset_ids: Sequence[int]) -> DataRange:
    """First and last reading time over the machine sensors of ``asset_ids``."""
    row = conn.execute(
        sa.text(
            """SELECT min(r.ts), max(r.ts) FROM sensor_reading r JOIN sensor s ON s.id = r.sensor_id
               WHERE s.asset_id = ANY(:ids) AND s.kind = ANY(:kinds)"""
        ),
        {"ids": list(asset_ids), "kinds": list(MACHINE_KINDS)},
    ).one()
    return DataRange(row[0], row[1])


def snapshot_grid(
    asset_ids: Sequence[int], start: dt.datetime, end: dt.datetime, step_hours: int = 12
) -> tuple[list[int], list[dt.datetime]]:
    """All (asset, t) with t on whole hours every ``step_hours`` from ``start`` to ``end``."""
    if step_hours < 1:
        raise FeatureError("step_hours must be at least 1")
    t0 = start.replace(minute=0, second=0, microsecond=0)
    if t0 < start:
        t0 += dt.timedelta(hours=1)
    n = int((end - t0).total_seconds() // (3600 * step_hours)) + 1 if end >= t0 else 0
    times = [t0 + dt.timedelta(hours=step_hours * i) for i in range(n)]
    g_asset = [a for _t in times for a in asset_ids]
    g_t = [t for t in times for _a in asset_ids]
    return g_asset, g_t


def build_snapshots(
    conn,
    asset_ids: Sequence[int],
    times: Sequence[dt.datetime],
    *,
    horizon_days: int = 7,
) -> pd.DataFrame:
    """Features (and the raw label) for each pair (asset_ids[i], times[i]).

    ``conn`` must be a Connection inside a transaction (a temporary table lives in it).
    Returns one row per snapshot with columns asset_id, t, label and FEATURES.
    """
    if len(asset_ids) != len(times):
        raise FeatureError("asset_ids and times must have the same length")
    if not asset_ids:
        return _empty_frame()
    times = [_aware(t) for t in times]
    if len(set(times)) > 1 and any(t != t.replace(minute=0, second=0, microsecond=0) for t in times):
        raise FeatureError("several prediction times at once must be whole hours")
    lo = min(times) - dt.timedelta(days=WINDOW_DAYS)
    hi = max(times)
    base_lo = min(times) - dt.timedelta(days=LOOKBACK_DAYS)
    base_hi = hi - dt.timedelta(days=WINDOW_DAYS)
    ids = sorted(set(int(a) for a in asset_ids))
    conn.execute(sa.text("DROP TABLE IF EXISTS ml_hourly"))
    conn.execute(
        sa.text(_PIVOT_SQL),
        {"asset_ids": ids, "kinds": list(MACHINE_KINDS), "lo": lo, "hi": hi},
    )
    conn.execute(sa.text("CREATE INDEX ON ml_hourly (asset_id, bucket)"))
    conn.execute(sa.text("ANALYZE ml_hourly"))
    conn.execute(sa.text("DROP TABLE IF EXISTS ml_daily"))
    conn.execute(sa.text(_DAILY_SQL), {"asset_ids": ids, "kinds": list(MACHINE_KINDS), "lo": base_lo, "hi": base_hi})
    conn.execute(sa.text("CREATE INDEX ON ml_daily (asset_id, day)"))
    conn.execute(sa.text("ANALYZE ml_daily"))
    res = conn.execute(
        sa.text(_SNAPSHOT_SQL),
        {"g_asset": [int(a) for a in asset_ids], "g_t": list(times), "horizon": int(horizon_days)},
    )
    df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    conn.execute(sa.text("DROP TABLE IF EXISTS ml_hourly"))
    conn.execute(sa.text("DROP TABLE IF EXISTS ml_daily"))
    return _finish(df)


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=["asset_id", "t", "label", *FEATURES])


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Python-side derived features that combine several aggregates."""
    if df.empty:
        return _empty_frame()
    num = [c for c in df.columns if c not in ("asset_id", "t", "product_type", "label", "last_bucket")]
    for c in num:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["product_type_code"] = df["product_type"].map(PRODUCT_TYPE_CODE).astype(float)
    limit = df["product_type"].map(OVERSTRAIN_LIMIT).astype(float)
    df["tool_wear_min"] = df["tool_wear_last"]
    df["overstrain_ratio"] = df["tool_wear_last"] * df["torque_mean_24h"] / limit
    df["temp_diff_delta"] = df["temp_diff_mean_24h"] - df["temp_diff_mean_7d"]
    df["torque_delta"] = df["torque_mean_24h"] - df["torque_mean_7d"]
    df["vibration_delta"] = df["vibration_mean_24h"] - df["vibration_mean_7d"]
    df["vibration_vs_baseline"] = df["vibration_mean_24h"] - df["vibration_base"]
    df["temp_diff_vs_baseline"] = df["temp_diff_mean_24h"] - df["temp_diff_base"]
    df["torque_vs_baseline"] = df["torque_mean_24h"] - df["torque_base"]
    df["rpm_vs_baseline"] = df["rpm_mean_24h"] - df["rpm_base"]
    df["label"] = df["label"].astype(bool).astype(int)
    df["t"] = pd.to_datetime(df["t"], utc=True)
    df["last_bucket"] = pd.to_datetime(df["last_bucket"], utc=True)
    return df[["asset_id", "t", "label", "last_bucket", *FEATURES]].reset_index(drop=True)


@dataclass
class TrainingData:
    frame: pd.DataFrame  # observed snapshots: asset_id, t, label, FEATURES
    horizon_days: int
    data_end: dt.datetime
    censored: int  # snapshots dropped because their horizon runs past the data


def training_snapshots(
    engine: sa.Engine,
    *,
    horizon_days: int = 7,
    step_hours: int = 12,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> TrainingData:
    """Snapshots on a regular grid over the recorded history, with labels.

    Grid starts one feature window after the first reading (so every snapshot has a full
    7-day window); snapshots whose horizon ends after the last reading are censored.
    """
    with engine.begin() as conn:
        assets = machine_assets(conn)
        if not assets:
            raise FeatureError("no assets with machine sensors "
                               "(air_temp, process_temp, rpm, torque, tool_wear, vibration)")
        rng = reading_range(conn, assets)
        if rng.first is None:
            raise FeatureError("no machine sensor readings to learn from")
        g_start = max(start or rng.first, rng.first) + dt.timedelta(days=WINDOW_DAYS)
        g_end = min(end or rng.last, rng.last)
        g_asset, g_t = snapshot_grid(assets, g_start, g_end, step_hours)
        if not g_t:
            raise FeatureError(
                f"not enough history: need more than {WINDOW_DAYS} days of readings "
                f"(have {rng.first:%Y-%m-%d} .. {rng.last:%Y-%m-%d})"
            )
        df = build_snapshots(conn, g_asset, g_t, horizon_days=horizon_days)
    observed = df["t"] + pd.Timedelta(days=horizon_days) <= pd.Timestamp(rng.last)
    return TrainingData(
        frame=df[observed].reset_index(drop=True),
        horizon_days=horizon_days,
        data_end=rng.last,
        censored=int((~observed).sum()),
    )


def scoring_snapshots(engine: sa.Engine, as_of: dt.datetime, *, horizon_days: int = 7) -> pd.DataFrame:
    """One snapshot per active machine asset at ``as_of`` (labels are unknown there)."""
    as_of = _aware(as_of)
    with engine.begin() as conn:
        assets = machine_assets(conn, active_only=True)
        if not assets:
            return _empty_frame()
        return build_snapshots(conn, assets, [as_of] * len(assets), horizon_days=horizon_days)


def latest_reading(engine: sa.Engine) -> dt.datetime | None:
    with engine.connect() as conn:
        assets = machine_assets(conn, active_only=True)
        if not assets:
            return None
        return reading_range(conn, assets).last


def feature_matrix(df: pd.DataFrame, features: Sequence[str] = FEATURES) -> pd.DataFrame:
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise FeatureError(f"missing feature column(s): {', '.join(missing)}")
    return df[list(features)].astype(float)


def time_split(
    times: pd.Series, *, horizon_days: int, fractions: tuple[float, float] = (0.6, 0.2)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks (train, validation, holdout) by prediction time, with a gap of
    ``horizon_days`` between consecutive parts so no label window of one part reaches
    into the next one."""
    t = pd.to_datetime(times, utc=True)
    t0, t1 = t.min(), t.max()
    span = t1 - t0
    gap = pd.Timedelta(days=horizon_days)
    usable = span - 2 * gap
    if usable <= pd.Timedelta(0):
        raise FeatureError(f"history too short for a split with {horizon_days}-day gaps")
    c1 = t0 + usable * fractions[0]
    c2 = c1 + gap + usable * fractions[1]
    train = (t < c1).to_numpy()
    val = ((t >= c1 + gap) & (t < c2)).to_numpy()
    hold = (t >= c2 + gap).to_numpy()
    return train, val, hold
