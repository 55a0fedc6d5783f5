"""KPI counts and figures from a real PostgreSQL database (the formulas by hand: tests/unit/test_kpi_formulas.py)."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
import sqlalchemy as sa

from db.queries.kpi import kpi_counts
from qhse.domain.performance import KpiCfg, PerformanceConfig
from qhse.services.kpi_report import kpi_report
from tests import kpi_fixtures as fx

TZ = "Asia/Shanghai"
OCT, SEP, NOV = dt.date(2026, 10, 1), dt.date(2026, 9, 1), dt.date(2026, 11, 1)


# ------------------------------------------------------------------------- from the database
@pytest.fixture(scope="module")
def kpi_engine(db_factory):
    url = db_factory.create(prefix="qhse_kpi")
    eng = sa.create_engine(url)
    t = fx.t
    with eng.begin() as c:
        fx.build_org(c)
        fx.hours(c, 1, OCT, 100_000)
        fx.hours(c, 2, OCT, 300_000, contractor=100_000)
        # Site A: two recordable cases (one days away, one restricted), a first aid, a near miss.
        fx.incident(c, 1, t(5), recordable=True, lost_time=True, days_away=10)
        fx.incident(c, 1, t(10), recordable=True, restricted=True, days_restricted=5)
        fx.incident(c, 1, t(11), kind="first_aid")
        fx.incident(c, 1, t(12), kind="near_miss")
        fx.incident(c, 1, t(12, month=9), recordable=True)  # September: outside the period
        # Site B: one lost-time case, a contractor's recordable case, three near misses.
        fx.incident(c, 2, t(20), recordable=True, lost_time=True, days_away=4)
        fx.incident(c, 2, t(21), recordable=True, contractor=True)
        for d in (3, 4, 5):
            fx.incident(c, 2, t(d), kind="near_miss")
        # Site C: no hours recorded, one recordable case.
        fx.incident(c, 3, t(22), recordable=True)
        # Site A hazards: 5 counted (one rejected is not), 3 closed by the end of October.
        h1 = fx.hazard(c, 1, t(2), status="closed", closed=t(5))
        h2 = fx.hazard(c, 1, t(3), status="closed", closed=t(20))
        fx.hazard(c, 1, t(4), status="closed", closed=t(28))
        h4 = fx.hazard(c, 1, t(25), status="in_progress")
        fx.hazard(c, 1, t(6), status="rejected")
        fx.hazard(c, 1, t(30), status="closed", closed=t(3, month=11))
        # Actions due in October: one on time, one late; one due in November (not counted).
        fx.action(c, h1, 1, due=t(10), completed=t(8))
        fx.action(c, h2, 1, due=t(15), completed=t(18))
        fx.action(c, h4, 1, due=t(5, month=11), completed=None)
        # Inspections due in October at area A: 3 done, 1 missed.
        for d, st in ((1, "done"), (8, "done"), (15, "done"), (22, "missed")):
            fx.inspection(c, 1, t(d, hour=1), st)
        # Training at site A: person 101 holds 2 courses (latest records), one valid on 31 Oct.
        fx.person(c, 101, 1)
        fx.person(c, 102, 1)
        fx.course(c, 1, "FIRE")
        fx.course(c, 2, "CHEM")
        fx.training(c, 101, 1, dt.date(2025, 12, 1), dt.date(2026, 12, 1))
        fx.training(c, 101, 2, dt.date(2024, 8, 1), dt.date(2025, 8, 1))  # superseded
        fx.training(c, 101, 2, dt.date(2025, 8, 1), dt.date(2026, 8, 1))  # expired before 31 Oct
        fx.training(c, 102, 1, dt.date(2026, 11, 5), dt.date(2027, 11, 5))  # after the period
    yield eng
    eng.dispose()


def _by_key(rows):
    return {r["key"]: r for r in rows}


def test_counts_per_site_by_hand(kpi_engine):
    rows = _by_key(kpi_counts(kpi_engine, start=OCT, end=NOV, by="site", tz=TZ))
    a, b, c = rows[1], rows[2], rows[3]
    assert (a["hours"], a["recordable"], a["days_away_cases"], a["restricted_cases"], a["lost_time"]) == \
        (100_000, 2, 1, 1, 1)
    assert (a["days_away"], a["days_restricted"], a["injuries"], a["near_misses"]) == (10, 5, 3, 1)
    assert (a["hazards_reported"], a["hazards_closed"]) == (5, 3)
    assert (a["actions_due"], a["actions_on_time"]) == (2, 1)
    assert (a["inspections_due"], a["inspections_done"]) == (4, 3)
    assert (a["training_held"], a["training_valid"]) == (2, 1)
    assert (b["hours"], b["recordable"], b["days_away_cases"], b["near_misses"]) == (400_000, 2, 1, 3)
    assert c["hours"] == 0 and c["recordable"] == 1


def test_kpis_per_site_and_group_from_sums(kpi_engine):
    rep = kpi_report(kpi_engine, month=OCT, by="site", tz=TZ)
    v = {r.key: r.values for r in rep.rows}
    assert v[1]["trir"] == pytest.approx(4.0)  # 2 x 200,000 / 100,000
    assert v[1]["dart"] == pytest.approx(4.0)  # (1 + 1) x 200,000 / 100,000
    assert v[1]["ltifr"] == pytest.approx(10.0)  # 1 x 1,000,000 / 100,000
    assert v[1]["severity_rate"] == pytest.approx(20.0)  # 10 days x 200,000 / 100,000
    assert v[1]["near_miss_ratio"] == pytest.approx(1 / 3)
    assert v[1]["hazard_closure_rate"] == pytest.approx(60.0)
    assert v[1]["on_time_rectification_rate"] == pytest.approx(50.0)
    assert v[1]["inspection_completion"] == pytest.approx(75.0)
    assert v[1]["training_coverage"] == pytest.approx(50.0)
    assert v[2]["trir"] == pytest.approx(1.0)  # 2 x 200,000 / 400,000 (contractor hours included)
    assert v[2]["dart"] == pytest.approx(0.5)
    assert v[2]["ltifr"] == pytest.approx(2.5)
    assert v[2]["near_miss_ratio"] == pytest.approx(1.5)
    assert v[3]["trir"] is None  # no hours: not available, no division error
    assert v[3]["on_time_rectification_rate"] is None
    # Group: 5 recordable cases in 500,000 h = 2.0; the mean of the site rates would be 2.5.
    assert rep.total.values["trir"] == pytest.approx(2.0)
    assert statistics.mean([v[1]["trir"], v[2]["trir"]]) == pytest.approx(2.5)
    assert rep.total.counts.hours == pytest.approx(sum(r.counts.hours for r in rep.rows))
    # The previous month has no hours: changes are not available.
    assert rep.rows[0].changes["trir"].direction == "n/a"


def test_contractors_and_severity_convention_from_config(kpi_engine):
    cfg = PerformanceConfig(kpi=KpiCfg(include_contractors=False,
                                       severity={"days": "days_away_and_restricted", "base": 200000}))
    v = {r.key: r.values for r in kpi_report(kpi_engine, month=OCT, by="site", config=cfg, tz=TZ).rows}
    assert v[2]["trir"] == pytest.approx(1 * 200_000 / 300_000)
    assert v[1]["severity_rate"] == pytest.approx(30.0)  # (10 + 5) days x 200,000 / 100,000


def test_groupings_and_scope(kpi_engine):
    area = _by_key(kpi_counts(kpi_engine, start=OCT, end=NOV, by="area", tz=TZ))
    assert area[1]["hours_known"] is False
    rep_area = kpi_report(kpi_engine, month=OCT, by="area", tz=TZ)
    a1 = next(r for r in rep_area.rows if r.key == 1)
    assert a1.values["trir"] is None and a1.values["hazard_closure_rate"] == pytest.approx(60.0)
    months = kpi_report(kpi_engine, month=OCT, months=2, by="month", tz=TZ)
    assert [r.key for r in months.rows] == [SEP, OCT]
    assert months.rows[0].values["trir"] is None  # September: a case but no hours
    assert months.rows[1].values["trir"] == pytest.approx(2.0)
    region = kpi_counts(kpi_engine, start=OCT, end=NOV, by="region", tz=TZ)
    assert len(region) == 1 and region[0]["recordable"] == 5
    only_a = kpi_counts(kpi_engine, start=OCT, end=NOV, by="site", scope=[1], tz=TZ)
    assert [r["key"] for r in only_a] == [1]
    assert kpi_counts(kpi_engine, start=OCT, end=NOV, by="site", scope=[], tz=TZ) == []
    scoped_total = kpi_report(kpi_engine, month=OCT, by="site", scope=[2], tz=TZ).total
    assert scoped_total.values["trir"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        kpi_counts(kpi_engine, start=OCT, end=NOV, by="planet", tz=TZ)


def test_group_figure_on_seeded_data_matches_sql(seeded_engine):
    rep = kpi_report(seeded_engine, month=OCT, by="site", tz=TZ)
    with seeded_engine.connect() as c:
        cases = c.execute(sa.text(
            "SELECT count(*) FROM incident WHERE recordable AND occurred_at >= '2026-10-01 00:00+08' "
            "AND occurred_at < '2026-11-01 00:00+08'")).scalar()
        hours = c.execute(sa.text(
            "SELECT sum(hours + contractor_hours)::float FROM hours_worked WHERE month = '2026-10-01'")).scalar()
    assert rep.total.counts.recordable == cases
    assert rep.total.counts.hours == pytest.approx(hours)
    assert rep.total.values["trir"] == pytest.approx(cases * 200_000 / hours)
    assert rep.total.counts.recordable == sum(r.counts.recordable for r in rep.rows)
