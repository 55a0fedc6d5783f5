"""English and Simplified Chinese: UI strings, numbers and dates per locale.

``t("key")`` looks a string up in the current locale (``st.session_state["locale"]``,
set from the user's account and switchable in the sidebar).  Pages added later may
either add keys to ``STRINGS`` or pass both languages inline: ``tr("Open", "未关闭")``.
Numbers and dates go through ``num`` / ``pct`` / ``date`` / ``datetime`` so they read
naturally in both languages (Chinese dates as 2026年11月1日, large counts as 1.2万).
"""

from __future__ import annotations

import datetime as dt
import math

LOCALES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"

STRINGS: dict[str, tuple[str, str]] = {
    # app and login
    "app.title": ("QHSE Platform", "QHSE 安全平台"),
    "login.title": ("Sign in", "登录"),
    "login.username": ("Username", "用户名"),
    "login.password": ("Password", "密码"),
    "login.submit": ("Sign in", "登录"),
    "login.failed": ("Wrong username or password.", "用户名或密码错误。"),
    "login.disabled": ("This account is disabled.", "该账户已停用。"),
    "login.throttled": ("Too many failed sign-ins. Try again in {s} s.", "登录失败次数过多，请 {s} 秒后再试。"),
    "login.hint": ("Ask your administrator for an account (`qhse user add`).", "请联系管理员开通账户（`qhse user add`）。"),
    "logout": ("Sign out", "退出登录"),
    "language": ("Language", "语言"),
    "signed_in_as": ("Signed in as {name} ({role})", "当前用户：{name}（{role}）"),
    "denied": ("Your role ({role}) may not open this page.", "您的角色（{role}）无权访问此页面。"),
    "no_sites": ("No site is in your scope; ask an administrator.", "您的权限范围内没有工厂，请联系管理员。"),
    "no_data": ("No data for this selection.", "当前筛选条件下没有数据。"),
    # sections
    "section.overview": ("Overview", "概览"),
    "section.operations": ("Operations", "运行监控"),
    "section.safety": ("Safety loop", "隐患闭环"),
    "section.analytics": ("Analytics", "分析评估"),
    "section.people": ("People and contractors", "人员与承包商"),
    "section.data_science": ("Data science", "数据科学"),
    "section.admin": ("Administration", "系统管理"),
    # filters
    "filters": ("Filters", "筛选"),
    "filter.sites": ("Sites", "工厂"),
    "filter.areas": ("Areas", "区域"),
    "filter.period": ("Period", "时间段"),
    "filter.end": ("Up to and including", "截止月份"),
    "filter.all": ("All", "全部"),
    "period.1m": ("1 month", "1 个月"),
    "period.3m": ("3 months", "3 个月"),
    "period.6m": ("6 months", "6 个月"),
    "period.12m": ("12 months", "12 个月"),
    "period.ytd": ("Year to date", "本年至今"),
    "period.range": ("{start} – {end}, compared with {pstart} – {pend}", "{start} 至 {end}，对比 {pstart} 至 {pend}"),
    # roles
    "role.admin": ("Administrator", "系统管理员"),
    "role.group_manager": ("Group manager", "集团管理者"),
    "role.plant_manager": ("Plant / HSE manager", "工厂 / EHS 经理"),
    "role.plant_head": ("Plant head", "厂长"),
    "role.data_scientist": ("Data scientist", "数据科学家"),
    "role.security": ("Security", "安保人员"),
    "role.inspector": ("Inspector", "安全检查员"),
    "role.worker": ("Worker", "一线员工"),
    # common words
    "site": ("Site", "工厂"),
    "area": ("Area", "区域"),
    "asset": ("Asset", "设备"),
    "sensor": ("Sensor", "传感器"),
    "severity": ("Severity", "严重程度"),
    "status": ("Status", "状态"),
    "time": ("Time", "时间"),
    "value": ("Value", "数值"),
    "count": ("Count", "数量"),
    "vs_prev": ("vs previous period", "较上一周期"),
    "not_available": ("n/a", "不适用"),
    "refresh": ("Refresh", "刷新"),
    "save": ("Save", "保存"),
    "saved": ("Saved.", "已保存。"),
}


def _missing(x) -> bool:
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN, NaT
    except (TypeError, ValueError):
        return False


def tr_for(locale: str, en: str, zh: str) -> str:
    return zh if locale == "zh" else en


def lookup(locale: str, key: str, **kw) -> str:
    pair = STRINGS.get(key)
    text = key if pair is None else (pair[1] if locale == "zh" else pair[0])
    return text.format(**kw) if kw else text


# -- numbers and dates ------------------------------------------------------------------
def format_number(locale: str, x, digits: int = 0, compact: bool = False) -> str:
    if _missing(x) or (isinstance(x, float) and math.isinf(x)):
        return lookup(locale, "not_available")
    x = float(x)
    if compact and locale == "zh" and abs(x) >= 10_000:
        if abs(x) >= 100_000_000:
            return f"{x / 100_000_000:,.1f}亿"
        return f"{x / 10_000:,.1f}万"
    if compact and locale != "zh" and abs(x) >= 1_000_000:
        return f"{x / 1_000_000:,.1f}M"
    return f"{x:,.{digits}f}"


def format_percent(locale: str, x, digits: int = 1) -> str:
    """``x`` as a fraction (0.953 -> 95.3 %)."""
    if _missing(x) or (isinstance(x, float) and math.isinf(x)):
        return lookup(locale, "not_available")
    return f"{float(x) * 100:.{digits}f}%" if locale == "zh" else f"{float(x) * 100:.{digits}f} %"


def format_date(locale: str, d) -> str:
    if _missing(d):
        return ""
    if isinstance(d, dt.datetime):
        d = d.date()
    if locale == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return d.strftime("%d %b %Y").lstrip("0")


def format_month(locale: str, d) -> str:
    if _missing(d):
        return ""
    if locale == "zh":
        return f"{d.year}年{d.month}月"
    return d.strftime("%b %Y")


def format_datetime(locale: str, t, tz=None) -> str:
    if _missing(t):
        return ""
    if tz is not None and getattr(t, "tzinfo", None) is not None:
        t = t.astimezone(tz)
    if locale == "zh":
        return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
    return t.strftime("%d %b %Y %H:%M").lstrip("0")


def format_duration_h(locale: str, hours) -> str:
    if _missing(hours):
        return lookup(locale, "not_available")
    h = float(hours)
    neg = h < 0
    h = abs(h)
    if h >= 48:
        s = f"{h / 24:.1f} 天" if locale == "zh" else f"{h / 24:.1f} d"
    elif h >= 1:
        s = f"{h:.1f} 小时" if locale == "zh" else f"{h:.1f} h"
    else:
        s = f"{h * 60:.0f} 分钟" if locale == "zh" else f"{h * 60:.0f} min"
    return "-" + s if neg else s
