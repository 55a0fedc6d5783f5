"""Emergency plan generation time on the 'medium' demo data (target: under 1 s).

    python bench/emergency_plan.py [--database qhse_bench_response] [--fresh] [--rounds 3]

Runs against the server of QHSE_DATABASE_URL (or QHSE_TEST_DATABASE_URL, or the embedded
PostgreSQL) in a database of its own, seeded with 'medium' demo data (seed 42, history
ending 2026-11-01) the first time and reused afterwards (--fresh re-seeds it).

For every area and emergency type it measures, one hour before the end of the history:

* plan: building the plan (materials, nearest resources, people inside, route, steps,
  who to notify) on a warm connection;
* declare: the whole declaration as ``qhse emergency declare`` runs it: plan, storing the
  emergency, queueing the notifications, the timeline, commit.  Each declared emergency
  is closed again (without lessons) so the next round declares afresh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
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
from qhse.services import emergency as E  # noqa: E402
from qhse.vocab import EmergencyKind, values  # noqa: E402

END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
TARGET_MS = 1000.0


def server_url() -> str:
    url = os.environ.get("QHSE_DATABASE_URL") or os.environ.get("QHSE_TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    from db.embedded import start_embedded_postgres

    return start_embedded_postgres(Path(".qhse"), database="postgres")


def prepare(name: str, fresh: bool) -> str:
    base = make_url(server_url())
    admin = libpq_dsn(base.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        if fresh and exists:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            c.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        people = conn.execute(sa.text("SELECT count(*) FROM person")).scalar()
    if not people:
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = tqdm(total=total, desc=stage, unit="step")
            bars[stage].update(done - bars[stage].n)

        print(f"seeding 'medium' demo data into {name} (once; reused by later runs)")
        seed(eng, scale="medium", seed=42, end=END, progress=progress)
        for b in bars.values():
            b.close()
    eng.dispose()
    return url


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default="qhse_bench_response")
    ap.add_argument("--fresh", action="store_true", help="drop and re-seed the database")
    ap.add_argument("--rounds", type=int, default=3, help="passes over every area and type")
    args = ap.parse_args()
    url = prepare(args.database, args.fresh)
    eng = sa.create_engine(url)
    at = END - dt.timedelta(hours=1)
    with eng.connect() as conn:
        sizes = conn.execute(sa.text("""
            SELECT (SELECT count(*) FROM area), (SELECT count(*) FROM person),
                   (SELECT count(*) FROM access_record), (SELECT count(*) FROM emergency_resource),
                   (SELECT count(*) FROM hazardous_material),
                   (SELECT count(*) FROM access_record WHERE exited_at IS NULL)""")).one()
        areas = list(conn.execute(sa.text("SELECT id FROM area ORDER BY id")).scalars())
    print(f"data: areas={sizes[0]} people={sizes[1]} access_records={sizes[2]:,} resources={sizes[3]} "
          f"materials={sizes[4]} open_access={sizes[5]}")

    plan_ms: list[float] = []
    declare_ms: list[float] = []
    biggest = {"people": 0, "materials": 0, "resources": 0}
    cases = [(a, k) for a in areas for k in values(EmergencyKind)]
    with eng.connect() as conn:
        E.build_plan(conn, areas[0], "fire", at)  # warm the connection and the caches once
        for _ in tqdm(range(args.rounds), desc="plan", unit="round"):
            for a, k in cases:
                t = time.perf_counter()
                plan = E.build_plan(conn, a, k, at)
                plan_ms.append((time.perf_counter() - t) * 1000)
                biggest["people"] = max(biggest["people"], len(plan["people"]))
                biggest["materials"] = max(biggest["materials"], len(plan["materials"]))
                biggest["resources"] = max(biggest["resources"], len(plan["resources"]))
    for r in tqdm(range(args.rounds), desc="declare", unit="round"):
        for i, (a, k) in enumerate(cases):
            when = at + dt.timedelta(seconds=r * len(cases) + i)
            t = time.perf_counter()
            res = E.declare(eng, area_id=a, kind=k, actor="system:bench", at=when)
            declare_ms.append((time.perf_counter() - t) * 1000)
            E.close(eng, res.emergency_id, actor="system:bench", summary="benchmark run", at=when)
    eng.dispose()

    def line(name: str, xs: list[float]) -> str:
        return (f"{name:<8} n={len(xs):<4} median={statistics.median(xs):7.1f} ms  p95={pct(xs, 95):7.1f} ms  "
                f"max={max(xs):7.1f} ms  max/target={max(xs) / TARGET_MS:.3f}")

    print(f"largest plan: {biggest['people']} people inside, {biggest['materials']} materials, "
          f"{biggest['resources']} resources")
    print(line("plan", plan_ms))
    print(line("declare", declare_ms))
    print(f"target < {TARGET_MS:.0f} ms per declaration: {'met' if max(declare_ms) < TARGET_MS else 'NOT met'} "
          f"(cpus={os.cpu_count()})")


if __name__ == "__main__":
    main()
