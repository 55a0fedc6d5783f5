"""Bulk-load benchmark: seed the 'large' demo data (>= 20 million readings) and report readings/s.

    python bench/seed_large.py [--scale large] [--database qhse_large] [--keep]

Runs against the server of QHSE_DATABASE_URL (or QHSE_TEST_DATABASE_URL, or the embedded
PostgreSQL), in a database of its own that is dropped afterwards unless --keep is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from tqdm import tqdm  # noqa: E402

from db.engine import libpq_dsn  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from qhse.demo.seed import seed  # noqa: E402


def server_url() -> str:
    url = os.environ.get("QHSE_DATABASE_URL") or os.environ.get("QHSE_TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    from db.embedded import start_embedded_postgres

    return start_embedded_postgres(Path(".qhse"), database="postgres")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="large", choices=["small", "medium", "large"])
    ap.add_argument("--database", default=None, help="database name (default qhse_<scale>)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", action="store_true", help="keep the database (e.g. for bench/dashboard_latency.py)")
    args = ap.parse_args()
    name = args.database or f"qhse_{args.scale}"
    base = make_url(server_url())
    admin = libpq_dsn(base.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    eng = sa.create_engine(url)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, unit="step")
        b = bars[stage]
        b.update(done - b.n)

    t0 = time.perf_counter()
    s = seed(eng, scale=args.scale, seed=args.seed, progress=progress)
    total = time.perf_counter() - t0
    for b in bars.values():
        b.close()
    eng.dispose()
    with psycopg.connect(libpq_dsn(url)) as c:
        size = c.execute("SELECT pg_size_pretty(pg_total_relation_size('sensor_reading'::regclass) + "
                         "(SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
                         "WHERE inhparent = 'sensor_reading'::regclass))").fetchone()[0]
    print(f"scale={args.scale} readings={s.readings:,} copy_seconds={s.reading_seconds:.1f} "
          f"readings_per_s={s.readings_per_s:,.0f} total_seed_seconds={total:.1f} readings_size={size} "
          f"cpus={os.cpu_count()}")
    if not args.keep:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        print(f"kept database: {url}")


if __name__ == "__main__":
    main()
