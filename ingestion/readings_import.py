"""Reading history from files: ``qhse import readings FILE`` (long format, CSV or Parquet).

One row per reading: ``sensor,ts,value[,quality]``.  ``sensor`` is the sensor's code (unique
across sites, or made unique with ``--site``), ``ts`` an ISO 8601 time (UTC when it has no
offset), ``value`` a number inside the sensor's valid range (its own ``min_valid``/``max_valid``,
else its kind's in ``sensor_kind``), ``quality`` an optional integer 0..32767 (0: good).
Readings of any age are taken (history backfill is not live ingestion: no maximum age);
times more than a day ahead are refused.

The file is read in blocks with Arrow (CSV: multi-threaded parsing; Parquet: row groups),
checked with array operations (no Python per row unless a block has a bad cell, and then
only to name the bad rows), and written with binary COPY through ``ingestion.store``
inside the caller's transaction: idempotent on (sensor, ts), hourly rollups merged with
the new readings only and the daily ones recomputed for the touched (sensor, day) pairs.
Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import sqlalchemy as sa

from qhse.domain.access import Scope
from qhse.services import plant

from .store import PartitionCache, refresh_daily, update_rollups, write_readings

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

    from .importers import ImportReport

COLUMNS = ("sensor", "ts", "value", "quality")
REQUIRED = ("sensor", "ts", "value")
BLOCK_BYTES = 8 << 20  # CSV bytes parsed at a time
MAX_FUTURE_US = 86_400_000_000
LISTED_PER_BLOCK = 2000  # row errors listed per block and check (all are counted)


def _file_error(msg: str) -> Exception:
    from .importers import ImportFileError

    return ImportFileError(msg)


def _blocks(path: Path) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(first line number, batch of string columns) for each block of the file."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise _file_error(f"{path}: not a readable Parquet file ({exc})") from None
        _check_header(path, pf.schema_arrow.names)
        line = 1  # Parquet has no header line: row N is "line" N
        for batch in pf.iter_batches(batch_size=500_000):
            yield line, batch
            line += batch.num_rows
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise _file_error(f"{path}: {exc.strerror or exc}") from None
    with fh:
        head = fh.readline()
        text = head.decode("utf-8-sig", "replace").strip()
        if not text:
            raise _file_error(f"{path}: the file is empty (a header line is expected)")
        import csv
        import io

        names = [h.strip() for h in next(csv.reader([text]))]
        _check_header(path, names)
        # The file is cut into blocks at line ends here and each block parsed on its own: memory holds one
        # block (Arrow's streaming reader would read ahead of the consumer).  A cell cannot span lines.
        opts = dict(read_options=pcsv.ReadOptions(column_names=names, use_threads=True),
                    convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                        strings_can_be_null=False))
        line = 2
        rest = b""
        while True:
            chunk = fh.read(BLOCK_BYTES)
            data = rest + chunk
            if not chunk:
                rest = b""
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            if data.strip():
                try:
                    table = pcsv.read_csv(io.BytesIO(data), **opts)
                except pa.ArrowInvalid as exc:
                    raise _file_error(f"{path}: malformed CSV after line {line - 1}: {exc}") from None
                for batch in table.to_batches():
                    yield line, batch
                    line += batch.num_rows
            if not chunk:
                return


def _check_header(path: Path, names: list[str]) -> None:
    names = [n.strip() for n in names]
    unknown = [n for n in names if n not in COLUMNS]
    missing = [c for c in REQUIRED if c not in names]
    if unknown or missing:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(repr(c) for c in missing))
        if unknown:
            parts.append("unknown column(s) " + ", ".join(repr(c) for c in unknown))
        raise _file_error(f"{path}: line 1: {'; '.join(parts)} (expected: sensor, ts, value[, quality])")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _file_error(f"{path}: line 1: column(s) given twice: {', '.join(dup)}")


class _Sensors:
    """Sensor code -> (id, lo, hi) for the codes a file names; unknown or foreign codes -> a reason."""

    def __init__(self, conn: sa.Connection, scope: Scope, site: str | None):
        rows = conn.execute(sa.text("""
            SELECT s.id, s.code, st.code AS site, s.site_id,
                   COALESCE(s.min_valid, k.min_valid) AS lo, COALESCE(s.max_valid, k.max_valid) AS hi
            FROM sensor s JOIN site st ON st.id = s.site_id LEFT JOIN sensor_kind k ON k.kind = s.kind
            WHERE CAST(:site AS text) IS NULL OR st.code = :site"""), {"site": site}).all()
        if site is not None and not conn.execute(sa.text("SELECT 1 FROM site WHERE code = :c"), {"c": site}).first():
            raise _file_error(f"--site {site!r}: no site with that code")
        self.by_code: dict[str, list] = {}
        for r in rows:
            self.by_code.setdefault(r.code, []).append(r)
        self.scope = scope
        self.site = site
        self.site_ids: set[int] = set()

    def resolve(self, code: str) -> tuple[int, float, float] | str:
        found = self.by_code.get(code)
        if not found:
            return f"no sensor with code {code!r}" + (f" at site {self.site}" if self.site else "")
        if len(found) > 1:
            return (f"sensor code {code!r} exists at several sites ({', '.join(sorted(r.site for r in found))}): "
                    "name the site with --site")
        r = found[0]
        why = plant.site_refusal(self.scope, r.site_id)
        if why:
            return f"sensor {code!r}: {why}"
        self.site_ids.add(int(r.site_id))
        return (int(r.id), -np.inf if r.lo is None else float(r.lo), np.inf if r.hi is None else float(r.hi))


def _times(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds and a validity mask; ISO 8601 with or without offset (no offset: UTC)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(col.type):  # Parquet: a typed column (no zone: UTC)
        us = col.cast(pa.timestamp("us", col.type.tz)).cast(pa.int64())
        return us.fill_null(0).to_numpy(zero_copy_only=False), ~col.is_null().to_numpy(zero_copy_only=False)
    col = pc.utf8_trim_whitespace(col.cast(pa.string()))
    for t in (pa.timestamp("us", "UTC"), pa.timestamp("us")):
        try:
            us = pc.cast(col, t).cast(pa.int64()).to_numpy(zero_copy_only=False)
            return us, np.ones(len(us), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    import pandas as pd

    parsed = pd.to_datetime(pd.Series(col.to_pylist(), dtype=object), utc=True, format="ISO8601", errors="coerce")
    ok = ~parsed.isna().to_numpy()
    us = np.zeros(len(parsed), dtype=np.int64)
    us[ok] = parsed[ok].to_numpy(dtype="datetime64[us]").astype(np.int64)
    return us, ok


def _numbers(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Float64 values and a parsed mask (a cell that is no number is False)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):  # Parquet: a typed column
        v = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        return v, ~col.is_null().to_numpy(zero_copy_only=False)
    col = pc.utf8_trim_whitespace(col.cast(pa.string()))
    try:
        v = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        return v, np.ones(len(v), dtype=bool)
    except pa.ArrowInvalid:
        import pandas as pd

        v = pd.to_numeric(pd.Series(col.to_pylist(), dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan)
        return v, ~np.isnan(v)


@dataclass
class _Checked:
    """One block after the checks: its size, its errors and its good readings."""

    rows: int
    errors: list[tuple[int, str, str]]
    more_errors: int  # beyond the ones listed
    sid: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    quality: np.ndarray


def _check(first_line: int, batch: pa.RecordBatch, sensors: _Sensors, now_us: int) -> _Checked:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    names = [c.strip() for c in batch.schema.names]
    col = dict(zip(names, batch.columns, strict=True))
    bad = np.zeros(n, dtype=bool)
    lines = np.arange(first_line, first_line + n)
    errors: list[tuple[int, str, str]] = []
    more = 0

    # sensor codes -> ids (per distinct code, not per row)
    codes = pc.utf8_trim_whitespace(col["sensor"].cast(pa.string())).dictionary_encode()
    dict_codes = codes.dictionary.to_pylist()
    idx = codes.indices.to_numpy(zero_copy_only=False)
    ids = np.zeros(len(dict_codes), dtype=np.int32)
    los = np.zeros(len(dict_codes))
    his = np.zeros(len(dict_codes))
    badcode = np.zeros(len(dict_codes), dtype=bool)
    reasons: dict[int, str] = {}
    for i, c in enumerate(dict_codes):
        r = sensors.resolve(c) if c else "a value is required"
        if isinstance(r, str):
            badcode[i] = True
            reasons[i] = r
        else:
            ids[i], los[i], his[i] = r
    if badcode.any():
        rows_bad = badcode[idx]
        where = np.flatnonzero(rows_bad)
        for j in where[:LISTED_PER_BLOCK].tolist():
            errors.append((int(lines[j]), "sensor", reasons[int(idx[j])]))
        more += max(0, len(where) - LISTED_PER_BLOCK)
        bad |= rows_bad

    ts, ts_ok = _times(col["ts"])
    value, v_ok = _numbers(col["value"])
    finite = np.isfinite(value)
    if "quality" in col:
        qsrc = col["quality"]
        if not pa.types.is_string(qsrc.type):
            qsrc = qsrc.cast(pa.string()).fill_null("0")
        qsrc = pc.if_else(pc.equal(pc.utf8_trim_whitespace(qsrc), ""), "0", qsrc)
        qf, q_ok = _numbers(qsrc)
        q_ok = q_ok & (qf == np.round(qf)) & (qf >= 0) & (qf <= 32767)
        quality = np.where(q_ok, qf, 0).astype(np.int16)
    else:
        quality = np.zeros(n, dtype=np.int16)
        q_ok = np.ones(n, dtype=bool)

    sid = ids[idx]
    lo, hi = los[idx], his[idx]
    ts_future = ts_ok & (ts > now_us + MAX_FUTURE_US)
    in_range = (value >= lo) & (value <= hi)
    rest = ~bad
    for mask, column, msg in (
        (~ts_ok, "ts", "not an ISO 8601 time"),
        (ts_future, "ts", "lies more than a day in the future"),
        (~v_ok, "value", "not a number"),
        (v_ok & ~finite, "value", "not a finite number"),
        (v_ok & finite & ~in_range, "value", None),
        (~q_ok, "quality", "not an integer 0..32767"),
    ):
        hit = mask & rest
        if not hit.any():
            continue
        where = np.flatnonzero(hit)
        for j in where[:LISTED_PER_BLOCK].tolist():
            if msg is None:
                text = (f"{value[j]:g} is outside the valid range [{lo[j]:g}, {hi[j]:g}] of sensor "
                        f"{dict_codes[int(idx[j])]}")
            else:
                cell = batch.column(names.index(column))[j].as_py()
                text = f"{msg} (got {str(cell)[:40]!r})"
            errors.append((int(lines[j]), column, text))
        more += max(0, len(where) - LISTED_PER_BLOCK)
        bad |= hit
    if bad.any():
        good = ~bad
        sid, ts, value, quality = sid[good], ts[good], value[good], quality[good]
    return _Checked(n, sorted(errors), more, sid, ts, value, quality)


def import_readings(conn: sa.Connection, scope: Scope, path: Path, report: ImportReport, *, skip_bad: bool,
                    site: str | None = None, progress: Callable[[int], None] | None = None,
                    now_us: int | None = None) -> set[int]:
    """Check and write the readings of ``path`` in the caller's transaction; the site ids written.

    A helper thread reads and checks the next block while this one is written (Arrow and
    the database driver both release the GIL), so parsing and COPY overlap.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .importers import RowError

    sensors = _Sensors(conn, scope, site)
    raw = cast("psycopg.Connection", conn.connection.driver_connection)
    parts = PartitionCache()
    now = now_us if now_us is not None else int(dt.datetime.now(dt.UTC).timestamp() * 1e6)
    keys: set[int] = set()
    lo_seen, hi_seen = None, None
    blocks = _blocks(path)

    def next_block() -> _Checked | None:
        for first_line, batch in blocks:
            if batch.num_rows:
                return _check(first_line, batch, sensors, now)
        return None

    with ThreadPoolExecutor(1, thread_name_prefix="qhse-readings") as pool:
        pending = pool.submit(next_block)
        while True:
            c = pending.result()
            if c is None:
                break
            pending = pool.submit(next_block)
            report.rows += c.rows
            for line, column, text in c.errors:
                report.add_error(RowError(line, column, text))
            report.error_count += c.more_errors
            ng = len(c.ts)
            report.valid += ng
            if progress:
                progress(c.rows)
            if (report.error_count and not skip_bad) or ng == 0:
                continue
            tmin, tmax = int(c.ts.min()), int(c.ts.max())
            lo_seen = tmin if lo_seen is None else min(lo_seen, tmin)
            hi_seen = tmax if hi_seen is None else max(hi_seen, tmax)
            parts.ensure(raw, tmin, tmax)
            new = write_readings(raw, c.sid, c.ts, c.value, c.quality)
            keys.update(update_rollups(raw, new).tolist())
            report.inserted += len(new)
            report.unchanged += ng - len(new)
    if keys:
        refresh_daily(raw, np.fromiter(keys, dtype=np.int64, count=len(keys)))
    if lo_seen is not None and hi_seen is not None:
        report.notes.append(
            f"readings: {report.inserted:,} new, {report.unchanged:,} already stored; "
            f"{dt.datetime.fromtimestamp(lo_seen / 1e6, dt.UTC):%Y-%m-%d %H:%M} .. "
            f"{dt.datetime.fromtimestamp(hi_seen / 1e6, dt.UTC):%Y-%m-%d %H:%M} UTC; rollups refreshed")
    return sensors.site_ids
