"""QHSE dashboard script, served by ``dashboard/server.py`` (``qhse dashboard``; ``streamlit run dashboard/server.py``).

Runs on every interaction: sign-in, then one ``st.navigation`` call with the pages the
user's role may open (grouped by section, see ``dashboard/pages.py``), the shared
sidebar (user, language, filters), a central permission check, then the page itself.

How to add a page: see the docstring of ``dashboard/pages.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` from a checkout
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import core, i18n  # noqa: E402
from dashboard.pages import PAGES, SECTIONS, allowed_pages  # noqa: E402
from qhse.services.access import scope_for_user  # noqa: E402

# A local icon: a Material icon name would make every browser fetch it from a font CDN.
st.set_page_config(page_title="QHSE Platform", page_icon=str(ROOT / "dashboard" / "assets" / "icon.png"), layout="wide")


def login_page() -> None:
    from urllib.parse import quote

    from qhse.services.auth import LoginFailed, LoginThrottled, authenticate, start_session

    if core.K_LOCALE not in st.session_state and core.query_locale():
        st.session_state[core.K_LOCALE] = core.query_locale()
    st.title(core.t("app.title"))
    lang = st.segmented_control(core.t("language"), list(i18n.LOCALES), format_func=i18n.LOCALES.get,
                                default=core.locale(), key="login.lang")
    if lang and lang != core.locale():
        st.session_state[core.K_LOCALE] = lang
        st.rerun()
    with st.form("login", border=True):
        st.subheader(core.t("login.title"))
        username = st.text_input(core.t("login.username"), key="login.username")
        password = st.text_input(core.t("login.password"), type="password", key="login.password")
        submitted = st.form_submit_button(core.t("login.submit"), type="primary")
    if submitted:
        client = core.client_key()
        try:
            user = authenticate(core.engine(), username, password, client=client)
        except LoginThrottled as exc:
            st.error(core.t("login.throttled", s=exc.retry_after_s))
        except LoginFailed as exc:
            st.error(core.t("login.disabled") if "disabled" in str(exc) else core.t("login.failed"))
        else:
            sid, code = start_session(core.engine(), user, client=client,
                                      user_agent=st.context.headers.get("User-Agent"))
            core.sign_in(user, sid)
            # Back to the page that was asked for (a deep link), in the chosen language.
            here = st.session_state.get("_login_path") or ""
            target = core.safe_next(f"/{here}?lang={core.locale()}")
            core.redirect_next_run(f"/auth/session?code={quote(code)}&next={quote(target, safe='')}")
            st.rerun()
    st.caption(core.t("login.hint"))


def sidebar_user(user, scope) -> None:
    from qhse.services.auth import set_locale

    with st.sidebar:
        st.caption(core.t("signed_in_as", name=core.plain(user.display_name), role=core.t(f"role.{user.role}")))
        loc = st.selectbox(core.t("language"), list(i18n.LOCALES), format_func=i18n.LOCALES.get,
                           index=list(i18n.LOCALES).index(core.locale()), key="w.locale")
        if loc != core.locale():
            set_locale(core.engine(), scope, loc)
            st.session_state[core.K_LOCALE] = loc
            st.rerun()
        if st.button(core.t("logout"), icon=":material/logout:", key="w.logout"):
            loc = core.locale()
            core.sign_out()  # revokes the server-side session at once
            core.redirect_next_run(f"/auth/signout?next=%2F%3Flang%3D{loc}")  # deletes the cookie
            st.rerun()


def main() -> None:
    user = core.current_user()
    core.flush_redirect()  # cookie routes: set the session cookie after sign-in, delete it after sign-out
    if user is None:
        # The sign-in form answers at every page's address, so a deep link (/alarms) keeps its URL
        # and the user lands there once signed in.
        pages = [st.Page(login_page, title=core.t("login.title"), icon=":material/login:", url_path="login",
                         default=True)]
        pages += [st.Page(login_page, title=core.t("login.title"), url_path=p.key, visibility="hidden")
                  for p in PAGES]
        pg = st.navigation(pages, position="hidden")
        st.session_state["_login_path"] = "" if pg.url_path in ("", "login") else pg.url_path
        pg.run()
        return
    scope = scope_for_user(user)
    loc = core.locale()
    allowed = {p.key for p in allowed_pages(scope)}
    first_allowed = next((p.key for p in PAGES if p.key in allowed), None)
    sections: dict[str, list] = {}
    spec_by_page: list[tuple[object, object]] = []
    for s in SECTIONS:
        for p in (p for p in PAGES if p.section == s):
            page = st.Page(p.file, title=p.title(loc), icon=p.icon, url_path=p.key,
                           default=(p.key == first_allowed), visibility="visible" if p.key in allowed else "hidden")
            spec_by_page.append((page, p))
            if p.key in allowed:
                sections.setdefault(core.t(f"section.{s}"), []).append(page)
            else:
                # Registered but hidden: opening its URL shows a refusal, not another page.
                sections.setdefault("_hidden", []).append(page)
    hidden = sections.pop("_hidden", [])
    if not allowed:  # nothing to show: a notice as the home page (hidden pages still refuse by URL)
        notice = st.Page(lambda: st.info(core.t("denied", role=core.t(f"role.{scope.role}"))),
                         title=core.t("app.title"), url_path="home", default=True)
        sections = {core.t("app.title"): [notice]}
    if hidden:
        sections[next(iter(sections))].extend(hidden)
    pg = st.navigation(sections, position="sidebar", expanded=True)
    sidebar_user(user, scope)
    if not allowed and pg.url_path in ("", "home"):
        pg.run()
        return
    spec = next((sp for page, sp in spec_by_page if page is pg or page.url_path == pg.url_path), None)
    if spec is None or spec.key not in allowed:
        st.error(core.t("denied", role=core.t(f"role.{scope.role}")))
        st.stop()
    if scope.site_ids is not None and not scope.site_ids:
        st.warning(core.t("no_sites"))
        st.stop()
    filters = core.render_filters(scope, show=spec.filters)
    st.session_state["_ctx"] = core.PageContext(user=user, scope=scope, filters=filters, locale=loc, page=spec)
    st.title(spec.title(loc))  # every page's title comes from the registry
    pg.run()


main()
