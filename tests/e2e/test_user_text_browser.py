"""A hazard title written in Markdown shows as text in Chromium: no image, no link, no request to its URLs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db.queries import users
from qhse.services.access import scope_for_user
from qhse.services.hazard_intake import report

from ..dashboard.conftest import site_id
from .test_dashboard_browser import open_page, settle, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TITLE = ("Browser md ![x](http://evil.example/p.png) [click](http://evil.example) www.evil.example "
         "boss@evil.example")


def test_markdown_in_a_hazard_title_is_inert(browser, dashboard_server, dash_engine, dash_users, dash_data_dir):
    elec = site_id(dash_engine, "SZ-ELEC")
    with dash_engine.connect() as c:
        area = c.execute(sa.text("SELECT min(id) FROM area WHERE site_id = :s"), {"s": elec}).scalar_one()
    worker = scope_for_user(users.get_by_id(dash_engine, dash_users["worker"]))
    report(dash_engine, worker, site_id=elec, area_id=area, category="other", title=TITLE, severity="severe",
           folder=dash_data_dir / "uploads")
    ctx, page = sign_in(browser, dashboard_server, "plant.manager")
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    try:
        open_page(page, "Hazards and actions")
        page.get_by_role("tab", name="SLA board").click()
        settle(page)
        page.get_by_text("[click](http", exact=False).first.wait_for(timeout=30_000)
        main = page.locator('[data-testid="stMain"]')
        assert main.locator('img[src*="evil"]').count() == 0
        assert main.locator('a[href*="evil"]').count() == 0  # neither the links nor the bare URLs / address
        assert not [u for u in requested if "evil.example" in u]
    finally:
        ctx.close()
