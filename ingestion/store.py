"""Writes of a decoded batch: readings (binary COPY, idempotent), rollups, dead letters.

Readings go straight into ``sensor_reading`` with binary COPY inside a savepoint: the common
case (no reading seen before) costs one COPY.  When the batch repeats readings already
stored (a redelivery after a restart, a replayed spool) the unique key (sensor_id, ts)
makes the COPY fail; the savepoint is rolled back and the batch goes through a staging
table with ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: only new readings count, feed
the rollups and the alarm rules.

Rollups: the hourly and daily rows of the sensors and hours a batch touched are merged
with the batch's own aggregates (count, mean, min, max) in the same transaction, so the
dashboards' rollups are exact and current without rescanning an hour of raw data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import errors as pg_errors

from db.readings import COPY_HEADER, COPY_TRAILER, binary_rows, ensure_partitions

from .decode import DeadLetter

HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000

_STAGE_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS _ingest_stage "
    "(sensor_id integer, ts timestamptz, value double precision, quality smallint) ON COMMIT DELETE ROWS"
)
_COPY_DIRECT = "COPY sensor_reading (sensor_id, ts, value, quality) FROM STDIN (FORMAT binary)"
_COPY_STAGE = "COPY _ingest_stage (sensor_id, ts, value, quality) FROM STDIN (FORMAT binary)"
_INSERT_NEW = (
    "INSERT INTO sensor_reading (sensor_id, ts, value, quality) "
    "SELECT DISTINCT ON (sensor_id, ts) sensor_id, ts, value, quality FROM _ingest_stage "
    "ORDER BY sensor_id, ts "
    "ON CONFLICT (sensor_id, ts) DO NOTHING "
    "RETURNING sensor_id, (extract(epoch FROM ts) * 1000000)::bigint, value"
)
_HOURLY_SQL = """
INSERT INTO sensor_reading_hourly AS h (sensor_id, bucket, n, avg, min, max)
SELECT s, to_timestamp(b * 3600), n, a, lo, hi
FROM unnest(%s::int[], %s::bigint[], %s::int[], %s::float8[], %s::float8[], %s::float8[]) AS t(s, b, n, a, lo, hi)
ORDER BY s, b
ON CONFLICT (sensor_id, bucket) DO UPDATE SET
    avg = (h.avg * h.n + EXCLUDED.avg * EXCLUDED.n) / (h.n + EXCLUDED.n),
    n = h.n + EXCLUDED.n,
    min = LEAST(h.min, EXCLUDED.min),
    max = GREATEST(h.max, EXCLUDED.max)
"""
_DAILY_SQL = """
INSERT INTO sensor_reading_daily AS d (sensor_id, day, n, avg, min, max)
SELECT s, (to_timestamp(b * 86400) AT TIME ZONE 'UTC')::date, n, a, lo, hi
FROM unnest(%s::int[], %s::bigint[], %s::int[], %s::float8[], %s::float8[], %s::float8[]) AS t(s, b, n, a, lo, hi)
ORDER BY s, b
ON CONFLICT (sensor_id, day) DO UPDATE SET
    avg = (d.avg * d.n + EXCLUDED.avg * EXCLUDED.n) / (d.n + EXCLUDED.n),
    n = d.n + EXCLUDED.n,
    min = LEAST(d.min, EXCLUDED.min),
    max = GREATEST(d.max, EXCLUDED.max)
"""
_DEAD_COPY = "COPY dead_letter (received_at, source, topic, payload, reason, detail) FROM STDIN"


@dataclass(slots=True)
class NewReadings:
    """The readings a batch actually added (duplicates removed), as arrays."""

    sensor_id: np.ndarray
    ts_us: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_us)


class PartitionCache:
    """Remembers which monthly partitions exist so a batch does not ask every time."""

    def __init__(self):
        self.months: set[tuple[int, int]] = set()

    @staticmethod
    def _month(us: int) -> tuple[int, int]:
        d = dt.datetime.fromtimestamp(us / 1e6, dt.UTC)
        return d.year, d.month

    def ensure(self, conn: psycopg.Connection, lo_us: int, hi_us: int) -> None:
        lo, hi = self._month(lo_us), self._month(hi_us)
        if lo in self.months and hi in self.months:
            # Batches span at most a few months; checking both ends is enough when they are adjacent.
            if (hi[0] * 12 + hi[1]) - (lo[0] * 12 + lo[1]) <= 1:
                return
        ensure_partitions(conn, dt.datetime.fromtimestamp(lo_us / 1e6, dt.UTC),
                          dt.datetime.fromtimestamp(hi_us / 1e6, dt.UTC))
        y, m = lo
        while (y, m) <= hi:
            self.months.add((y, m))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def write_readings(conn: psycopg.Connection, sensor_id: np.ndarray, ts_us: np.ndarray, value: np.ndarray,
                   quality: np.ndarray, partitions: PartitionCache) -> NewReadings:
    """Idempotent write inside the caller's transaction; returns the readings that were new."""
    if len(ts_us) == 0:
        return NewReadings(sensor_id, ts_us, value)
    partitions.ensure(conn, int(ts_us.min()), int(ts_us.max()))
    body = binary_rows(sensor_id, ts_us, value, quality)
    try:
        with conn.transaction(), conn.cursor() as cur, cur.copy(_COPY_DIRECT) as cp:
            cp.write(COPY_HEADER)
            cp.write(body)
            cp.write(COPY_TRAILER)
        return NewReadings(sensor_id, ts_us, value)
    except pg_errors.UniqueViolation:
        pass
    with conn.cursor() as cur:
        cur.execute(_STAGE_SQL)
        with cur.copy(_COPY_STAGE) as cp:
            cp.write(COPY_HEADER)
            cp.write(body)
            cp.write(COPY_TRAILER)
        cur.execute(_INSERT_NEW)
        rows = cur.fetchall()
        cur.execute("TRUNCATE _ingest_stage")
    if not rows:
        empty = np.empty(0, dtype=np.int64)
        return NewReadings(empty.astype(np.int32), empty, empty.astype(np.float64))
    arr = np.array(rows, dtype=object)
    return NewReadings(arr[:, 0].astype(np.int32), arr[:, 1].astype(np.int64), arr[:, 2].astype(np.float64))


def _aggregate(sensor_id: np.ndarray, bucket: np.ndarray, value: np.ndarray):
    """Group by (sensor, bucket): keys, counts, sums, mins, maxs."""
    key = (sensor_id.astype(np.int64) << 32) | (bucket.astype(np.int64) & 0xFFFFFFFF)
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    v = value[order]
    cnt = np.diff(np.r_[starts, len(k)])
    return (sensor_id[order][starts], bucket[order][starts], cnt, np.add.reduceat(v, starts),
            np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts))


def update_rollups(conn: psycopg.Connection, new: NewReadings) -> int:
    """Merge the batch's aggregates into the hourly and daily rollups; returns hourly rows touched."""
    if len(new) == 0:
        return 0
    sid = new.sensor_id.astype(np.int64)
    hour = new.ts_us // HOUR_US
    s, b, cnt, sums, lo, hi = _aggregate(sid, hour, new.value)
    avg = sums / cnt
    day = (b * HOUR_US) // DAY_US
    # Daily from the batch's hourly groups (min of mins, max of maxs, weighted mean).
    key = (s << 32) | (day & 0xFFFFFFFF)
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    d_cnt = np.add.reduceat(cnt[order], starts)
    d_sum = np.add.reduceat(sums[order], starts)
    d_lo = np.minimum.reduceat(lo[order], starts)
    d_hi = np.maximum.reduceat(hi[order], starts)
    with conn.cursor() as cur:
        cur.execute(_HOURLY_SQL, (s.tolist(), b.tolist(), cnt.tolist(), avg.tolist(), lo.tolist(), hi.tolist()))
        cur.execute(_DAILY_SQL, (s[order][starts].tolist(), day[order][starts].tolist(), d_cnt.tolist(),
                                 (d_sum / d_cnt).tolist(), d_lo.tolist(), d_hi.tolist()))
    return len(s)


def write_dead_letters(conn: psycopg.Connection, dead: list[DeadLetter], source: str = "mqtt") -> int:
    if not dead:
        return 0
    with conn.cursor() as cur, cur.copy(_DEAD_COPY) as cp:
        for d in dead:
            cp.write_row((dt.datetime.fromtimestamp(d.recv_us / 1e6, dt.UTC), source, d.topic, d.payload,
                          d.reason[:60], d.detail))
    return len(dead)
