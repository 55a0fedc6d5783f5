"""The page registry: every dashboard page, its section, title, icon and permission.

To add a page:

1. write ``dashboard/app_pages/<name>.py``: a plain Streamlit script that gets its
   context with ``ctx = core.page_context()`` (user scope, filters, locale, helpers),
   reads data only through ``core.fetch(db.queries.<module>.<function>, ctx.scope, ...)``
   (cached, scope applied in the query layer) and draws; no SQL, no business rules, no role
   names (``ctx.can(permission)`` asks the access policy), text from the catalog in
   ``dashboard/i18n.py`` (``ctx.t(key)``); its title is the one below (``app.py`` draws it);
2. add a ``PageSpec`` line to ``PAGES`` below (section, file, English and Chinese title,
   Material icon, the permission from ``qhse.domain.access`` that opens it, ``filters=True`` if
   it uses the shared site / area / period filters);
3. add an AppTest in ``tests/dashboard/`` (see ``tests/dashboard/test_pages.py``).

A page is registered only once it shows real data.  ``dashboard/app.py`` builds the
navigation from this list, showing each user only the pages their role may open and
refusing the others centrally before the page runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from qhse.domain import access as A


@dataclass(frozen=True)
class PageSpec:
    key: str  # unique; also the URL path
    section: str  # key of SECTIONS
    file: str  # relative to dashboard/
    title_en: str
    title_zh: str
    icon: str
    permission: str
    filters: bool = True  # shows the shared site / area / period filters
    default: bool = False

    def title(self, locale: str) -> str:
        return self.title_zh if locale == "zh" else self.title_en


# Section order in the navigation.
SECTIONS = ("overview", "operations", "safety", "analytics", "people", "data_science", "admin")

PAGES: list[PageSpec] = [
    PageSpec("overview", "overview", "app_pages/overview.py", "Overview", "概览", ":material/dashboard:",
             A.VIEW_OVERVIEW),
    PageSpec("risk", "overview", "app_pages/risk.py", "Risk heatmap", "风险热力图", ":material/grid_on:", A.VIEW_RISK),
    PageSpec("alarms", "operations", "app_pages/alarms.py", "Live alarms", "实时报警",
             ":material/notifications_active:", A.VIEW_ALARMS),
    PageSpec("equipment", "operations", "app_pages/equipment.py", "Equipment health", "设备健康",
             ":material/precision_manufacturing:", A.VIEW_EQUIPMENT),
    PageSpec("vision", "operations", "app_pages/vision.py", "PPE review", "PPE 违规审核", ":material/videocam:",
             A.VIEW_VISION),
    PageSpec("hazards", "safety", "app_pages/hazards.py", "Hazards and actions", "隐患与整改", ":material/report:",
             A.REPORT_HAZARD),
    PageSpec("scorecards", "analytics", "app_pages/scorecards.py", "Scorecards", "安全考核", ":material/fact_check:",
             A.VIEW_KPIS),
    PageSpec("site_comparison", "analytics", "app_pages/site_comparison.py", "Site comparison", "工厂对标",
             ":material/leaderboard:", A.VIEW_KPIS),
    PageSpec("resources", "analytics", "app_pages/resources.py", "Emergency resources", "应急资源配置",
             ":material/medical_services:", A.VIEW_KPIS),
    PageSpec("emergency", "safety", "app_pages/emergency.py", "Emergency response", "应急响应", ":material/emergency:",
             A.MANAGE_EMERGENCY, filters=False),
    PageSpec("ledgers", "safety", "app_pages/ledgers.py", "Compliance ledgers", "合规台账", ":material/receipt_long:",
             A.VIEW_LEDGERS),
    PageSpec("contractors", "people", "app_pages/contractors.py", "Contractors and training", "承包商与培训",
             ":material/engineering:", A.VIEW_CONTRACTORS),
    PageSpec("people", "people", "app_pages/people.py", "People and training", "人员与培训", ":material/badge:",
             A.VIEW_PEOPLE),
    PageSpec("models", "data_science", "app_pages/models.py", "Failure models", "故障预测模型",
             ":material/model_training:", A.VIEW_MODELS, filters=False),
    PageSpec("admin", "admin", "app_pages/admin.py", "Users and audit", "用户与审计", ":material/admin_panel_settings:",
             A.MANAGE_USERS, filters=False),
    PageSpec("plant_setup", "admin", "app_pages/plant_setup.py", "Plant set-up", "工厂配置", ":material/factory:",
             A.MANAGE_PLANT, filters=False),
]


def by_key(key: str) -> PageSpec:
    for p in PAGES:
        if p.key == key:
            return p
    raise KeyError(key)


def allowed_pages(role_or_scope) -> list[PageSpec]:
    """The pages a role (or a caller's Scope) may open, in registry order."""
    return [p for p in PAGES if A.can(role_or_scope, p.permission)]
