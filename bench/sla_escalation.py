"""Escalation, notification delivery and SLA board at volume.

    python bench/sla_escalation.py [--actions 20000] [--database qhse_bench_loop]

Runs against the server of QHSE_DATABASE_URL (or QHSE_TEST_DATABASE_URL, or the embedded
PostgreSQL) in a database of its own, created afresh on every run.  It makes one plant
with ``--actions`` open corrective actions whose lateness is spread over 0..4 SLA periods,
then measures:

* escalate: one ``escalate_overdue`` pass (escalation rows + queued notifications);
* again: the same pass a second time (idempotent: nothing to do);
* deliver: sending the queued notifications to the mail spool (a temporary directory);
* board: the SLA board query over every open action.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from tqdm import tqdm  # noqa: E402

from db import models as m  # noqa: E402
from db.engine import libpq_dsn  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.queries.hazards import sla_board  # noqa: E402
from qhse.domain.access import SYSTEM  # noqa: E402
from qhse.services.notify import SpoolMailer, deliver_pending  # noqa: E402
from qhse.services.sla import escalate_overdue  # noqa: E402

UTC = dt.UTC


def server_url() -> str:
    url = os.environ.get("QHSE_DATABASE_URL") or os.environ.get("QHSE_TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    from db.engine import resolve_database_url
    from qhse.settings import get_settings

    return resolve_database_url(get_settings())


def fresh_database(name: str) -> str:
    base = make_url(server_url())
    with psycopg.connect(libpq_dsn(base.set(database="postgres")), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def build(engine: sa.Engine, n: int, now: dt.datetime) -> None:
    tag = uuid.uuid4().hex[:6]
    with Session(engine) as s, s.begin():
        ent = m.Enterprise(name=f"Bench {tag}")
        s.add(ent)
        s.flush()
        reg = m.Region(enterprise_id=ent.id, code=f"R{tag}", name="Region")
        s.add(reg)
        s.flush()
        # Every escalation level goes out by e-mail (owner, area owner, plant manager, group).
        site = m.Site(region_id=reg.id, code=f"B{tag}", name="Bench plant", industry="machining",
                      timezone="Asia/Shanghai",
                      settings={"notifications": {"plant_manager": [{"channel": "email", "to": "pm@bench.example"}],
                                                  "group": [{"channel": "email", "to": "hq@bench.example"}]}})
        s.add(site)
        s.flush()
        dept = m.Department(site_id=site.id, code="PROD", name="Production")
        s.add(dept)
        s.flush()
        owner = m.Person(employee_no=f"B{tag}-1", name="Area owner", site_id=site.id, department_id=dept.id,
                         email="owner@bench.example")
        s.add(owner)
        s.flush()
        area = m.Area(site_id=site.id, department_id=dept.id, code="A1", name="Area 1", kind="machining",
                      risk_class="A", owner_person_id=owner.id)
        s.add(area)
        s.flush()
        ids = (site.id, area.id, dept.id, owner.id)
    site_id, area_id, dept_id, owner_id = ids
    sev = ("low", "normal", "high", "severe")
    period = {"low": 24, "normal": 24, "high": 8, "severe": 4}
    batch = 5000
    with engine.begin() as c, tqdm(total=n, desc="actions", unit="") as bar:
        for start in range(0, n, batch):
            k = min(batch, n - start)
            hz, acts = [], []
            for i in range(start, start + k):
                sv = sev[i % 4]
                late_h = period[sv] * (i % 17) / 4.0  # 0 .. 4 periods
                due = now - dt.timedelta(hours=late_h)
                hz.append(dict(site_id=site_id, area_id=area_id, category="housekeeping", title=f"Bench hazard {i}",
                               severity=sv, likelihood=3, consequence=3, status="assigned", source="worker",
                               reported_at=due - dt.timedelta(days=6), response_due_at=due - dt.timedelta(days=5),
                               responded_at=due - dt.timedelta(days=5, hours=-1), is_repeat=False, points_awarded=0))
            table = m.HazardReport.__table__
            hids = c.execute(sa.insert(table).returning(table.c.id), hz).scalars().all()
            for hid, h in zip(hids, hz, strict=False):
                acts.append(dict(hazard_id=hid, department_id=dept_id, owner_person_id=owner_id, description="Rectify",
                                 status="open", created_at=h["responded_at"],
                                 due_at=h["reported_at"] + dt.timedelta(days=6), escalation_level=0, currency="CNY"))
            c.execute(sa.insert(m.CorrectiveAction.__table__), acts)
            bar.update(k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actions", type=int, default=20000)
    ap.add_argument("--database", default="qhse_bench_loop")
    args = ap.parse_args()
    url = fresh_database(args.database)
    eng = sa.create_engine(url)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    build(eng, args.actions, now)
    with eng.connect() as c:
        c.execute(sa.text("ANALYZE"))
        c.commit()

    t = time.perf_counter()
    with Session(eng) as s, s.begin():
        r = escalate_overdue(s, now)
    t_esc = time.perf_counter() - t
    t = time.perf_counter()
    with Session(eng) as s, s.begin():
        r2 = escalate_overdue(s, now)
    t_again = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        tx = {"email": SpoolMailer(Path(d), "qhse@bench.example")}
        t = time.perf_counter()
        sent = 0
        while True:
            st = deliver_pending(eng, notifiers=tx, limit=1000)
            sent += st.sent
            if st.sent + st.retried + st.failed == 0:
                break
        t_deliver = time.perf_counter() - t
    t = time.perf_counter()
    board = sla_board(eng, SYSTEM, now=now)
    t_board = time.perf_counter() - t
    eng.dispose()

    print(f"open actions                     {args.actions:>10,}")
    print(f"escalate: overdue checked        {r.checked:>10,}  escalations {r.escalations:,} "
          f"({', '.join(f'L{k} {v:,}' for k, v in sorted(r.by_level.items()))}), notifications {r.notifications:,}")
    print(f"escalate: time                   {t_esc:>10.2f} s  = {r.checked / t_esc:,.0f} actions/s")
    print(f"escalate again (idempotent)      {t_again:>10.2f} s  escalations {r2.escalations:,}")
    print(f"deliver to mail spool            {t_deliver:>10.2f} s  = {sent / t_deliver:,.0f} messages/s "
          f"({sent:,} sent)")
    print(f"SLA board query                  {t_board:>10.2f} s  ({len(board):,} rows)")


if __name__ == "__main__":
    main()
