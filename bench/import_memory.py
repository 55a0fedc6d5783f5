"""Importer memory: peak RSS of `qhse import` on a large CSV file (files are streamed).

    python bench/import_memory.py                    # 1,000,000 AI4I-shaped rows (5 million readings)
    python bench/import_memory.py --rows 200000 --kind assets

Creates a scratch database on the PostgreSQL server of ``QHSE_TEST_DATABASE_URL`` (else
``QHSE_DATABASE_URL``) with one plant, writes the CSV to a temporary folder (AI4I rows are
the real AI4I 2020 file repeated with new UDIs; assets rows are generated), runs
`qhse import` as a child process and prints its wall time and peak resident memory
(``ru_maxrss`` of the child).  Run it by hand; figures depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

AI4I = ROOT.parent / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"


def server_url() -> str:
    url = os.environ.get("QHSE_TEST_DATABASE_URL") or os.environ.get("QHSE_DATABASE_URL")
    if not url:
        sys.exit("set QHSE_TEST_DATABASE_URL (or QHSE_DATABASE_URL) to a PostgreSQL server URL")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def write_ai4i(path: Path, rows: int) -> None:
    with AI4I.open(encoding="utf-8-sig", newline="") as fh:
        src = list(csv.reader(fh))
    header, body = src[0], src[1:]
    with path.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(header)
        for i in range(rows):
            r = list(body[i % len(body)])
            r[0] = str(i + 1)
            w.writerow(r)


def write_assets(path: Path, rows: int, site: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["site", "area", "code", "name", "kind", "product_type", "manufacturer", "installed_at"])
        for i in range(rows):
            w.writerow([site, "MILL", f"{site}-B{i:07d}", f"Machine {i}", "cnc_mill", "LMH"[i % 3], "Haas",
                        "2020-05-01"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--kind", choices=("ai4i", "assets"), default="ai4i")
    args = ap.parse_args()
    from tests.conftest import DatabaseFactory
    from tests.ingest_fixtures import make_plant

    server = server_url()
    factory = DatabaseFactory(server)
    url = factory.create(prefix="qhse_bench", migrate=False, migrate_in_place=True)
    try:
        eng = sa.create_engine(url)
        plant = make_plant(eng, rules=False)
        eng.dispose()
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / f"{args.kind}.csv"
            t = time.perf_counter()
            if args.kind == "ai4i":
                write_ai4i(f, args.rows)
                extra = ["--asset", plant.asset, "--start", "2020-01-01T00:00:00Z", "--interval", "60"]
            else:
                write_assets(f, args.rows, plant.site)
                extra = []
            print(f"wrote {f.stat().st_size / 1e6:,.1f} MB ({args.rows:,} rows) in {time.perf_counter() - t:.1f} s")
            env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
            env["QHSE_DATABASE_URL"] = url
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "qhse.cli", "import", args.kind, str(f), *extra],
                               env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            if r.returncode != 0:
                sys.exit(f"import failed ({r.returncode}): {r.stderr[-2000:]}")
            print(r.stdout.strip())
            print(f"\nkind {args.kind}: {args.rows:,} rows imported in {wall:.1f} s "
                  f"({args.rows / wall:,.0f} rows/s); peak RSS of the import process {peak_mb:,.0f} MB")
    finally:
        factory.drop(url)


if __name__ == "__main__":
    main()
