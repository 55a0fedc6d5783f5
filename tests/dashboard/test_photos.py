"""Hazard photos through the front door (qhse.services.hazard_intake): GPS EXIF removed, bombs refused, nothing kept."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from db.queries import users
from qhse.domain.uploads import UploadError
from qhse.services.access import scope_for_user
from qhse.services.hazard_intake import report
from tests.unit.test_uploads import jpeg_with_gps, png_bomb

from .conftest import site_id


def _worker_and_area(engine, dash_users):
    elec = site_id(engine, "SZ-ELEC")
    with engine.connect() as c:
        area = c.execute(sa.text("SELECT min(id) FROM area WHERE site_id = :s"), {"s": elec}).scalar_one()
    return scope_for_user(users.get_by_id(engine, dash_users["worker"])), elec, area


def test_reported_photo_is_stored_without_its_location(dash_env, dash_engine, dash_users, tmp_path):
    scope, site, area = _worker_and_area(dash_engine, dash_users)
    hid = report(dash_engine, scope, site_id=site, area_id=area, category="other", title="Photo EXIF check",
                 photo=jpeg_with_gps(), photo_name="phone.jpg", folder=tmp_path)
    with dash_engine.connect() as c:
        path = c.execute(sa.text("SELECT photo_path FROM hazard_report WHERE id = :i"), {"i": hid}).scalar_one()
    stored = Path(path).read_bytes()
    assert b"Exif" not in stored and not Image.open(io.BytesIO(stored)).getexif()


def test_bomb_photo_is_refused_and_nothing_is_kept(dash_env, dash_engine, dash_users, tmp_path):
    scope, site, area = _worker_and_area(dash_engine, dash_users)
    with pytest.raises(UploadError, match="too large"):
        report(dash_engine, scope, site_id=site, area_id=area, category="other", title="Photo bomb check",
               photo=png_bomb(), photo_name="bomb.png", folder=tmp_path)
    assert not list(tmp_path.rglob("*.*"))
    with dash_engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM hazard_report WHERE title = 'Photo bomb check'")).scalar() == 0
