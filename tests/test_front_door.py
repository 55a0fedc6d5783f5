"""One front door: ``qhse ...`` and the dashboard make a change through the same service.

For each change both doors are driven end to end against the same PostgreSQL database: the
command line through click's CliRunner (``qhse.cli.root.cli``), the dashboard through Streamlit's
AppTest.  Each test shows the same permission check, the same audit row and the same
notification from both.
"""
# ruff: noqa: F811  (the dashboard fixtures are imported by name; pytest passes them to the tests)

from __future__ import annotations

import io
import json
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from PIL import Image
from sqlalchemy.engine import make_url

from db.engine import libpq_dsn
from qhse.cli.root import cli
from tests.dashboard.conftest import (  # noqa: F401  (fixtures of the dashboard tests)
    dash_data_dir,
    dash_engine,
    dash_env,
    dash_mlflow,
    dash_url,
    dash_users,
    live_rows,
    site_id,
    trained_model,
)
from tests.dashboard.helpers import assert_ok, open_page, texts
from tests.unit.test_uploads import jpeg_with_gps


def qhse(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _rows(engine, sql: str, **params) -> list:
    with engine.connect() as c:
        return c.execute(sa.text(sql), params).all()


def _listen(url: str, channel: str) -> psycopg.Connection:
    conn = psycopg.connect(libpq_dsn(make_url(url)), autocommit=True)
    conn.execute(f"LISTEN {channel}")
    return conn


def _notified(conn: psycopg.Connection) -> list[dict]:
    return [json.loads(n.payload) for n in conn.notifies(timeout=2.0)]


# -- a. alarms: qhse alarm ack / the alarms page -> qhse.services.alarms.act -----------------------
def test_alarm_acknowledge_through_both_doors(dash_env, dash_engine, dash_users, live_rows):
    mach = site_id(dash_engine, "SU-MACH")
    a_cli, a_page = [r[0] for r in _rows(dash_engine, "SELECT id FROM alarm WHERE site_id = :s AND cleared_at IS NULL "
                                                      "AND acknowledged_at IS NULL ORDER BY id LIMIT 2", s=mach)]
    # Permission: a plant head may read alarms but not acknowledge them, at either door.
    res = qhse("alarm", "ack", str(a_cli), "--as", "plant.head")
    assert res.exit_code == 2 and "may not ack alarms" in res.output
    head = open_page(dash_users["plant.head"], "app_pages/alarms.py")
    assert_ok(head)
    assert not [b for b in head.button if b.key == "alarms.ack"]
    assert _rows(dash_engine, "SELECT count(*) FROM audit_log WHERE entity = 'alarm' AND entity_id IN (:a, :b)",
                 a=str(a_cli), b=str(a_page))[0][0] == 0

    listener = _listen(dash_env, "qhse_alarms")
    try:
        res = qhse("alarm", "ack", str(a_cli), "--as", "security", "--note", "fans on")
        assert res.exit_code == 0, res.output
        from_cli = _notified(listener)

        at = open_page(dash_users["security"], "app_pages/alarms.py")
        assert_ok(at)
        table = at.dataframe[0].value
        row = int(table.index[table["id"] == a_page][0])
        at.session_state["alarms.table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
        at.run()
        at.text_input(key="alarms.note").input("fans on")
        at.button(key="alarms.ack").click()
        at.run()
        assert_ok(at)
        from_page = _notified(listener)
    finally:
        listener.close()

    audits = _rows(dash_engine, "SELECT entity_id, user_id, username, detail FROM audit_log "
                                "WHERE action = 'acknowledge_alarm' AND entity_id IN (:a, :b) ORDER BY id",
                   a=str(a_cli), b=str(a_page))
    assert [a.entity_id for a in audits] == [str(a_cli), str(a_page)]
    for a in audits:
        assert (a.user_id, a.username, a.detail) == (dash_users["security"], "security",
                                                     {"site_id": mach, "note": "fans on"})
    assert from_cli == [{"event": "acknowledged", "alarm_id": a_cli, "status": "acknowledged", "by": "security"}]
    assert from_page == [{"event": "acknowledged", "alarm_id": a_page, "status": "acknowledged", "by": "security"}]
    states = _rows(dash_engine, "SELECT status, acknowledged_by FROM alarm WHERE id IN (:a, :b)", a=a_cli, b=a_page)
    assert [tuple(s) for s in states] == [("acknowledged", "security")] * 2


# -- b. model promotion: qhse ml promote / the models page -> ml.promotion.promote ----------------
@pytest.mark.slow
def test_model_promotion_through_both_doors(dash_env, dash_engine, dash_users, dash_mlflow, trained_model):
    from ml import tracking
    from ml.train import train_db

    second = train_db(dash_engine, horizon_days=7, store=dash_mlflow)  # a second version to switch between
    client = tracking.use_store(dash_mlflow)
    first = str(trained_model["version"])
    champion = str(tracking.champion_version(client, tracking.MODEL_DB).version)
    other = first if champion != first else str(second.version)
    assert other != champion

    # Permission: a plant manager may not promote, at either door; nothing is recorded.
    res = qhse("ml", "promote", other, "--as", "plant.manager", "--reason", "looks better")
    assert res.exit_code == 2 and "may not manage models" in res.output
    pm = open_page(dash_users["plant.manager"], "app_pages/models.py")
    assert_ok(pm)
    assert not [b for b in pm.button if b.key == "models.promote"]
    # A reason is required at both doors.
    res = qhse("ml", "promote", other, "--as", "data.scientist", "--reason", "  ")
    assert res.exit_code == 2 and "give a reason" in res.output
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == champion
    assert _rows(dash_engine, "SELECT count(*) FROM audit_log WHERE action = 'promote_model'")[0][0] == 0

    res = qhse("ml", "promote", other, "--as", "data.scientist", "--reason", "better recall on the press line")
    assert res.exit_code == 0, res.output
    assert f"v{other} is now champion (promoted by data.scientist)" in res.output
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == other

    at = open_page(dash_users["data.scientist"], "app_pages/models.py")
    assert_ok(at)
    at.selectbox(key="models.version").select(int(champion))
    at.run()
    at.button(key="models.promote").click()
    at.run()
    assert "give a reason" in texts(at)
    at.text_input(key="models.reason").input("better recall on the press line")
    at.button(key="models.promote").click()
    at.run()
    assert_ok(at)
    assert str(tracking.champion_version(client, tracking.MODEL_DB).version) == champion

    audits = _rows(dash_engine, "SELECT entity_id, user_id, username, detail FROM audit_log "
                                "WHERE action = 'promote_model' ORDER BY id")
    assert [(a.entity_id, a.user_id, a.username, a.detail["reason"], a.detail["previous"]) for a in audits] == [
        (f"qhse-failure:{other}", dash_users["data.scientist"], "data.scientist", "better recall on the press line",
         champion),
        (f"qhse-failure:{champion}", dash_users["data.scientist"], "data.scientist", "better recall on the press line",
         other),
    ]
    assert audits[0].detail.keys() == audits[1].detail.keys()  # the same record from both doors
    for v in (other, champion):  # the registry records the same user and reason for both
        tags = client.get_model_version(tracking.MODEL_DB, v).tags
        assert (tags["promoted_by"], tags["promotion_reason"]) == ("data.scientist",
                                                                   "manual: better recall on the press line")


# -- c. hazard report: qhse hazard report / the hazards page -> qhse.services.hazard_intake.report --
def _area(engine, site: int) -> tuple[int, str, str]:
    return tuple(_rows(engine, "SELECT id, code, name FROM area WHERE site_id = :s ORDER BY id LIMIT 1", s=site)[0])


def _report_trail(engine, hid: int) -> tuple:
    audit = _rows(engine, "SELECT user_id, username, detail FROM audit_log WHERE action = 'report_hazard' "
                          "AND entity_id = :i", i=str(hid))
    notes = _rows(engine, "SELECT channel, recipient FROM notification WHERE ref = :r ORDER BY channel, recipient",
                  r=f"hazard:{hid}:reported")
    return audit, [tuple(n) for n in notes]


def _page_report(users, title: str, area_id: int, name: str, data: bytes):
    at = open_page(users["worker"], "app_pages/hazards.py")
    assert_ok(at)
    at.selectbox(key="hz.area").select(area_id)
    at.run()
    at.text_input(key="hz.title").input(title)
    at.selectbox(key="hz.category").select("fire")
    at.selectbox(key="hz.severity").select("high")
    at.file_uploader(key="hz.photo").upload(name, data, "image/jpeg")
    at.get("form_submit_button")[0].click()
    at.run()
    assert_ok(at)
    return at


def _stored_photo(engine, title: str, folder: Path) -> tuple[int, Path]:
    (hid, path), = _rows(engine, "SELECT id, photo_path FROM hazard_report WHERE title = :t", t=title)
    stored = Path(path)
    assert stored.is_relative_to(folder)
    data = stored.read_bytes()
    assert b"Exif" not in data and not Image.open(io.BytesIO(data)).getexif()  # GPS and camera tags gone
    return hid, stored


def test_hazard_report_through_both_doors(dash_env, dash_engine, dash_users, dash_data_dir, tmp_path):
    elec, mach = site_id(dash_engine, "SZ-ELEC"), site_id(dash_engine, "SU-MACH")
    area_id, area_code, _ = _area(dash_engine, elec)
    _, mach_area, _ = _area(dash_engine, mach)
    photo, bad = jpeg_with_gps(), b"this is not an image at all"
    (tmp_path / "phone.jpg").write_bytes(photo)
    (tmp_path / "notes.jpg").write_bytes(bad)
    uploads = dash_data_dir / "uploads" / "hazards"
    base = ["hazard", "report", "--site", "SZ-ELEC", "--area", area_code, "--category", "fire",
            "--severity", "high", "--as", "worker"]

    # Permission: a worker reports at their own sites only (the page offers only those).
    res = qhse("hazard", "report", "--site", "SU-MACH", "--area", mach_area, "--category", "fire",
               "--title", "Front door: not my site", "--as", "worker")
    assert res.exit_code == 2 and "outside worker's sites" in res.output
    page = open_page(dash_users["worker"], "app_pages/hazards.py")
    assert_ok(page)
    assert page.selectbox(key="hz.site").options == [page.selectbox(key="hz.site").format_func(elec)]

    # A file that is not a photo is refused at both doors: no row, no file.
    files_before = sorted(dash_data_dir.rglob("hazard-*"))
    res = qhse(*base, "--title", "Front door: bad photo", "--photo", str(tmp_path / "notes.jpg"))
    assert res.exit_code == 2 and "notes.jpg is not a JPEG, PNG or WebP image" in res.output
    at = _page_report(dash_users, "Front door: bad photo", area_id, "notes.jpg", bad)
    assert "notes.jpg is not a JPEG, PNG or WebP image" in texts(at)
    assert _rows(dash_engine, "SELECT count(*) FROM hazard_report WHERE title LIKE 'Front door:%'")[0][0] == 0
    assert sorted(dash_data_dir.rglob("hazard-*")) == files_before

    # A phone photo: stored under the data directory without its EXIF, audited, area manager told.
    res = qhse(*base, "--title", "Front door: blocked exit (cli)", "--photo", str(tmp_path / "phone.jpg"))
    assert res.exit_code == 0, res.output
    hid_cli, stored_cli = _stored_photo(dash_engine, "Front door: blocked exit (cli)", uploads)
    _page_report(dash_users, "Front door: blocked exit (page)", area_id, "phone.jpg", photo)
    hid_page, stored_page = _stored_photo(dash_engine, "Front door: blocked exit (page)", uploads)
    assert stored_cli.read_bytes() == stored_page.read_bytes()

    (a_cli,), notes_cli = _report_trail(dash_engine, hid_cli)
    (a_page,), notes_page = _report_trail(dash_engine, hid_page)
    assert (a_cli.user_id, a_cli.username) == (a_page.user_id, a_page.username) == (dash_users["worker"], "worker")
    assert (a_cli.detail.pop("photo"), a_page.detail.pop("photo")) == (stored_cli.name, stored_page.name)
    a_cli.detail.pop("note", None), a_page.detail.pop("note", None)  # "repeat of #..." when linked
    assert a_cli.detail == a_page.detail == {"site_id": elec, "area_id": area_id, "severity": "high",
                                             "category": "fire", "source": "worker"}
    assert notes_cli and notes_cli == notes_page
