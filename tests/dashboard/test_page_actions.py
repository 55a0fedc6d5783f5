"""AppTest: what each page shows for a scoped user, and the writes made from pages."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import sqlalchemy as sa

from db.queries import users
from qhse.domain import access
from qhse.domain.access import SYSTEM
from qhse.domain.vision_review import ReviewError
from qhse.services.access import scope_for_user
from qhse.services.alarms import AlarmError, acknowledge
from qhse.services.vision_review import review

from .conftest import site_id
from .helpers import assert_ok, open_page, texts


def _one(engine, sql, **kw):
    with engine.connect() as c:
        return c.execute(sa.text(sql), kw).first()


# -- overview -----------------------------------------------------------------------------
def test_overview_scoped_user_sees_only_their_site(dash_env, dash_users, dash_engine):
    at = open_page(dash_users["plant.manager"], "app_pages/overview.py", state={"flt.period": "6m"})
    assert_ok(at)
    labels = [m.label for m in at.metric]
    assert any(label.startswith("TRIR") for label in labels) and any("Open alarms" in label for label in labels)
    by_site = at.dataframe[0].value
    assert by_site["site"].tolist() == ["SZ-ELEC"]
    # The sidebar offers only the user's site.
    assert at.sidebar.multiselect(key="w.sites").options == ["SZ-ELEC"]

    group = open_page(dash_users["group.manager"], "app_pages/overview.py", state={"flt.period": "6m"})
    assert sorted(group.dataframe[0].value["site"]) == ["SU-MACH", "SZ-ELEC", "SZ-PREC"]
    pm_trir = next(m.value for m in at.metric if m.label.startswith("TRIR"))
    gm_trir = next(m.value for m in group.metric if m.label.startswith("TRIR"))
    elec_row = group.dataframe[0].value.set_index("site").loc["SZ-ELEC"]
    assert pm_trir == f"{elec_row['trir']:,.2f}"
    assert gm_trir != pm_trir


def test_site_in_session_outside_scope_is_dropped(dash_env, dash_users, dash_engine):
    mach = site_id(dash_engine, "SU-MACH")
    at = open_page(dash_users["plant.manager"], "app_pages/overview.py", state={"flt.sites": [mach]})
    assert_ok(at)
    assert at.session_state["flt.sites"] == []
    assert at.dataframe[0].value["site"].tolist() == ["SZ-ELEC"]


def test_filters_persist_across_pages(dash_env, dash_users, dash_engine):
    prec = site_id(dash_engine, "SZ-PREC")
    at = open_page(dash_users["group.manager"], "app_pages/overview.py")
    at.sidebar.multiselect(key="w.sites").select(prec)
    at.run()
    assert at.dataframe[0].value["site"].tolist() == ["SZ-PREC"]
    at.switch_page("app_pages/risk.py")
    at.run()
    assert_ok(at)
    assert at.session_state["flt.sites"] == [prec]
    assert at.sidebar.multiselect(key="w.sites").value == [prec]
    assert "SZ-PREC ·" in at.selectbox(key="risk.area").format_func(at.selectbox(key="risk.area").value)


def test_chinese_overview(dash_env, dash_users):
    at = open_page(dash_users["group.manager"], "app_pages/overview.py", locale="zh")
    assert_ok(at)
    shown = texts(at)
    assert "概览" in shown and "年" in shown  # title and a Chinese period caption
    assert any("隐患关闭率" in m.label for m in at.metric)


# -- alarms ---------------------------------------------------------------------------------
def test_security_acknowledges_an_alarm_of_their_site(dash_env, dash_users, dash_engine, live_rows):
    at = open_page(dash_users["security"], "app_pages/alarms.py")
    assert_ok(at)
    table = at.dataframe[0].value
    assert set(table["site"]) == {"SU-MACH"} and len(table) >= 1
    first_open = int(table.index[table["status"] == "open"][0])
    alarm_id = int(table.loc[first_open, "id"])
    # Streamlit's AppTest cannot click dataframe rows: set the selection state as the browser would.
    at.session_state["alarms.table"] = {"selection": {"rows": [first_open], "columns": [], "cells": []}}
    at.run()
    at.text_input(key="alarms.note").input("fans on, area cleared")
    at.button(key="alarms.ack").click()
    at.run()
    assert_ok(at)
    row = _one(dash_engine, "SELECT status, acknowledged_by FROM alarm WHERE id = :i", i=alarm_id)
    assert tuple(row) == ("acknowledged", "security")
    audit = _one(dash_engine, "SELECT user_id, username, detail->>'note' FROM audit_log "
                              "WHERE action = 'acknowledge_alarm' AND entity_id = :i", i=str(alarm_id))
    assert tuple(audit) == (dash_users["security"], "security", "fans on, area cleared")


def test_alarm_rules_for_acknowledging(dash_engine, dash_users, live_rows):
    sec = scope_for_user(users.get_by_id(dash_engine, dash_users["security"]))
    head = scope_for_user(users.get_by_id(dash_engine, dash_users["plant.head"]))
    elec = site_id(dash_engine, "SZ-ELEC")
    elec_alarm = _one(dash_engine, "SELECT id FROM alarm WHERE site_id = :s AND cleared_at IS NULL "
                                   "AND acknowledged_at IS NULL LIMIT 1", s=elec)[0]
    with pytest.raises(AlarmError, match="no alarm"):
        acknowledge(dash_engine, sec, elec_alarm)  # another plant's alarm looks like no alarm at all
    with pytest.raises(access.AccessDenied):
        acknowledge(dash_engine, head, elec_alarm)  # plant heads read alarms, they do not acknowledge
    acknowledge(dash_engine, dataclass_replace(sec, site_ids=None), elec_alarm)
    with pytest.raises(AlarmError, match="already acknowledged"):
        acknowledge(dash_engine, dataclass_replace(sec, site_ids=None), elec_alarm)
    cleared = _one(dash_engine, "SELECT id FROM alarm WHERE cleared_at IS NOT NULL LIMIT 1")[0]
    with pytest.raises(AlarmError, match="already cleared"):
        acknowledge(dash_engine, SYSTEM, cleared)


def dataclass_replace(scope, **kw):
    import dataclasses

    return dataclasses.replace(scope, **kw)


def test_group_manager_sees_alarms_without_acknowledge(dash_env, dash_users, live_rows):
    at = open_page(dash_users["group.manager"], "app_pages/alarms.py")
    assert_ok(at)
    assert len(at.dataframe) >= 1
    assert "may view alarms but not acknowledge" in texts(at)
    assert not [b for b in at.button if b.key == "alarms.ack"]


# -- vision ---------------------------------------------------------------------------------
def test_security_confirms_a_ppe_event(dash_env, dash_users, dash_engine, live_rows):
    at = open_page(dash_users["security"], "app_pages/vision.py")
    assert_ok(at)
    head = at.subheader[0].value  # "#<id> · No hard hat"
    event_id = int(head.split("·")[0].strip().lstrip("#"))
    assert _one(dash_engine, "SELECT s.code FROM vision_event v JOIN site s ON s.id = v.site_id WHERE v.id = :i",
                i=event_id)[0] == "SU-MACH"
    assert len(at.get("image")) == 1  # the snapshot is shown
    at.text_input(key="vr.note").input("worker at press 2")
    at.button(key="vr.confirm").click()
    at.run()
    assert_ok(at)
    assert f"Event #{event_id}: confirmed." in texts(at)
    row = _one(dash_engine, "SELECT review_status, reviewed_by, review_note FROM vision_event WHERE id = :i",
               i=event_id)
    assert tuple(row) == ("confirmed", dash_users["security"], "worker at press 2")
    assert _one(dash_engine, "SELECT count(*) FROM audit_log WHERE action = 'review_vision_event' AND entity_id = :i",
                i=str(event_id))[0] == 1
    nxt = int(at.subheader[0].value.split("·")[0].strip().lstrip("#"))
    assert nxt != event_id  # the next event comes up
    at.button(key="vr.fp").click()
    at.run()
    assert _one(dash_engine, "SELECT review_status FROM vision_event WHERE id = :i", i=nxt)[0] == "false_positive"


def test_review_rules(dash_engine, dash_users, live_rows):
    sec = scope_for_user(users.get_by_id(dash_engine, dash_users["security"]))
    gm = scope_for_user(users.get_by_id(dash_engine, dash_users["group.manager"]))
    elec_event = _one(dash_engine, "SELECT v.id FROM vision_event v JOIN site s ON s.id = v.site_id "
                                   "WHERE s.code = 'SZ-ELEC' AND review_status = 'new' LIMIT 1")[0]
    with pytest.raises(ReviewError, match="no camera event"):
        review(dash_engine, sec, elec_event, "confirmed")
    with pytest.raises(access.AccessDenied):
        review(dash_engine, gm, elec_event, "confirmed")
    with pytest.raises(ReviewError, match="unknown decision"):
        review(dash_engine, SYSTEM, elec_event, "maybe")
    done = _one(dash_engine, "SELECT id FROM vision_event WHERE review_status = 'confirmed' LIMIT 1")[0]
    with pytest.raises(ReviewError, match="already reviewed"):
        review(dash_engine, SYSTEM, done, "dismissed")


def test_plant_manager_queue_is_their_plant(dash_env, dash_users, dash_engine, live_rows):
    at = open_page(dash_users["plant.manager"], "app_pages/vision.py")
    assert_ok(at)
    n = _one(dash_engine, "SELECT count(*) FROM vision_event v JOIN site s ON s.id = v.site_id "
                          "WHERE s.code = 'SZ-ELEC' AND review_status = 'new'")[0]
    assert at.metric[0].value == str(n)


# -- hazards --------------------------------------------------------------------------------
def _png() -> bytes:
    img = np.full((120, 160, 3), 200, np.uint8)
    cv2.putText(img, "oil", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 0, 0), 2)
    return cv2.imencode(".png", img)[1].tobytes()


def _fill(at, title):
    at.text_input(key="hz.title").input(title)
    at.selectbox(key="hz.category").select("housekeeping")
    at.selectbox(key="hz.severity").select("high")


def test_worker_reports_a_hazard_with_a_photo(dash_env, dash_users, dash_engine, dash_data_dir):
    at = open_page(dash_users["worker"], "app_pages/hazards.py")
    assert_ok(at)
    assert [t.label for t in at.tabs] == ["Report a hazard", "My reports"]  # no SLA board for workers
    _fill(at, "Oil leak next to SMT line 1")
    at.file_uploader(key="hz.photo").upload("leak.png", _png(), "image/png")
    at.get("form_submit_button")[0].click()
    at.run()
    assert_ok(at)
    assert "reported" in texts(at)
    assert at.text_input(key="hz.title").value == ""  # the form is cleared after a saved report
    row = _one(dash_engine, "SELECT id, status, severity, photo_path, reporter_user_id, site_id FROM hazard_report "
                            "WHERE title = 'Oil leak next to SMT line 1'")
    assert row.status == "reported" and row.severity == "high" and row.reporter_user_id == dash_users["worker"]
    assert row.site_id == site_id(dash_engine, "SZ-ELEC")
    from pathlib import Path

    photo = Path(row.photo_path)
    assert photo.is_file() and photo.read_bytes() == _png() and dash_data_dir in photo.parents
    assert _one(dash_engine, "SELECT count(*) FROM audit_log WHERE action = 'report_hazard' AND entity_id = :i",
                i=str(row.id))[0] == 1
    mine = open_page(dash_users["worker"], "app_pages/hazards.py")
    assert "Oil leak next to SMT line 1" in mine.dataframe[0].value["title"].tolist()


def test_a_bad_photo_is_refused_and_nothing_is_saved(dash_env, dash_users, dash_engine, dash_data_dir):
    before = _one(dash_engine, "SELECT count(*) FROM hazard_report")[0]
    files_before = sorted(dash_data_dir.rglob("hazard-*"))
    at = open_page(dash_users["worker"], "app_pages/hazards.py")
    _fill(at, "Cable damaged")
    at.file_uploader(key="hz.photo").upload("cable.jpg", b"this is not an image at all", "image/jpeg")
    at.get("form_submit_button")[0].click()
    at.run()
    assert_ok(at)
    assert "Photo refused" in texts(at) and "not a JPEG, PNG or WebP image" in texts(at)
    assert at.text_input(key="hz.title").value == "Cable damaged"  # what was typed is kept
    assert _one(dash_engine, "SELECT count(*) FROM hazard_report")[0] == before
    assert sorted(dash_data_dir.rglob("hazard-*")) == files_before


def test_sla_board_for_managers(dash_env, dash_users, dash_engine):
    at = open_page(dash_users["group.manager"], "app_pages/hazards.py")
    assert_ok(at)
    assert "SLA board" in [t.label for t in at.tabs]
    states = {m.label: int(m.value.replace(",", "")) for m in at.metric if m.label in
              ("Escalated", "Overdue", "Due within 24 h", "On time")}
    # Open corrective actions, and reports still waiting for their response, are both on an SLA clock.
    n = _one(dash_engine, "SELECT (SELECT count(*) FROM corrective_action WHERE status IN ('open', 'in_progress')) + "
                          "(SELECT count(*) FROM hazard_report WHERE status IN ('reported', 'reopened') "
                          "AND response_due_at IS NOT NULL)")[0]
    assert sum(states.values()) == n


# -- risk -------------------------------------------------------------------------------------
def test_risk_page_for_a_plant_manager(dash_env, dash_users, dash_engine):
    at = open_page(dash_users["plant.manager"], "app_pages/risk.py", state={"flt.period": "12m"})
    assert_ok(at)
    areas = at.selectbox(key="risk.area")
    assert areas.options and all(o.startswith("SZ-ELEC") for o in areas.options)
    classes = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    n = _one(dash_engine, "SELECT count(*) FROM hazard_report WHERE site_id = :s AND status <> 'rejected' "
                          "AND reported_at >= :a AND reported_at < :b", s=site_id(dash_engine, "SZ-ELEC"),
             a=at.session_state["_ctx"].filters.start, b=at.session_state["_ctx"].filters.end)[0]
    assert sum(classes.values()) == n > 0
    cell = at.selectbox(key="risk.cell")
    lk, cq = (int(x) for x in cell.value.split("x"))
    shown = at.dataframe[-1].value
    assert len(shown) > 0 and set(shown["site"]) == {"SZ-ELEC"}


# -- people -------------------------------------------------------------------------------------
def test_health_fields_masked_unless_the_role_may_read_them(dash_env, dash_users, dash_engine):
    def sensitive_reads(user):
        return _one(dash_engine, "SELECT count(*) FROM audit_log WHERE action = 'read_sensitive' AND username = :u "
                                 "AND sensitive", u=user)[0]

    gm = open_page(dash_users["group.manager"], "app_pages/people.py")
    assert_ok(gm)
    df = gm.dataframe[0].value
    assert set(df["blood_type"]) == {access.MASK} and set(df["fit_for_duty"]) == {access.MASK}
    assert sensitive_reads("group.manager") == 0

    before = sensitive_reads("plant.manager")
    pm = open_page(dash_users["plant.manager"], "app_pages/people.py", state={})
    assert_ok(pm)
    df = pm.dataframe[0].value
    employees = df[df["kind"] == "employee"]
    assert set(employees["blood_type"]) <= {"A", "B", "AB", "O"} and len(employees) > 0
    assert set(df["site"]) == {"SZ-ELEC"}
    assert sensitive_reads("plant.manager") == before + 1


def test_the_review_page_plays_the_event_clip(dash_env, dash_users, dash_engine, live_rows):
    import numpy as np

    from vision.clips import clip_path_for, write_clip

    at = open_page(dash_users["security"], "app_pages/vision.py")
    assert_ok(at)
    event_id = int(at.subheader[0].value.split("·")[0].strip().lstrip("#"))
    snap = _one(dash_engine, "SELECT snapshot_path FROM vision_event WHERE id = :i", i=event_id)[0]
    assert not at.get("video")  # no clip on disk yet: nothing to play
    frames = [np.full((96, 128, 3), 40 + 10 * k, dtype=np.uint8) for k in range(12)]
    clip = write_clip(frames, clip_path_for(snap), fps=4.0)
    try:
        at = open_page(dash_users["security"], "app_pages/vision.py")
        assert_ok(at)
        assert int(at.subheader[0].value.split("·")[0].strip().lstrip("#")) == event_id
        assert len(at.get("video")) == 1
        assert "seconds before and after" in texts(at)
    finally:
        clip.unlink(missing_ok=True)
