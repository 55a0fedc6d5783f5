"""Scope holds in the query layer: a plant manager of one plant gets no row of another,
whatever the caller asks for."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from db.queries import (
    alarms,
    equipment,
    hazards,
    org,
    overview,
    people,
    risk,
    users,
    vision,
)
from qhse.domain.access import SYSTEM
from qhse.services import overview as qoverview
from qhse.services import risk as qrisk
from qhse.services.access import scope_for_user

from .conftest import site_id

START = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


@pytest.fixture()
def scopes(dash_engine, dash_users, live_rows):
    pm = scope_for_user(users.get_by_id(dash_engine, dash_users["plant.manager"]))  # SZ-ELEC only
    return {"pm": pm, "elec": site_id(dash_engine, "SZ-ELEC"), "mach": site_id(dash_engine, "SU-MACH")}


def _mach_sensor(engine, mach):
    with engine.connect() as c:
        return c.execute(sa.text("SELECT id FROM sensor WHERE site_id = :s AND asset_id IS NOT NULL LIMIT 1"),
                         {"s": mach}).scalar_one()


def _mach_area(engine, mach):
    with engine.connect() as c:
        return c.execute(sa.text("SELECT id FROM area WHERE site_id = :s LIMIT 1"), {"s": mach}).scalar_one()


def test_asking_for_another_plant_returns_nothing(dash_engine, scopes):
    e, pm, mach = dash_engine, scopes["pm"], scopes["mach"]
    other = (mach,)
    # The same requests under an all-sites scope do return rows: the empty answers below come from scope.
    assert not alarms.open_alarms(e, SYSTEM, site_ids=other).empty
    assert not vision.review_queue(e, SYSTEM, site_ids=other).empty
    assert not risk.hazard_register(e, SYSTEM, start=START, end=END, site_ids=other).empty

    assert org.areas(e, pm, other).empty
    assert alarms.open_alarms(e, pm, site_ids=other).empty
    assert alarms.recent_alarms(e, pm, start=START, end=END, site_ids=other).empty
    assert alarms.alarm_counts_by_day(e, pm, start=START, end=END, tz="Asia/Shanghai", site_ids=other).empty
    assert overview.overdue_actions(e, pm, at=END, site_ids=other) == 0
    assert overview.open_alarms(e, pm, at=END, site_ids=other)["total"] == 0
    assert overview.ppe_violations(e, pm, start=START, end=END, site_ids=other) == {"confirmed": 0, "new": 0}
    assert vision.review_queue(e, pm, site_ids=other).empty
    assert vision.queue_size(e, pm, site_ids=other) == 0
    assert vision.violations_by_zone_hour(e, pm, start=START, end=END, tz="UTC", site_ids=other).empty
    assert equipment.ranked_assets(e, pm, site_ids=other).empty
    assert equipment.sensors(e, pm, site_ids=other).empty
    res, hist = equipment.sensor_history(e, pm, _mach_sensor(e, mach), start=START, end=END)
    assert hist.empty
    assert risk.hazard_register(e, pm, start=START, end=END, site_ids=other).empty
    assert risk.area_items(e, pm, _mach_area(e, mach), start=START, end=END) == {}
    assert people.people(e, pm, site_ids=other).empty
    assert hazards.sla_board(e, pm, site_ids=other).empty
    assert hazards.awaiting_response(e, pm, site_ids=other).empty
    assert qrisk.area_heatmap(e, pm, start=START, end=END, site_ids=other).empty
    ov = qoverview.overview(e, pm, start_month=dt.date(2026, 8, 1), end_month=dt.date(2026, 11, 1),
                            prev_start_month=dt.date(2026, 5, 1), site_ids=other)
    tiles = {t.code: t for t in ov["tiles"]}
    assert tiles["trir"].current is None  # no hours of any visible site: not available
    assert tiles["open_alarms"].current == 0 and tiles["ppe_violations"].current == 0
    assert ov["by_site"].empty


def test_unfiltered_queries_return_only_the_scope_sites(dash_engine, scopes):
    e, pm = dash_engine, scopes["pm"]
    assert set(alarms.open_alarms(e, pm)["site"]) == {"SZ-ELEC"}
    assert set(vision.review_queue(e, pm)["site"]) == {"SZ-ELEC"}
    assert set(equipment.sensors(e, pm)["site"]) == {"SZ-ELEC"}
    assert set(people.people(e, pm)["site"]) == {"SZ-ELEC"}
    assert set(risk.hazard_register(e, pm, start=START, end=END)["site"]) == {"SZ-ELEC"}
    assert set(qrisk.area_heatmap(e, pm, start=START, end=END)["site"]) == {"SZ-ELEC"}
    board = hazards.sla_board(e, pm)
    assert board.empty or set(board["site"]) == {"SZ-ELEC"}


def test_overview_of_a_plant_is_its_own_numbers(dash_engine, scopes):
    e, pm, elec = dash_engine, scopes["pm"], scopes["elec"]
    kw = dict(start_month=dt.date(2026, 5, 1), end_month=dt.date(2026, 11, 1), prev_start_month=dt.date(2025, 11, 1))
    mine = qoverview.overview(e, pm, **kw)
    group = qoverview.overview(e, SYSTEM, **kw)
    same_site = qoverview.overview(e, SYSTEM, site_ids=(elec,), **kw)
    assert [t.current for t in mine["tiles"]] == [t.current for t in same_site["tiles"]]
    assert [t.current for t in mine["tiles"]] != [t.current for t in group["tiles"]]
    assert mine["by_site"]["site"].tolist() == ["SZ-ELEC"]
    assert mine["counts"]["hours"] < group["counts"]["hours"]


def test_a_scope_without_sites_sees_nothing(dash_engine):
    nobody = dataclasses.replace(SYSTEM, site_ids=(), role="plant_manager")
    assert org.sites(dash_engine, nobody).empty
    assert alarms.open_alarms(dash_engine, nobody).empty


def test_hazard_loop_reads_apply_the_scope(dash_engine, scopes):
    """The hazard-loop reads take the caller's scope (not a bare list of sites): a plant manager of
    SZ-ELEC reads nothing of SU-MACH, whichever parameter points there."""
    e, pm, mach = dash_engine, scopes["pm"], scopes["mach"]
    with e.connect() as c:
        hid, reporter = c.execute(sa.text("SELECT id, reporter_person_id FROM hazard_report WHERE site_id = :s "
                                          "AND reporter_person_id IS NOT NULL ORDER BY id LIMIT 1"),
                                  {"s": mach}).one()
        insp = c.execute(sa.text("SELECT i.id FROM inspection i JOIN inspection_route r ON r.id = i.route_id "
                                 "WHERE r.site_id = :s ORDER BY i.id LIMIT 1"), {"s": mach}).scalar()
    assert hazards.hazard_detail(e, SYSTEM, hid) is not None
    assert hazards.hazard_detail(e, pm, hid) is None
    assert not hazards.reporter_reports(e, SYSTEM, reporter).empty
    assert hazards.reporter_reports(e, pm, reporter).empty
    assert hazards.reporter_summary(e, pm, reporter)["reports"] == 0
    assert not hazards.leaderboard(e, SYSTEM, mach).empty
    assert hazards.leaderboard(e, pm, mach).empty
    assert hazards.hazard_list(e, pm, site_ids=(mach,)).empty
    assert hazards.repeat_hazards(e, pm, site_ids=(mach,)).empty
    assert hazards.inspections(e, pm, site_ids=(mach,)).empty
    if insp is not None:
        assert hazards.inspection_form(e, SYSTEM, insp) is not None
        assert hazards.inspection_form(e, pm, insp) is None
    # Site-less system queues: only a scope over every site reads them.
    assert hazards.notifications(e, pm).empty
    assert hazards.job_runs(e, pm).empty
