"""What every page shares: the engine, the signed-in user and their scope, the shared
filters, cached queries, the locale.

Pages call ``ctx = page_context()`` and then ``fetch(fn, ctx.scope, ...)`` where ``fn`` is a
``db.queries`` function taking ``(engine, scope, ...)``; results are cached with
``st.cache_data`` keyed on the function, the database, the scope and the arguments, so
two users with different scopes never share a cached result.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import i18n
from qhse.domain.access import Scope

# Session keys (persist across pages for the whole browser session).
K_USER = "auth.user_id"
K_SESSION = "auth.session_id"  # the server-side session (user_session.id) behind the cookie
K_REDIRECT = "auth.redirect"  # a browser navigation to make on the next run (cookie routes)
K_LOCALE = "locale"
K_SITES = "flt.sites"
K_AREAS = "flt.areas"
K_PERIOD = "flt.period"
K_END = "flt.end"

PERIODS = ("1m", "3m", "6m", "12m", "ytd")
DEFAULT_PERIOD = "3m"

TTL_LIVE = 5  # seconds: open alarms, review queues
TTL_STANDARD = 120  # KPIs, heatmaps, lists
TTL_SLOW = 900  # reference data (sites, areas), long histories


# -- engine -----------------------------------------------------------------------------
_embedded_urls: dict[str, str] = {}


def _database_url() -> str:
    """QHSE_DATABASE_URL, or the embedded server's URL (started once per process)."""
    from qhse.settings import get_settings

    s = get_settings()
    if s.database_url:
        return s.database_url
    key = str(s.data_path)
    if key not in _embedded_urls:
        from db.engine import resolve_database_url

        _embedded_urls[key] = resolve_database_url(s)
    return _embedded_urls[key]


@st.cache_resource(show_spinner=False)
def _engine_for(url: str):
    from db.engine import create_engine_for

    return create_engine_for(url, pool_size=8, max_overflow=8)


def database_url() -> str:
    return _database_url()


def engine():
    return _engine_for(database_url())


# -- cached queries ---------------------------------------------------------------------
def _resolve(path: str) -> Callable:
    mod, _, name = path.rpartition(".")
    return getattr(importlib.import_module(mod), name)


def _name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@st.cache_data(ttl=TTL_LIVE, show_spinner=False, max_entries=2000)
def _q_live(fn_path: str, url: str, args: tuple, kwargs: tuple):
    return _resolve(fn_path)(_engine_for(url), *args, **dict(kwargs))


@st.cache_data(ttl=TTL_STANDARD, show_spinner=False, max_entries=2000)
def _q_standard(fn_path: str, url: str, args: tuple, kwargs: tuple):
    return _resolve(fn_path)(_engine_for(url), *args, **dict(kwargs))


@st.cache_data(ttl=TTL_SLOW, show_spinner=False, max_entries=2000)
def _q_slow(fn_path: str, url: str, args: tuple, kwargs: tuple):
    return _resolve(fn_path)(_engine_for(url), *args, **dict(kwargs))


_CACHES = {"live": _q_live, "standard": _q_standard, "slow": _q_slow}


def fetch(fn: Callable, *args, ttl: str = "standard", **kwargs):
    """Run a ``db.queries`` read ``fn(engine, *args, **kwargs)`` through the cache.

    ``ttl``: "live" (5 s), "standard" (2 min) or "slow" (15 min).  Writes call
    :func:`invalidate` so the user sees their own change at once.
    """
    return _CACHES[ttl](_name(fn), database_url(), args, tuple(sorted(kwargs.items())))


def call(fn: Callable, *args, **kwargs):
    """Run a write (or an uncached read, e.g. of sensitive data, which must be audited every time)."""
    return fn(engine(), *args, **kwargs)


def invalidate(*which: str) -> None:
    for w in which or ("live", "standard"):
        _CACHES[w].clear()


# -- user text -----------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&\"'])")
WJ = "\u2060"  # WORD JOINER: invisible, no line break
_AUTOLINK = re.compile(r"\b(https?|ftps?|mailto|xmpp)(:)|\b(www)(\.)|(\w)(@)", re.IGNORECASE)


def plain(value) -> str:
    """User-entered text (titles, notes, names, steps...) made inert for Markdown-rendering calls
    (``st.markdown``, ``st.caption``, ``st.info``, headers, labels): every Markdown/HTML punctuation
    character is backslash-escaped and line breaks become spaces, so ``![x](http://...)``,
    ``[link](...)``, bare URLs, ``:red[...]`` or ``$...$`` show as the characters typed, never as an
    image, a link or formatting."""
    if value is None:
        return ""
    text = " ".join(str(value).split()).replace(WJ, "")
    # The renderer turns bare URLs and e-mail addresses into links whatever the escaping (GFM autolink
    # literals are found in the text after parsing), so an invisible word joiner breaks those patterns.
    text = _AUTOLINK.sub(lambda m: WJ.join(g for g in m.groups() if g is not None), text)
    return _MD_SPECIAL.sub(r"\\\1", text)


# -- locale ------------------------------------------------------------------------------
def locale() -> str:
    return st.session_state.get(K_LOCALE, i18n.DEFAULT)


def t(key: str, **kw) -> str:
    return i18n.lookup(locale(), key, **kw)


# -- user and scope ------------------------------------------------------------------------
@st.cache_data(ttl=10, show_spinner=False)
def _load_user(url: str, user_id: int):
    from db.queries.users import get_by_id

    return get_by_id(_engine_for(url), user_id)


def client_of(host: str | None) -> str:
    """The client key for throttling and for binding a sign-in code (local connections: 'local')."""
    return "local" if host in (None, "", "127.0.0.1", "::1", "localhost") else str(host)[:100]


def client_key() -> str:
    try:
        return client_of(st.context.ip_address)
    except Exception:  # noqa: BLE001  (no browser connection: a script run on its own)
        return "local"


def safe_next(value: str | None) -> str:
    """A local path (with its query) to return to after sign-in; anything pointing elsewhere becomes '/'."""
    from urllib.parse import urlsplit

    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 32 for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def query_locale() -> str | None:
    lang = st.query_params.get("lang")
    return lang if lang in i18n.LOCALES else None


def _restore_from_cookie():
    """Sign in from the session cookie (a browser refresh, a new tab, a deep link)."""
    from qhse.services.auth import SESSION_COOKIE, session_from_token

    try:
        token = st.context.cookies.get(SESSION_COOKIE)
    except Exception:  # noqa: BLE001  (no browser connection)
        token = None
    if not isinstance(token, str) or not token:
        return None
    hit = session_from_token(engine(), token)
    if hit is None:
        return None
    sid, user = hit
    st.session_state[K_USER] = user.id
    st.session_state[K_SESSION] = sid
    st.session_state[K_LOCALE] = query_locale() or user.locale
    return user


def current_user():
    uid = st.session_state.get(K_USER)
    if uid is None:
        return _restore_from_cookie()
    sid = st.session_state.get(K_SESSION)
    if sid is not None:
        from qhse.services.auth import session_alive

        if not session_alive(engine(), int(sid)):  # revoked (sign-out elsewhere, password change), idle, expired
            sign_out(reason="expired")
            return None
    user = _load_user(database_url(), int(uid))
    if user is None or not user.active:
        sign_out()
        return None
    return user


def current_scope() -> Scope | None:
    from qhse.services.access import scope_for_user

    user = current_user()
    return scope_for_user(user) if user else None


def sign_in(user, session_id: int | None = None) -> None:
    st.session_state[K_USER] = user.id
    if session_id is not None:
        st.session_state[K_SESSION] = session_id
    st.session_state[K_LOCALE] = query_locale() or user.locale
    _load_user.clear()


def sign_out(reason: str = "sign_out") -> None:
    """Forget the user in this browser session and revoke its server-side session."""
    sid = st.session_state.get(K_SESSION)
    if sid is not None:
        from qhse.services.auth import end_session

        end_session(engine(), session_id=int(sid), reason=reason)
    for k in list(st.session_state.keys()):
        del st.session_state[k]


def redirect_next_run(url: str) -> None:
    st.session_state[K_REDIRECT] = url


def flush_redirect() -> None:
    """Send the browser to the pending cookie route, if any (the mechanism ``st.login`` uses)."""
    url = st.session_state.pop(K_REDIRECT, None)
    if not url:
        return
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    msg = ForwardMsg()
    msg.auth_redirect.url = url
    ctx.enqueue(msg)


# -- filters -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """The shared selection: sites and areas (None: all in scope), a period of whole months
    (in the reporting time zone) and the period of the same length just before it."""

    site_ids: tuple[int, ...] | None
    area_ids: tuple[int, ...] | None
    period: str
    start_month: dt.date  # first day of the first month
    end_month: dt.date  # first day of the month after the last one (exclusive)
    prev_start_month: dt.date
    start: dt.datetime  # = start_month at local midnight, UTC
    end: dt.datetime  # exclusive, UTC
    prev_start: dt.datetime
    prev_end: dt.datetime  # = start
    last_complete_month: dt.date | None = None  # the latest month with a full month of data
    partial_until: dt.datetime | None = None  # local time the data stops at, when the last month is not complete
    data_until: dt.datetime | None = None  # local time the data stops at (now, or earlier for a snapshot)

    def month_is_partial(self, month: dt.date) -> bool:
        """Whether ``month`` (its first day) has not ended in the data: figures of it are of part of a month."""
        return self.last_complete_month is not None and month.replace(day=1) > self.last_complete_month

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    @property
    def months(self) -> int:
        return (self.end_month.year - self.start_month.year) * 12 + self.end_month.month - self.start_month.month


def add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


def period_bounds(period: str, last_month: dt.date, tz: ZoneInfo) -> dict:
    """The months of ``period`` ending with ``last_month`` (inclusive) and the same number before."""
    last_month = last_month.replace(day=1)
    if period == "ytd":
        n = last_month.month
    else:
        n = int(period.rstrip("m"))
    start_m = add_months(last_month, -(n - 1))
    end_m = add_months(last_month, 1)
    prev_m = add_months(start_m, -n)

    def utc(d: dt.date) -> dt.datetime:
        return dt.datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(dt.UTC)

    return dict(start_month=start_m, end_month=end_m, prev_start_month=prev_m, start=utc(start_m), end=utc(end_m),
                prev_start=utc(prev_m), prev_end=utc(start_m))


def _persist(widget_key: str, perm_key: str) -> None:
    st.session_state[perm_key] = st.session_state[widget_key]


def report_tz() -> ZoneInfo:
    from qhse.settings import get_settings

    return get_settings().tz


def now_local() -> dt.datetime:
    """Now in the reporting time zone (the one clock of the filters)."""
    return dt.datetime.now(report_tz())


def data_cutoff(scope: Scope) -> tuple[dt.datetime, dt.date]:
    """(local time up to which there is data, the last complete month). The data runs up to now, or
    stops earlier (a demo snapshot); data stopping within half a day of a month's end completes it."""
    from db.queries.org import data_horizon

    now = now_local()
    horizon = fetch(data_horizon, scope, ttl="standard")
    if horizon is None:
        return now, add_months(now.date().replace(day=1), -1)
    horizon = horizon.astimezone(now.tzinfo)
    complete_to = min(now, horizon + dt.timedelta(hours=12))
    return min(now, horizon), add_months(complete_to.date().replace(day=1), -1)


def default_last_month(scope: Scope) -> dt.date:
    """The last complete month: the month before the one the data (or today) is in."""
    return data_cutoff(scope)[1]


def render_filters(scope: Scope, show: bool = True) -> Filters:
    """Sidebar widgets for site / area / period; values persist across pages in session_state."""
    from db.queries.org import areas, sites

    site_df = fetch(sites, scope, ttl="slow")
    ss = st.session_state
    ss.setdefault(K_SITES, [])
    ss.setdefault(K_AREAS, [])
    ss.setdefault(K_PERIOD, DEFAULT_PERIOD)
    cutoff, latest = data_cutoff(scope)  # latest: the last complete month
    if K_END not in ss:
        ss[K_END] = latest
    site_codes = dict(zip(site_df["id"].tolist(), site_df["code"].tolist(), strict=False))
    ss[K_SITES] = [s for s in ss[K_SITES] if s in site_codes]
    if show:
        with st.sidebar:
            st.markdown(f"**{t('filters')}**")
            ss["w.sites"] = ss[K_SITES]
            st.multiselect(t("filter.sites"), options=list(site_codes), format_func=lambda i: site_codes.get(i, str(i)),
                           key="w.sites", placeholder=t("filter.all"), on_change=_persist, args=("w.sites", K_SITES))
    chosen_sites = tuple(ss[K_SITES]) or None
    area_df = fetch(areas, scope, chosen_sites, ttl="slow")
    area_labels = {int(r.id): f"{r.site_code} · {r.name}" for r in area_df.itertuples()}
    ss[K_AREAS] = [a for a in ss[K_AREAS] if a in area_labels]
    if show:
        # Up to the last complete month, and the month in progress (marked) for a look at it.
        months = sorted({add_months(latest, -k) for k in range(-1, 24)} | {ss[K_END]}, reverse=True)
        with st.sidebar:
            ss["w.areas"] = ss[K_AREAS]
            st.multiselect(t("filter.areas"), options=list(area_labels),
                           format_func=lambda i: area_labels.get(i, str(i)),
                           key="w.areas", placeholder=t("filter.all"), on_change=_persist, args=("w.areas", K_AREAS))
            loc = locale()
            ss["w.period"] = ss[K_PERIOD]
            st.selectbox(t("filter.period"), PERIODS, format_func=lambda p: i18n.lookup(loc, f"period.{p}"),
                         key="w.period", on_change=_persist, args=("w.period", K_PERIOD))
            ss["w.end"] = ss[K_END]
            st.selectbox(t("filter.end"), months, key="w.end", on_change=_persist, args=("w.end", K_END),
                         format_func=lambda m: i18n.lookup(loc, "period.month_to_date",
                                                           month=i18n.format_month(loc, m))
                         if m > latest else i18n.format_month(loc, m))
    b = period_bounds(ss[K_PERIOD], ss[K_END], report_tz())
    partial = cutoff if ss[K_END] > latest else None
    return Filters(site_ids=chosen_sites, area_ids=tuple(ss[K_AREAS]) or None, period=ss[K_PERIOD], **b,
                   last_complete_month=latest, partial_until=partial, data_until=cutoff)


# -- page context --------------------------------------------------------------------------
@dataclass(frozen=True)
class PageContext:
    user: object
    scope: Scope
    filters: Filters
    locale: str
    page: object = None  # the dashboard.pages.PageSpec being run (app.py draws its title)

    def can(self, permission: str) -> bool:
        """May the signed-in user do ``permission`` (a ``qhse.domain.access`` permission)? The access
        policy decides; pages never test role names."""
        from qhse.domain import access

        return access.can(self.scope, permission)

    def t(self, key: str, **kw) -> str:
        return i18n.lookup(self.locale, key, **kw)

    def label(self, vocabulary: str, value, default: str | None = None) -> str:
        return i18n.label(self.locale, vocabulary, value, default)

    def num(self, x, digits: int = 0, compact: bool = False) -> str:
        return i18n.format_number(self.locale, x, digits, compact)

    def pct(self, x, digits: int = 1) -> str:
        return i18n.format_percent(self.locale, x, digits)

    def date(self, d) -> str:
        return i18n.format_date(self.locale, d)

    def datetime(self, t) -> str:
        return i18n.format_datetime(self.locale, t, report_tz())

    def duration_h(self, h) -> str:
        return i18n.format_duration_h(self.locale, h)

    def month(self, m) -> str:
        return i18n.format_month(self.locale, m)

    def period_caption(self) -> str:
        """The period and the one it is compared with; whether it ends with the last complete month, or
        with a month not complete yet (its figures then compare part of a month with full ones)."""
        f = self.filters
        text = self.t("period.range", start=self.month(f.start_month), end=self.month(add_months(f.end_month, -1)),
                      pstart=self.month(f.prev_start_month), pend=self.month(add_months(f.start_month, -1)))
        last = add_months(f.end_month, -1)
        note = self.partial_note(last, default=self.t("period.last_complete") if last == f.last_complete_month else "")
        return text + (" · " + note if note else "")

    def partial_note(self, month: dt.date, default: str = "") -> str:
        """The marking of figures of ``month`` when it is not complete; ``default`` otherwise."""
        f = self.filters
        if not f.month_is_partial(month):
            return default
        until = f.data_until or now_local()
        return self.t("period.partial", month=self.month(month), date=self.datetime(until))

    def vs_last_month(self, month: dt.date) -> str:
        """The "vs last month" heading, marked when ``month`` is not complete."""
        label = self.t("vs_last_month")
        return f"{label} ◐ {self.t('period.partial_short')}" if self.filters.month_is_partial(month) else label


def page_context() -> PageContext:
    """The context prepared by ``app.py`` for the page being run."""
    ctx = st.session_state.get("_ctx")
    if ctx is None:  # a page run on its own (not through app.py)
        st.error(t("denied", role="-"))
        st.stop()
    return ctx
