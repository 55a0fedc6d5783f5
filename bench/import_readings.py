"""Reading history import: readings/s and peak memory of `qhse import readings` on a large CSV file.

    python bench/import_readings.py                      # 10,000,000 readings (100 sensors x 100,000 minutes)
    python bench/import_readings.py --rows 2000000 --sensors 50
    python bench/import_readings.py --again              # then load the same file again (all duplicates)

Creates a scratch database on the PostgreSQL server of ``QHSE_TEST_DATABASE_URL`` (else
``QHSE_DATABASE_URL``) with one plant, a sensor kind ``pressure`` and ``--sensors`` sensors of it,
writes a long-format CSV (``sensor,ts,value``; one reading a minute per sensor, written
with Arrow in blocks) to a temporary folder, runs `qhse import readings FILE` as a child
process and prints readings/s (wall time of the whole command, start-up included) and the
child's peak resident memory (``ru_maxrss``).  Targets: at least 300,000 readings/s and a
peak under 500 MB whatever the file size.  Run it by hand; figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402


def server_url() -> str:
    url = os.environ.get("QHSE_TEST_DATABASE_URL") or os.environ.get("QHSE_DATABASE_URL")
    if not url:
        sys.exit("set QHSE_TEST_DATABASE_URL (or QHSE_DATABASE_URL) to a PostgreSQL server URL")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def add_sensors(engine: sa.Engine, site_id: int, n: int) -> list[str]:
    from db import models as m

    with engine.begin() as conn:
        area = conn.execute(sa.select(m.Area.id).where(m.Area.site_id == site_id).limit(1)).scalar_one()
        conn.execute(sa.text("INSERT INTO sensor_kind (kind, unit, min_valid, max_valid) VALUES "
                             "('pressure', 'bar', 0, 400) ON CONFLICT DO NOTHING"))
        codes = [f"BENCH-P{i:04d}" for i in range(n)]
        conn.execute(sa.insert(m.Sensor), [dict(site_id=site_id, area_id=area, code=c, kind="pressure", unit="bar",
                                                sample_period_s=60) for c in codes])
    return codes


def write_csv(path: Path, codes: list[str], rows: int, seed: int = 1) -> None:
    """Sensor by sensor, one reading a minute from 2024-01-01, in blocks of 1 M rows."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    per = -(-rows // len(codes))
    t0 = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
    done = 0
    with pcsv.CSVWriter(path, pa.schema([("sensor", pa.string()), ("ts", pa.string()), ("value", pa.string())]),
                        write_options=pcsv.WriteOptions(quoting_style="none")) as w:
        for code in codes:
            left = min(per, rows - done)
            for lo in range(0, left, 1_000_000):
                k = min(1_000_000, left - lo)
                ts = pa.array(t0 + (lo + np.arange(k, dtype=np.int64)) * 60_000_000, pa.timestamp("us", "UTC"))
                val = np.round(150 + 20 * rng.standard_normal(k), 3)
                w.write_table(pa.table({
                    "sensor": pa.array(np.full(k, code, dtype=object), pa.string()),
                    "ts": pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ"),
                    "value": pa.array(val).cast(pa.string())}))
            done += left
            if done >= rows:
                break


def run_import(url: str, f: Path) -> tuple[float, float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = url
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "qhse.cli", "import", "readings", str(f)], env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    if r.returncode != 0:
        sys.exit(f"import failed ({r.returncode}): {r.stderr[-2000:]}")
    return wall, peak_mb, r.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--sensors", type=int, default=100)
    ap.add_argument("--again", action="store_true", help="Load the file a second time (every reading a duplicate).")
    args = ap.parse_args()
    from tests.conftest import DatabaseFactory
    from tests.ingest_fixtures import make_plant

    factory = DatabaseFactory(server_url())
    url = factory.create(prefix="qhse_bench", migrate=False, migrate_in_place=True)
    try:
        eng = sa.create_engine(url)
        plant = make_plant(eng, rules=False)
        codes = add_sensors(eng, plant.site_id, args.sensors)
        eng.dispose()
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "readings.csv"
            t = time.perf_counter()
            write_csv(f, codes, args.rows)
            print(f"wrote {f.stat().st_size / 1e6:,.1f} MB ({args.rows:,} readings of {len(codes)} sensors) "
                  f"in {time.perf_counter() - t:.1f} s")
            wall, peak_mb, out = run_import(url, f)
            print(out)
            print(f"\n{args.rows:,} readings imported in {wall:.1f} s = {args.rows / wall:,.0f} readings/s; "
                  f"peak RSS of the import process {peak_mb:,.0f} MB")
            if args.again:
                wall, peak_mb, out = run_import(url, f)
                print(out)
                print(f"again (all duplicates): {wall:.1f} s = {args.rows / wall:,.0f} readings/s; "
                      f"peak RSS {peak_mb:,.0f} MB")
    finally:
        factory.drop(url)


if __name__ == "__main__":
    main()
