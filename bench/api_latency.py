"""HTTP API: p50/p99 of the main reads at 20 concurrent clients, and POST /readings throughput.

    qhse db seed --scale small     # or medium / large, into the database below
    python bench/api_latency.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/qhse_bench_api

Starts the API for real (``qhse api``: uvicorn, ``--workers`` processes) on a free port, creates
an admin API token for every site (revoked at the end), then

* reads: ``--clients`` threads, each with its own keep-alive connection, request the main
  read routes round-robin for ``--seconds``; p50 and p99 per route and overall;
* writes: ``--writers`` threads post batches of ``--batch`` readings (every sensor of the
  demo, distinct recent timestamps, all valid) for ``--write-seconds``; readings stored per
  second (target: at least 50,000 readings/s in batches of 1,000).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(base: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    import httpx

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            sys.exit(f"the API exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    sys.exit("the API did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=os.environ.get("QHSE_DATABASE_URL"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the read phase")
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--write-seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = ap.parse_args()
    if not args.database_url:
        sys.exit("give --database-url or set QHSE_DATABASE_URL")
    import httpx
    import sqlalchemy as sa

    from qhse.services import actors, api_tokens

    engine = sa.create_engine(args.database_url)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    secret, _ = api_tokens.create(engine, actors.system("bench"), name=name, role="admin", sites=None,
                                  expires_days=1)
    with engine.connect() as conn:
        hazard_ids = conn.execute(sa.text("SELECT id FROM hazard_report ORDER BY random() LIMIT 200")).scalars().all()
        sensors = conn.execute(sa.text(
            "SELECT s.code, st.code, s.unit, coalesce(s.min_valid, 0), coalesce(s.max_valid, 100), s.id "
            "FROM sensor s JOIN site st ON st.id = s.site_id WHERE s.active")).all()
        n_readings = conn.execute(sa.text("SELECT count(*) FROM sensor_reading")).scalar()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "QHSE_DATABASE_URL": args.database_url}
    proc = subprocess.Popen([sys.executable, "-m", "qhse.cli", "api", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(args.workers)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_up(base, proc)
        headers = {"Authorization": f"Bearer {secret}"}
        sensor_id = sensors[0][5] if sensors else 1
        routes = {
            "GET /sites": "/sites",
            "GET /alarms?status=open": "/alarms?status=open&limit=100",
            "GET /hazards": "/hazards?limit=100",
            "GET /hazards/{id}": None,
            "GET /vision-events?review_status=new": "/vision-events?review_status=new&limit=100",
            "GET /sensors": "/sensors?limit=200",
            "GET /sensors/{id}/readings": f"/sensors/{sensor_id}/readings?grain=hour&limit=200",
            "GET /predictions": "/predictions?limit=100",
            "GET /kpis": "/kpis",
        }
        names = list(routes)
        times: dict[str, list[float]] = {n: [] for n in names}
        errors: list[str] = []
        lock = threading.Lock()

        def reader(k: int) -> None:
            rnd = random.Random(k)
            local: dict[str, list[float]] = {n: [] for n in names}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                for n in names:  # warm-up
                    c.get(routes[n] or f"/hazards/{hazard_ids[0] if hazard_ids else 1}")
                end = time.monotonic() + args.seconds
                i = k
                while time.monotonic() < end:
                    n = names[i % len(names)]
                    i += 1
                    path = routes[n] or f"/hazards/{rnd.choice(hazard_ids) if hazard_ids else 1}"
                    t0 = time.perf_counter()
                    r = c.get(path)
                    dt_ms = (time.perf_counter() - t0) * 1000
                    if r.status_code != 200:
                        with lock:
                            errors.append(f"{path}: {r.status_code}")
                    local[n].append(dt_ms)
            with lock:
                for n in names:
                    times[n] += local[n]

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(args.clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        every = [x for v in times.values() for x in v]
        print(f"database: {n_readings:,} readings, {len(sensors)} sensors, {len(hazard_ids)} sampled hazard ids; "
              f"API with {args.workers} worker(s)")
        print(f"reads: {args.clients} concurrent clients for {wall:.1f} s, {len(every):,} requests "
              f"({len(every) / wall:,.0f}/s), {len(errors)} non-200")
        print(f"{'route':<40} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}")
        for n in names:
            print(f"{n:<40} {len(times[n]):>6} {pct(times[n], .5):>8.1f} {pct(times[n], .99):>8.1f}")
        print(f"{'all':<40} {len(every):>6} {pct(every, .5):>8.1f} {pct(every, .99):>8.1f}")
        if errors:
            print("first errors:", errors[:5])

        # ---- writes
        stored = [0]
        rejected = [0]
        lat: list[float] = []
        # Two days ago, then one millisecond per reading: distinct (sensor, ts), inside the accepted window.
        base_ms = int(time.time() * 1000) - 2 * 86_400_000

        def writer(k: int) -> None:
            rnd = random.Random(1000 + k)
            with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
                end = time.monotonic() + args.write_seconds
                j = 0
                while time.monotonic() < end:
                    batch = []
                    for i in range(args.batch):
                        code, site, unit, lo, hi, _ = sensors[(j * args.batch + i) % len(sensors)]
                        ts = base_ms + k * 10_000_000 + j * args.batch + i  # 2.8 h apart per writer
                        batch.append({"sensor": code, "site": site, "ts": ts, "unit": unit,
                                      "value": lo + (hi - lo) * rnd.random()})
                    j += 1
                    t0 = time.perf_counter()
                    r = c.post("/readings", json={"readings": batch})
                    ms = (time.perf_counter() - t0) * 1000
                    out = r.json()
                    with lock:
                        lat.append(ms)
                        stored[0] += out.get("stored", 0)
                        rejected[0] += out.get("rejected", 0)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(args.writers)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        print(f"writes: {args.writers} clients posting batches of {args.batch:,} for {wall:.1f} s: "
              f"{stored[0]:,} stored, {rejected[0]:,} rejected, {stored[0] / wall:,.0f} readings/s "
              f"(target 50,000); batch p50 {pct(lat, .5):.0f} ms, p99 {pct(lat, .99):.0f} ms")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        api_tokens.revoke(engine, actors.system("bench"), name)


if __name__ == "__main__":
    main()
