"""Writes of a decoded batch: readings (binary COPY, idempotent), rollups, dead letters.

Readings go straight into ``sensor_reading`` with binary COPY inside a savepoint: the common
case (no reading seen before) costs one COPY.  When the batch repeats readings already
stored (a redelivery after a restart, a replayed spool) the unique key (sensor_id, ts)
makes the COPY fail; the savepoint is rolled back and the batch goes through a staging
table with ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: only new readings count, feed
the rollups and the alarm rules.

Rollups: the hourly rows of the sensors and hours a batch touched are merged with the
batch's own aggregates (count, mean, min, max) in the same transaction, so the hourly
rollup is exact and current without rescanning an hour of raw data.  The daily rows of
the touched (sensor, day) pairs are recomputed from the hourly ones every few seconds.
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
# Batches up to this many readings are written with _INSERT_SMALL (one round trip) instead of
# savepoint + COPY + release (four).  Times go over as exact epoch microseconds (integer
# arithmetic on an interval, no float seconds).
SMALL_BATCH = 64
_INSERT_SMALL = (
    "INSERT INTO sensor_reading (sensor_id, ts, value, quality) "
    "SELECT s, timestamptz 'epoch' + t * interval '1 microsecond', v, q "
    "FROM unnest(%s::int[], %s::bigint[], %s::float8[], %s::int2[]) AS r(s, t, v, q) "
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
_DAILY_SELECT = """
SELECT h.sensor_id, (h.bucket AT TIME ZONE 'UTC')::date AS day, sum(h.n), sum(h.avg * h.n) / sum(h.n),
       min(h.min), max(h.max)
FROM sensor_reading_hourly h
"""
_DAILY_UPSERT = """
GROUP BY 1, 2
ORDER BY 1, 2
ON CONFLICT (sensor_id, day) DO UPDATE SET n = EXCLUDED.n, avg = EXCLUDED.avg, min = EXCLUDED.min, max = EXCLUDED.max
"""
_DAILY_FROM_HOURLY = (
    "INSERT INTO sensor_reading_daily (sensor_id, day, n, avg, min, max)" + _DAILY_SELECT
    + "JOIN unnest(%s::int[], %s::int[]) AS t(s, d) ON h.sensor_id = t.s "
      "AND h.bucket >= to_timestamp(t.d::bigint * 86400) AND h.bucket < to_timestamp((t.d::bigint + 1) * 86400)"
    + _DAILY_UPSERT
)
_DAILY_RECENT = (
    "INSERT INTO sensor_reading_daily (sensor_id, day, n, avg, min, max)" + _DAILY_SELECT
    + "WHERE h.bucket >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - make_interval(days => %s - 1)"
    + _DAILY_UPSERT
)
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
        # Several consumers may meet a new month at once: create partitions one at a time.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('qhse_reading_partitions'))")
            ensure_partitions(conn, dt.datetime.fromtimestamp(lo_us / 1e6, dt.UTC),
                              dt.datetime.fromtimestamp(hi_us / 1e6, dt.UTC))
        y, m = lo
        while (y, m) <= hi:
            self.months.add((y, m))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def write_readings(conn: psycopg.Connection, sensor_id: np.ndarray, ts_us: np.ndarray, value: np.ndarray,
                   quality: np.ndarray) -> NewReadings:
    """Idempotent write inside the caller's transaction; returns the readings that were new.

    Call ``PartitionCache.ensure`` for the batch's time range before opening that transaction.
    """
    if len(ts_us) == 0:
        return NewReadings(sensor_id, ts_us, value)
    # Rows in key order: the primary-key index is filled page by page instead of at random.
    order = np.lexsort((ts_us, sensor_id))
    sensor_id, ts_us, value = sensor_id[order], ts_us[order], value[order]
    quality = quality[order] if isinstance(quality, np.ndarray) else quality
    if len(ts_us) <= SMALL_BATCH:
        return _insert_small(conn, sensor_id, ts_us, value, quality)
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


def _insert_small(conn: psycopg.Connection, sensor_id: np.ndarray, ts_us: np.ndarray, value: np.ndarray,
                  quality) -> NewReadings:
    """A small batch (a thin stream: a few readings per transaction) in one statement instead of
    savepoint, COPY and release; repeats are skipped by the unique key, the new rows returned."""
    q = np.asarray(quality, dtype=np.int16)
    with conn.cursor() as cur:
        cur.execute(_INSERT_SMALL, _arrays(sensor_id, ts_us, value, q))
        rows = cur.fetchall()
    if len(rows) == len(ts_us):
        return NewReadings(sensor_id, ts_us, value)
    if not rows:
        empty = np.empty(0, dtype=np.int64)
        return NewReadings(empty.astype(np.int32), empty, empty.astype(np.float64))
    arr = np.array(rows, dtype=object)
    new = NewReadings(arr[:, 0].astype(np.int32), arr[:, 1].astype(np.int64), arr[:, 2].astype(np.float64))
    order = np.lexsort((new.ts_us, new.sensor_id))
    return NewReadings(new.sensor_id[order], new.ts_us[order], new.value[order])


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


def update_rollups(conn: psycopg.Connection, new: NewReadings) -> np.ndarray:
    """Merge the batch's aggregates into the hourly rollup (in the caller's transaction).

    Returns the (sensor, UTC day) keys touched, for ``refresh_daily``.
    """
    if len(new) == 0:
        return np.empty(0, dtype=np.int64)
    sid = new.sensor_id.astype(np.int64)
    hour = new.ts_us // HOUR_US
    s, b, cnt, sums, lo, hi = _aggregate(sid, hour, new.value)
    with conn.cursor() as cur:
        cur.execute(_HOURLY_SQL, _arrays(s, b, cnt, sums / cnt, lo, hi))
    return np.unique((s << 32) | ((b * HOUR_US) // DAY_US))


def refresh_daily(conn: psycopg.Connection, keys) -> int:
    """Recompute the daily rollup of these (sensor << 32 | UTC day) keys from the hourly rollup."""
    keys = np.unique(np.fromiter(keys, dtype=np.int64)) if not isinstance(keys, np.ndarray) else np.unique(keys)
    if len(keys) == 0:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_DAILY_FROM_HOURLY, _arrays(keys >> 32, keys & 0xFFFFFFFF))
        return cur.rowcount


def refresh_recent_daily(conn: psycopg.Connection, days: int = 2) -> int:
    """Recompute the daily rollup of the last ``days`` UTC days for every sensor (after a restart)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_DAILY_RECENT, (days,))
        return cur.rowcount


def _arrays(*cols: np.ndarray) -> tuple[str, ...]:
    """PostgreSQL array literals ('{1,2,3}'): much cheaper to send than adapting Python lists."""
    return tuple("{" + ",".join(map(repr if c.dtype.kind == "f" else str, c.tolist())) + "}" for c in cols)


def _text(s: str) -> str:
    """PostgreSQL text cannot hold NUL (nor lone surrogates in UTF-8)."""
    if "\x00" in s:
        s = s.replace("\x00", "\\x00")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def _received_at(us: int) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(us / 1e6, dt.UTC)
    except (OverflowError, ValueError, OSError):
        return dt.datetime.now(dt.UTC)


def write_dead_letters(conn: psycopg.Connection, dead: list[DeadLetter], source: str = "mqtt") -> int:
    if not dead:
        return 0
    with conn.cursor() as cur, cur.copy(_DEAD_COPY) as cp:
        for d in dead:
            cp.write_row((_received_at(d.recv_us), source, _text(d.topic), d.payload, _text(d.reason[:60]),
                          _text(d.detail)))
    return len(dead)


def purge_dead_letters(conn: psycopg.Connection, older_than_days: float, *, chunk: int = 50_000) -> int:
    """Delete dead letters received more than ``older_than_days`` ago (in chunks); the number deleted."""
    total = 0
    with conn.cursor() as cur:
        while True:
            cur.execute("DELETE FROM dead_letter WHERE id IN (SELECT id FROM dead_letter WHERE received_at < "
                        "now() - make_interval(secs => %s) LIMIT %s)", (float(older_than_days) * 86400.0, chunk))
            total += cur.rowcount
            if cur.rowcount < chunk:
                return total
