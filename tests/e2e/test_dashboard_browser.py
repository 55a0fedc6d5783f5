"""The dashboard in a real browser: sign in, open every page, act on alarms, PPE events and hazards."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
import sqlalchemy as sa

from dashboard.pages import PAGES
from qhse.domain import access

from ..dashboard.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ERROR_MARKERS = ("Traceback", "Error:", "Exception", "StreamlitAPIException", "KeyError", "TypeError")


def settle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_load_state("networkidle", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.match(/Running|Connecting|Stop/)",
        timeout=timeout)
    page.wait_for_timeout(400)


def sign_in(browser, url: str, username: str, viewport=(1440, 1800)):
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="en-US",
                              timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    page.goto(url, timeout=90_000)
    page.get_by_role("textbox", name="Username").fill(username, timeout=60_000)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for(timeout=60_000)
    settle(page)
    return ctx, page


def open_page(page, title: str) -> None:
    nav = page.locator('[data-testid="stSidebarNav"]')
    if nav.count():  # with a single page there is no menu: that page is already open
        nav.get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", level=1, name=title).wait_for(timeout=60_000)
    settle(page)


def assert_clean(page, where: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception shown on {where}"
    body = page.locator('[data-testid="stMain"]').inner_text()
    for marker in ERROR_MARKERS:
        assert marker not in body, f"{marker!r} on {where}"


@pytest.mark.parametrize("username", ["admin", "plant.manager", "data.scientist", "security", "worker"])
def test_every_page_opens_without_errors(browser, dashboard_server, dash_users, shots, username):
    role = next(r for r, u in [("admin", "admin"), ("plant_manager", "plant.manager"),
                               ("data_scientist", "data.scientist"), ("security", "security"),
                               ("worker", "worker")] if u == username)
    ctx, page = sign_in(browser, dashboard_server, username)
    try:
        allowed = [p for p in PAGES if access.can(role, p.permission)]
        if len(allowed) == 1:  # a single page: Streamlit shows it without a menu
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0
            page.get_by_role("heading", level=1, name=allowed[0].title_en).wait_for(timeout=30_000)
        else:
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            for p in PAGES:
                assert (p.title_en in nav) == (p in allowed), f"{p.key} in the menu of {username}"
        for p in allowed:
            if len(allowed) > 1:
                open_page(page, p.title_en)
            assert_clean(page, f"{p.key} as {username}")
            page.screenshot(path=str(shots / f"{username}-{p.key}.png"), full_page=True)
    finally:
        ctx.close()


def test_acknowledge_an_alarm(browser, dashboard_server, dash_engine, shots):
    ctx, page = sign_in(browser, dashboard_server, "security")
    try:
        open_page(page, "Live alarms")
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for(timeout=30_000)
        with dash_engine.connect() as c:
            before = c.execute(sa.text("SELECT count(*) FROM alarm a JOIN site s ON s.id = a.site_id "
                                       "WHERE s.code = 'SU-MACH' AND a.status = 'acknowledged'")).scalar()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection cell
        button = page.get_by_role("button", name=re.compile(r"Acknowledge 1 selected"))
        button.wait_for(timeout=20_000)
        page.get_by_label("Note (optional)").fill("checked on site")
        button.click()
        page.get_by_text(re.compile(r"1 alarm\(s\) acknowledged")).wait_for(timeout=30_000)
        settle(page)
        assert_clean(page, "alarms after acknowledge")
        page.screenshot(path=str(shots / "action-acknowledge.png"), full_page=True)
        with dash_engine.connect() as c:
            after = c.execute(sa.text("SELECT count(*) FROM alarm a JOIN site s ON s.id = a.site_id "
                                      "WHERE s.code = 'SU-MACH' AND a.status = 'acknowledged' "
                                      "AND a.acknowledged_by = 'security'")).scalar()
        assert after >= 1 and after > before - 0
    finally:
        ctx.close()


def test_confirm_a_ppe_event_with_the_keyboard(browser, dashboard_server, dash_engine, shots):
    ctx, page = sign_in(browser, dashboard_server, "security")
    try:
        open_page(page, "PPE review")
        heading = page.get_by_role("heading", name=re.compile(r"^#\d+ ·")).first
        heading.wait_for(timeout=30_000)
        event_id = int(re.match(r"#(\d+)", heading.inner_text()).group(1))
        page.locator('[data-testid="stImage"] img').first.wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "action-review-before.png"), full_page=True)
        page.get_by_role("heading", level=1, name="PPE review").click()
        page.keyboard.press("1")  # confirm
        page.get_by_text(f"Event #{event_id}: confirmed.").wait_for(timeout=30_000)
        settle(page)
        assert_clean(page, "vision review after confirm")
        with dash_engine.connect() as c:
            status = c.execute(sa.text("SELECT review_status FROM vision_event WHERE id = :i"),
                               {"i": event_id}).scalar()
        assert status == "confirmed"
    finally:
        ctx.close()


def test_report_a_hazard_with_a_photo(browser, dashboard_server, dash_engine, shots, tmp_path):
    img = np.full((240, 320, 3), 210, np.uint8)
    cv2.rectangle(img, (40, 150), (280, 200), (40, 40, 40), -1)
    cv2.putText(img, "oil spill", (60, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 200), 2)
    photo = tmp_path / "spill.jpg"
    cv2.imwrite(str(photo), img)
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"definitely not a picture")
    ctx, page = sign_in(browser, dashboard_server, "worker")
    try:
        open_page(page, "Hazards and actions")
        # A bad file is refused with a message and nothing is stored.
        page.get_by_label("What is the hazard?").fill("Browser test: refused upload")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
        page.get_by_text("notes.jpg").wait_for(timeout=20_000)
        page.get_by_role("button", name="Submit report").click()
        page.get_by_text(re.compile("Photo refused")).wait_for(timeout=30_000)
        settle(page)
        page.screenshot(path=str(shots / "action-hazard-refused.png"), full_page=True)
        with dash_engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM hazard_report WHERE title = 'Browser test: refused upload'"
                                     )).scalar() == 0
        # A real photo goes through.
        page.get_by_label("What is the hazard?").fill("Browser test: oil spill near the reflow oven")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
        page.get_by_text("spill.jpg").wait_for(timeout=20_000)
        page.get_by_role("button", name="Submit report").click()
        page.get_by_text(re.compile(r"Hazard #\d+ reported")).wait_for(timeout=30_000)
        settle(page)
        assert_clean(page, "hazard report")
        page.screenshot(path=str(shots / "action-hazard-reported.png"), full_page=True)
        with dash_engine.connect() as c:
            row = c.execute(sa.text("SELECT photo_path FROM hazard_report WHERE title = "
                                    "'Browser test: oil spill near the reflow oven'")).one()
        assert row.photo_path and row.photo_path.endswith(".jpg")
    finally:
        ctx.close()
