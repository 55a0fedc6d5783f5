"""Failure-prediction speed: training (demo data and AI4I), scoring with SHAP, rows/s.

    .venv/bin/python bench/ml_speed.py [--scale medium] [--database-url URL] [--ai4i FILE]

Uses the PostgreSQL server of QHSE_DATABASE_URL (or QHSE_TEST_DATABASE_URL, or the
embedded one). Unless --database-url is given, the demo data lives in its own database
``qhse_ml_bench_<scale>`` (seeded once with seed 42, kept for later runs). MLflow runs go
to a throw-away database and a temporary artifact folder, dropped at the end.
Prints figures; asserts nothing.

AI4I figures use the AI4I 2020 Predictive Maintenance Dataset, S. Matzka (2020), UCI
Machine Learning Repository, DOI 10.24432/C5HS5C, CC BY 4.0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

SEED_END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def server_url() -> str:
    for key in ("QHSE_DATABASE_URL", "QHSE_TEST_DATABASE_URL"):
        url = os.environ.get(key)
        if url:
            return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    from db.engine import resolve_database_url

    return resolve_database_url()


def admin(url: str):
    from db.engine import libpq_dsn

    return psycopg.connect(libpq_dsn(make_url(url).set(database="postgres")), autocommit=True)


def demo_database(server: str, scale: str) -> str:
    from db.migrate import upgrade
    from qhse.demo.seed import database_is_empty, seed

    name = f"qhse_ml_bench_{scale}"
    with admin(server) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        empty = database_is_empty(conn)
    if empty:
        print(f"seeding '{scale}' demo data into {name} (once) ...", flush=True)
        t = time.perf_counter()
        seed(eng, scale=scale, seed=42, end=SEED_END,
             progress=lambda stage, done, total: None)
        print(f"  seeded in {time.perf_counter() - t:.0f} s", flush=True)
    eng.dispose()
    return url


def line(label: str, value: str) -> None:
    print(f"  {label:<44} {value}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["small", "medium", "large"], default="medium")
    ap.add_argument("--database-url", default=None, help="An already seeded database to use instead.")
    ap.add_argument("--ai4i",
                    default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"))
    ap.add_argument("--assets", type=int, default=10_000, help="Synthetic fleet size for the model-time test.")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0,
                    help="XGBoost threads for the fleet model-time test (0: XGBoost's default, all cores).")
    args = ap.parse_args()

    from ml import tracking
    from ml.features import FEATURES
    from ml.modeling import shap_contributions
    from ml.scoring import default_as_of, explain, load_champion, score_assets
    from ml.train import train_ai4i, train_db

    server = server_url()
    url = args.database_url or demo_database(server, args.scale)
    engine = sa.create_engine(url)
    ml_db = f"qhse_ml_bench_mlflow_{uuid.uuid4().hex[:8]}"
    with admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{ml_db}"')
    tmp = tempfile.TemporaryDirectory(prefix="qhse-ml-bench-")
    store = tracking.Store(make_url(server).set(database=ml_db).render_as_string(hide_password=False), Path(tmp.name))
    try:
        with engine.connect() as conn:
            n_assets = conn.execute(sa.text("SELECT count(*) FROM asset WHERE active")).scalar_one()
            n_read = conn.execute(sa.text(
                "SELECT count(*) FROM sensor_reading r JOIN sensor s ON s.id = r.sensor_id "
                "WHERE s.asset_id IS NOT NULL")).scalar_one()
        print(f"ML speed  (cpu cores: {os.cpu_count()}, database {make_url(url).database}: "
              f"{n_assets} active assets, {n_read:,} machine readings)")

        # ---------------------------------------------------------------- AI4I training
        if Path(args.ai4i).is_file():
            r = train_ai4i(args.ai4i, store=store)
            n = r.rows["train"]
            print("\nAI4I 2020 training (qhse-failure-ai4i; data CC BY 4.0, Matzka 2020, UCI DOI 10.24432/C5HS5C)")
            line("rows train / validation / holdout",
                 f"{r.rows['train']:,} / {r.rows['validation']:,} / {r.rows['holdout']:,}")
            line("read + features", f"{r.seconds['features']:.2f} s")
            line("fit (early stopping + refit)",
                 f"{r.seconds['fit']:.2f} s  = {n / r.seconds['fit']:,.0f} train rows/s")
            line("MLflow log + register", f"{r.seconds['log']:.2f} s")
            line("holdout PR-AUC / F1", f"{r.holdout['pr_auc']:.3f} / {r.holdout['f1']:.3f}")
        else:
            print(f"\nAI4I CSV not found at {args.ai4i}: skipped")

        # --------------------------------------------------------- demo-data training
        r = train_db(engine, store=store)
        snaps = sum(r.rows[k] for k in ("train", "validation", "holdout"))
        print(f"\nDemo data training (qhse-failure, '{args.scale}' scale, horizon 7 d, snapshots every 12 h)")
        line("snapshots (train / validation / holdout)",
             f"{r.rows['train']:,} / {r.rows['validation']:,} / {r.rows['holdout']:,}")
        line("point-in-time features in SQL",
             f"{r.seconds['features']:.1f} s  = {snaps / r.seconds['features']:,.0f} snapshots/s"
             f", {n_read / r.seconds['features']:,.0f} readings/s")
        line("fit (early stopping + refit)",
             f"{r.seconds['fit']:.2f} s  = {r.rows['train'] / r.seconds['fit']:,.0f} train rows/s")
        line("MLflow log + register", f"{r.seconds['log']:.2f} s")
        line("total", f"{sum(r.seconds.values()):.1f} s")
        line("holdout PR-AUC / ROC-AUC / F1",
             f"{r.holdout['pr_auc']:.3f} / {r.holdout['roc_auc']:.3f} / {r.holdout['f1']:.3f}"
             f"  (base rate {r.rows['holdout_positives'] / r.rows['holdout']:.3f})")
        line("holdout precision / recall at threshold",
             f"{r.holdout['precision']:.3f} / {r.holdout['recall']:.3f} at {r.threshold:.3f}")

        # ------------------------------------------------------------ scoring, demo
        as_of = default_as_of(engine)
        times = []
        for _ in range(args.repeat):
            sc = score_assets(engine, as_of=as_of, store=store)
            times.append((sc.seconds_features, sc.seconds_model, sc.seconds_write))
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM failure_prediction WHERE scored_at = :t AND model_version = :v"),
                         {"t": as_of, "v": sc.version})
        f_s, m_s, w_s = (statistics.median(x) for x in zip(*times, strict=True))
        print(f"\nScoring all active machines ({sc.assets}) with SHAP reasons, median of {args.repeat}")
        line("features in SQL (7-day + 30-day windows)", f"{f_s * 1000:.0f} ms")
        line("model + SHAP + top-5 reasons", f"{m_s * 1000:.1f} ms")
        line("write failure_prediction", f"{w_s * 1000:.0f} ms")

        # ------------------------------------------------- model time, 10,000 assets
        champ = load_champion(tracking.MODEL_DB, store)
        if args.threads:
            champ.booster.set_param({"nthread": args.threads})
        from ml.features import scoring_snapshots

        real = scoring_snapshots(engine, as_of)[FEATURES]
        rng = np.random.default_rng(0)
        fleet = real.iloc[rng.integers(0, len(real), args.assets)].reset_index(drop=True)
        noise = rng.normal(0, 0.02, fleet.shape) * fleet.abs().fillna(0).to_numpy()
        fleet = fleet + noise
        full, raw, full_cpu, raw_cpu = [], [], [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            explain(champ, fleet, top_k=5)
            full.append(time.perf_counter() - t)
            full_cpu.append(time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            shap_contributions(champ.booster, fleet)
            raw.append(time.perf_counter() - t)
            raw_cpu.append(time.process_time() - c)
        n_trees = len(champ.booster.get_dump())
        threads = args.threads or "all"
        print(f"\nModel time for {args.assets:,} machines ({n_trees} trees, {len(champ.features)} features, "
              f"{threads} threads; "
              f"median of {args.repeat}; wall clock, CPU time of all threads in brackets)")
        med = statistics.median
        line("pred_contribs (exact TreeSHAP) only", f"{med(raw) * 1000:.0f} ms ({med(raw_cpu) * 1000:.0f} ms CPU)"
             f"  = {args.assets / med(raw):,.0f} rows/s")
        line("probability + SHAP + top-5 reasons", f"{med(full) * 1000:.0f} ms ({med(full_cpu) * 1000:.0f} ms CPU)"
             f"  = {args.assets / med(full):,.0f} rows/s")
        with open("/proc/loadavg") as fh:
            print(f"\nload average during the run: {fh.read().split()[0]} (on {os.cpu_count()} cores)")
    finally:
        engine.dispose()
        from db.engine import dispose_engines

        dispose_engines()
        with admin(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{ml_db}" WITH (FORCE)')
        tmp.cleanup()


if __name__ == "__main__":
    main()
