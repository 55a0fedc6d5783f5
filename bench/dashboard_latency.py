"""Server-side render time of every dashboard page (Streamlit AppTest), p50 and p95.

    python bench/dashboard_latency.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/qhse_bench_dash

Run it against a database filled with `qhse db seed --scale large` (20 M+ readings).  For
each role and each page that role may open, the page is rendered ``--runs`` times:

* cold: Streamlit's data cache emptied before each render (what a user sees when the
  cache has expired: every query runs against PostgreSQL);
* warm: the cache as left by the previous render (the usual case within the TTL).

A first render of each page (imports, connection pool) is made before measuring and
reported on its own.  Target: every page under 1 s p95.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
APP = ROOT / "dashboard" / "app.py"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=os.environ.get("QHSE_DATABASE_URL"),
                    help="database to measure (default: QHSE_DATABASE_URL)")
    ap.add_argument("--runs", type=int, default=15, help="renders per page, cold and warm each")
    ap.add_argument("--roles", default="admin,plant_manager", help="comma-separated roles to render as")
    ap.add_argument("--pages", default="", help="comma-separated page keys (default: every page)")
    ap.add_argument("--no-live-rows", action="store_true",
                    help="do not add open alarms and PPE events awaiting review before measuring")
    args = ap.parse_args()
    if not args.database_url:
        sys.exit("give --database-url or set QHSE_DATABASE_URL")
    os.environ["QHSE_DATABASE_URL"] = args.database_url
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    import sqlalchemy as sa
    import streamlit as st
    from rich.console import Console
    from rich.table import Table
    from streamlit.testing.v1 import AppTest

    from dashboard.pages import PAGES
    from db.engine import describe_url, get_engine
    from db.queries.users import get_by_username
    from qhse.domain import access
    from qhse.services.auth import DEMO_USERS, ensure_demo_users

    console = Console()
    engine = get_engine(args.database_url)
    with engine.connect() as conn:
        readings = conn.execute(sa.text("SELECT coalesce(sum(n), 0) FROM sensor_reading_hourly")).scalar()
        preds = conn.execute(sa.text("SELECT count(*) FROM failure_prediction")).scalar()
    console.print(f"database {describe_url(args.database_url)}: {int(readings):,} readings (counted in the hourly "
                  f"rollup), {preds:,} failure predictions")
    if preds == 0:
        console.print("[yellow]no failure predictions: equipment health renders without them "
                      "(run `qhse ml train` and `qhse ml score` first for a full page)[/yellow]")
    if not args.no_live_rows:
        from tests.dashboard.live_data import add_open_alarms, add_review_events

        folder = Path(os.environ.get("QHSE_DATA_DIR", ".qhse")) / "bench-snapshots"
        a = add_open_alarms(engine, per_site=3)
        v = add_review_events(engine, folder, per_camera=5)
        console.print(f"added {len(a)} open alarms and {len(v)} PPE events awaiting review")
    users = {}
    for d, _pw in ensure_demo_users(engine):
        users[d.role] = get_by_username(engine, d.username).id
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    wanted = {p.strip() for p in args.pages.split(",") if p.strip()}

    table = Table(title=f"Dashboard page render time, server side (AppTest), {args.runs} renders each")
    for c in ("page", "role", "first (s)", "cold p50", "cold p95", "warm p50", "warm p95"):
        table.add_column(c, justify="right" if c not in ("page", "role") else "left")
    worst = 0.0
    for role in roles:
        if role not in users:
            sys.exit(f"unknown role {role!r}; one of {', '.join(d.role for d in DEMO_USERS)}")
        at = AppTest.from_file(str(APP), default_timeout=300)
        at.session_state["auth.user_id"] = users[role]
        at.session_state["locale"] = "en"
        at.run()
        for spec in PAGES:
            if (wanted and spec.key not in wanted) or not access.can(role, spec.permission):
                continue
            at.switch_page(spec.file)
            t = time.perf_counter()
            at.run()
            first = time.perf_counter() - t
            if at.exception:
                console.print(f"[red]{spec.key} as {role}: {at.exception[0].message}[/red]")
                continue
            cold, warm = [], []
            for _ in range(args.runs):
                st.cache_data.clear()
                at.switch_page(spec.file)
                t = time.perf_counter()
                at.run()
                cold.append(time.perf_counter() - t)
            for _ in range(args.runs):
                at.switch_page(spec.file)
                t = time.perf_counter()
                at.run()
                warm.append(time.perf_counter() - t)
            worst = max(worst, pct(cold, 0.95))
            table.add_row(spec.key, role, f"{first:.2f}", f"{statistics.median(cold):.3f}", f"{pct(cold, 0.95):.3f}",
                          f"{statistics.median(warm):.3f}", f"{pct(warm, 0.95):.3f}")
    console.print(table)
    verdict = "[green]every page under 1 s p95 (cold)[/green]" if worst < 1.0 else \
        f"[red]slowest page {worst:.2f} s p95 (cold): above the 1 s target[/red]"
    console.print(verdict)


if __name__ == "__main__":
    main()
