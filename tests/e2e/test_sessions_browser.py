"""Sign-in sessions in a real browser: a refresh keeps the user signed in on the same page, a deep
link returns to its page after sign-in, sign-out ends the session for good; security headers."""

from __future__ import annotations

import urllib.request

import pytest
import sqlalchemy as sa

from ..dashboard.conftest import PASSWORD
from .test_dashboard_browser import settle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _new_page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US", timezone_id="Asia/Shanghai")
    return ctx, ctx.new_page()


def _fill_sign_in(page, username: str) -> None:
    page.get_by_role("textbox", name="Username").fill(username, timeout=60_000)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_refresh_keeps_the_session_and_sign_out_ends_it(browser, dashboard_server, dash_engine):
    ctx, page = _new_page(browser)
    try:
        # A deep link while signed out: the sign-in form answers there, and sends the user back to it.
        page.goto(dashboard_server + "/vision", timeout=90_000)  # not the role's default page
        _fill_sign_in(page, "security")
        page.get_by_role("heading", level=1, name="PPE review").wait_for(timeout=60_000)
        settle(page)
        assert page.url.startswith(dashboard_server + "/vision")
        cookie = next(c for c in ctx.cookies() if c["name"] == "qhse_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        with dash_engine.connect() as c:
            stored = c.execute(sa.text("SELECT token_hash FROM user_session WHERE revoked_at IS NULL "
                                       "AND token_hash IS NOT NULL")).scalars().all()
        assert cookie["value"] not in stored and len(stored) >= 1  # only the digest is stored

        page.reload()
        page.get_by_role("heading", level=1, name="PPE review").wait_for(timeout=60_000)
        page.get_by_text("Signed in as").wait_for(timeout=30_000)
        settle(page)
        assert page.url.startswith(dashboard_server + "/vision")
        assert page.get_by_role("textbox", name="Password").count() == 0

        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("textbox", name="Password").wait_for(timeout=60_000)
        settle(page)
        assert not [c for c in ctx.cookies() if c["name"] == "qhse_session"]
        page.reload()
        page.get_by_role("textbox", name="Password").wait_for(timeout=60_000)
        settle(page)
        assert page.get_by_text("Signed in as").count() == 0
        with dash_engine.connect() as c:
            live = c.execute(sa.text("SELECT count(*) FROM user_session s JOIN user_account u ON u.id = s.user_id "
                                     "WHERE u.username = 'security' AND s.revoked_at IS NULL "
                                     "AND s.token_hash = :h"),
                             {"h": __import__("hashlib").sha256(cookie["value"].encode()).hexdigest()}).scalar()
        assert live == 0
        # The old cookie value is useless even if it was copied before sign-out.
        ctx.add_cookies([{**{k: cookie[k] for k in ("name", "value", "domain", "path")}}])
        page.reload()
        page.get_by_role("textbox", name="Password").wait_for(timeout=60_000)
    finally:
        ctx.close()


def test_security_headers_on_pages_and_routes(dashboard_server):
    for path in ("/", "/alarms", "/_stcore/health"):
        with urllib.request.urlopen(dashboard_server + path, timeout=30) as r:
            h = r.headers
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "img-src 'self' data: blob:" in csp, path
        assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff", path


def test_a_sign_in_code_works_once_and_not_from_another_site(dashboard_server, dash_engine, dash_users):
    from db.queries.users import get_by_username
    from qhse.services.auth import start_session

    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,), {
        "redirect_request": lambda self, *a, **k: None})())
    user = get_by_username(dash_engine, "worker")
    _, code = start_session(dash_engine, user, client="local")
    req = urllib.request.Request(f"{dashboard_server}/auth/session?code={code}&next=/hazards",
                                 headers={"Sec-Fetch-Site": "cross-site"})
    with pytest.raises(urllib.error.HTTPError) as e:
        opener.open(req, timeout=30)
    assert e.value.code == 403
    for expect_cookie in (True, False):  # once only
        try:
            opener.open(f"{dashboard_server}/auth/session?code={code}&next=//evil.example/x", timeout=30)
        except urllib.error.HTTPError as err:
            assert err.code == 303
            assert err.headers["Location"] == "/"  # never to another site
            assert ("qhse_session=" in (err.headers.get("Set-Cookie") or "")) is expect_cookie
            if expect_cookie:
                sc = err.headers["Set-Cookie"]
                assert "HttpOnly" in sc and "SameSite=strict" in sc.replace("Strict", "strict")


def test_deep_link_keeps_the_language_through_sign_in(browser, dashboard_server):
    ctx, page = _new_page(browser)
    try:
        page.goto(dashboard_server + "/vision?lang=zh", timeout=90_000)
        page.get_by_role("textbox", name="用户名").fill("security", timeout=60_000)
        page.get_by_role("textbox", name="密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.get_by_role("heading", level=1, name="PPE 违规审核").wait_for(timeout=60_000)
        settle(page)
        assert page.url.startswith(dashboard_server + "/vision") and "lang=zh" in page.url
        page.reload()
        page.get_by_role("heading", level=1, name="PPE 违规审核").wait_for(timeout=60_000)
    finally:
        ctx.close()
