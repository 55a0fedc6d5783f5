"""Fast bulk writes of sensor readings: binary COPY, partition management, rollups.

Binary COPY rows are built with NumPy structured arrays (no per-row Python), which lets
the seeder and benchmarks load tens of millions of readings at PostgreSQL's own speed.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_PG_EPOCH_US = int(PG_EPOCH.timestamp() * 1_000_000)

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)

_ROW = np.dtype(
    [
        ("nf", ">i2"),
        ("l1", ">i4"), ("sensor_id", ">i4"),
        ("l2", ">i4"), ("ts", ">i8"),
        ("l3", ">i4"), ("value", ">f8"),
        ("l4", ">i4"), ("quality", ">i2"),
    ]
)


def epoch_us_to_pg(ts_epoch_us: np.ndarray) -> np.ndarray:
    return np.asarray(ts_epoch_us, dtype=np.int64) - _PG_EPOCH_US


def binary_rows(sensor_id: np.ndarray | int, ts_epoch_us: np.ndarray, value: np.ndarray,
                quality: np.ndarray | int = 0) -> bytes:
    """Binary COPY tuples (without header/trailer) for sensor_reading(sensor_id, ts, value, quality)."""
    n = len(ts_epoch_us)
    rows = np.empty(n, dtype=_ROW)
    rows["nf"] = 4
    rows["l1"] = 4
    rows["sensor_id"] = sensor_id
    rows["l2"] = 8
    rows["ts"] = epoch_us_to_pg(ts_epoch_us)
    rows["l3"] = 8
    rows["value"] = value
    rows["l4"] = 2
    rows["quality"] = quality
    return rows.tobytes()


COPY_READINGS_SQL = "COPY sensor_reading (sensor_id, ts, value, quality) FROM STDIN (FORMAT binary)"


def ensure_partitions(conn, start: dt.datetime, end: dt.datetime) -> int:
    """Create the monthly partitions covering [start, end]; returns how many were made.

    ``conn`` is a psycopg connection or a SQLAlchemy connection.
    """
    sql = "SELECT qhse_ensure_reading_partitions(%s, %s)"
    if hasattr(conn, "exec_driver_sql"):
        return int(conn.exec_driver_sql(sql, (start, end)).scalar() or 0)
    return int(conn.execute(sql, (start, end)).fetchone()[0] or 0)


def refresh_rollups(conn, start: dt.datetime, end: dt.datetime) -> int:
    sql = "SELECT qhse_refresh_rollups(%s, %s)"
    if hasattr(conn, "exec_driver_sql"):
        return int(conn.exec_driver_sql(sql, (start, end)).scalar() or 0)
    return int(conn.execute(sql, (start, end)).fetchone()[0] or 0)


_STAGE_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS _reading_stage "
    "(sensor_id integer, ts timestamptz, value double precision, quality smallint) ON COMMIT DELETE ROWS"
)


def write_readings(conn, sensor_id: np.ndarray, ts_epoch_us: np.ndarray, value: np.ndarray,
                   quality: np.ndarray | int = 0, *, make_partitions: bool = True) -> int:
    """Idempotently write readings; returns how many were new.

    Binary COPY into a temporary staging table, then ``INSERT ... ON CONFLICT DO NOTHING``
    on (sensor_id, ts): replaying a batch never duplicates a reading.  ``conn`` is a
    psycopg connection; the caller commits.
    """
    ts_epoch_us = np.asarray(ts_epoch_us, dtype=np.int64)
    if len(ts_epoch_us) == 0:
        return 0
    if make_partitions:
        lo = dt.datetime.fromtimestamp(int(ts_epoch_us.min()) / 1e6, dt.UTC)
        hi = dt.datetime.fromtimestamp(int(ts_epoch_us.max()) / 1e6, dt.UTC)
        ensure_partitions(conn, lo, hi)
    with conn.cursor() as cur:
        cur.execute(_STAGE_SQL)
        with cur.copy("COPY _reading_stage (sensor_id, ts, value, quality) FROM STDIN (FORMAT binary)") as cp:
            cp.write(COPY_HEADER)
            cp.write(binary_rows(np.asarray(sensor_id, dtype=np.int32), ts_epoch_us,
                                 np.asarray(value, dtype=np.float64), quality))
            cp.write(COPY_TRAILER)
        cur.execute(
            "INSERT INTO sensor_reading (sensor_id, ts, value, quality) "
            "SELECT sensor_id, ts, value, quality FROM _reading_stage ON CONFLICT (sensor_id, ts) DO NOTHING"
        )
        inserted = cur.rowcount
        cur.execute("TRUNCATE _reading_stage")
    return inserted
