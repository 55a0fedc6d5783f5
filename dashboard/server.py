"""The dashboard's ASGI app: Streamlit (``app.py``) plus the session-cookie routes and security headers.

``streamlit run dashboard/server.py`` (what ``qhse dashboard`` runs) finds ``app`` below and
serves it with Streamlit's own Starlette server.  Streamlit scripts talk to the browser over
a WebSocket and cannot set cookies, so two small HTTP routes do it:

* ``GET /auth/session?code=...&next=/page?lang=zh``: the sign-in form, after checking the
  password, sends the browser here with a one-time code (60 s, single use, same client);
  the route swaps it for a random session token, sets it as an ``HttpOnly; SameSite=Strict``
  cookie (``Secure`` over HTTPS) and redirects to ``next`` (a path on this site only);
* ``GET /auth/signout?next=...``: revokes the cookie's session, deletes the cookie, redirects.

Every HTTP response carries a Content-Security-Policy (no external images, scripts or
frames; ``frame-ancestors 'none'``), ``X-Frame-Options: DENY``, ``X-Content-Type-Options:
nosniff`` and ``Referrer-Policy: same-origin``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route

from dashboard.core import client_of, safe_next

_CSP_DIRECTIVES = (
    "default-src 'self'",
    # Streamlit's front end uses inline styles, and its charts (Vega) compile expressions at run time.
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' ws: wss:",
    "frame-src 'self' blob: data:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
CSP = "; ".join(_CSP_DIRECTIVES)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response (not to WebSocket frames)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)

        return await self.app(scope, receive, send_with_headers)


_engine = None


def _db():
    global _engine
    if _engine is None:
        from db.engine import create_engine_for, resolve_database_url
        from qhse.settings import get_settings

        _engine = create_engine_for(resolve_database_url(get_settings()), pool_size=4, max_overflow=4)
    return _engine


def _secure(request: Request) -> bool:
    from qhse.settings import get_settings

    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https" or \
        get_settings().session_cookie_secure


async def session_route(request: Request):
    from qhse.services.auth import SESSION_COOKIE, redeem_code
    from qhse.settings import get_settings

    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        # Only the dashboard itself sends the browser here; a link from another site could
        # otherwise sign a victim in to someone else's account.
        return PlainTextResponse("sign-in link not accepted from another site", status_code=403)
    code = request.query_params.get("code", "")
    token = await run_in_threadpool(redeem_code, _db(), code,
                                    client=client_of(request.client.host if request.client else None))
    target = safe_next(request.query_params.get("next"))
    if token is None:
        return RedirectResponse(target, status_code=303)
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, max_age=get_settings().session_absolute_s, path="/", httponly=True,
                    samesite="strict", secure=_secure(request))
    resp.headers["cache-control"] = "no-store"
    return resp


async def signout_route(request: Request):
    from qhse.services.auth import SESSION_COOKIE, end_session

    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(end_session, _db(), token=token)
    resp = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    resp.headers["cache-control"] = "no-store"
    return resp


app = st.App(
    "app.py",
    routes=[Route("/auth/session", session_route, methods=["GET"]),
            Route("/auth/signout", signout_route, methods=["GET"])],
    middleware=[Middleware(SecurityHeaders)],
)
