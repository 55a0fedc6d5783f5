"""Emergency response reads: the inputs of a response plan, and emergencies for the pages.

The plan inputs (``area_context`` .. ``notify_contacts``) take an open connection so a
plan is built in a handful of indexed queries; the page queries take the caller's
:class:`~qhse.domain.access.Scope` and return DataFrames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from db.models import Emergency, EmergencyEvent, EmergencyReview, PlanTemplate
from qhse.domain.access import Scope

from .scope import site_filter


def _rows(conn, sql: str, **params) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.text(sql), params).mappings().all()]


# --------------------------------------------------------------------------- plan inputs
def area_context(conn, area_id: int) -> dict | None:
    rows = _rows(conn, """
        SELECT a.id, a.code, a.name, a.kind, a.risk_class, a.is_gas_area, a.x_m, a.y_m, a.evacuation_route,
               a.assembly_point, a.owner_person_id, a.site_id, s.code AS site_code, s.name AS site_name
        FROM area a JOIN site s ON s.id = a.site_id WHERE a.id = :area""", area=area_id)
    return rows[0] if rows else None


def effective_template(conn, kind: str, site_id: int) -> dict | None:
    """The site's latest active template for ``kind``, else the group's."""
    rows = _rows(conn, """
        SELECT id, kind, site_id, version, title, steps, resource_kinds, notify_roles, external_contacts, lessons
        FROM plan_template
        WHERE kind = :kind AND active AND (site_id = :site OR site_id IS NULL)
        ORDER BY (site_id IS NULL), version DESC LIMIT 1""", kind=kind, site=site_id)
    return rows[0] if rows else None


def materials_in_area(conn, area_id: int) -> list[dict]:
    return _rows(conn, """
        SELECT id, name, cas_no, hazard_class, quantity, unit, max_quantity
        FROM hazardous_material WHERE area_id = :area ORDER BY hazard_class, name, id""", area=area_id)


def nearest_resources(conn, site_id: int, x_m: float, y_m: float, kinds: Sequence[str],
                      per_kind: int = 3) -> list[dict]:
    """Per kind, the ``per_kind`` stocked resources closest to (x, y) on the site plan."""
    if not kinds:
        return []
    return _rows(conn, """
        SELECT id, kind, quantity, location, area_id, area_code, area_name, distance_m, last_checked_on
        FROM (SELECT r.id, r.kind, r.quantity, r.location, r.area_id, a.code AS area_code, a.name AS area_name,
                     r.last_checked_on,
                     round(CAST(sqrt(power(a.x_m - :x, 2) + power(a.y_m - :y, 2)) AS numeric), 1) AS distance_m,
                     row_number() OVER (PARTITION BY r.kind
                                        ORDER BY sqrt(power(a.x_m - :x, 2) + power(a.y_m - :y, 2)) NULLS LAST,
                                                 r.quantity DESC, r.id) AS rank
              FROM emergency_resource r LEFT JOIN area a ON a.id = r.area_id
              WHERE r.site_id = :site AND r.quantity > 0 AND r.kind = ANY(:kinds)) ranked
        WHERE rank <= :n
        ORDER BY array_position(CAST(:kinds AS text[]), kind), distance_m NULLS LAST, id""",
                 site=site_id, x=float(x_m), y=float(y_m), kinds=list(kinds), n=per_kind)


def people_in_area(conn, area_id: int, at: dt.datetime) -> list[dict]:
    """Everyone recorded inside the area at ``at`` (open access records), contractors with their company."""
    return _rows(conn, """
        SELECT DISTINCT ON (p.id) p.id AS person_id, p.employee_no, p.name, p.kind, p.phone,
               c.name AS company, ar.job_id, j.supervisor_person_id, ar.entered_at, ar.id AS access_record_id
        FROM access_record ar
        JOIN person p ON p.id = ar.person_id
        LEFT JOIN contractor_company c ON c.id = p.contractor_company_id
        LEFT JOIN contractor_job j ON j.id = ar.job_id
        WHERE ar.area_id = :area AND ar.entered_at <= :at AND (ar.exited_at IS NULL OR ar.exited_at > :at)
        ORDER BY p.id, ar.entered_at DESC""", area=area_id, at=at)


def notify_contacts(conn, site_id: int, owner_person_id: int | None, supervisor_ids: Sequence[int]) -> list[dict]:
    """Who to notify: the area owner, plant managers and security for the site, contractors' supervisors."""
    return _rows(conn, """
        SELECT 'area_owner' AS role, p.id AS person_id, p.name, p.phone, p.email, NULL AS username
        FROM person p WHERE p.id = :owner
        UNION ALL
        SELECT u.role, p.id, coalesce(p.name, u.display_name), p.phone, p.email, u.username
        FROM user_account u LEFT JOIN person p ON p.id = u.person_id
        WHERE u.active AND u.role IN ('plant_manager', 'security')
          AND (u.all_sites OR EXISTS (SELECT 1 FROM user_site_scope us WHERE us.user_id = u.id AND us.site_id = :site))
        UNION ALL
        SELECT 'contractor_supervisor', p.id, p.name, p.phone, p.email, NULL
        FROM person p WHERE p.id = ANY(:sups)
        ORDER BY 1, 3""", site=site_id, owner=owner_person_id, sups=sorted(set(supervisor_ids)))


def active_emergency(conn, area_id: int, kind: str) -> dict | None:
    rows = _rows(conn, """SELECT id, declared_at FROM emergency
                          WHERE area_id = :area AND kind = :kind AND status = 'active' ORDER BY id LIMIT 1""",
                 area=area_id, kind=kind)
    return rows[0] if rows else None


# ---------------------------------------------------------------------------- page reads
def emergencies(engine: sa.Engine, scope: Scope, status: str | None = None, limit: int = 200) -> pd.DataFrame:
    q = sa.text(f"""
        SELECT e.id, s.code AS site, a.code AS area_code, a.name AS area, e.kind, e.status, e.declared_at,
               e.declared_by, e.closed_at, e.plan_ms,
               jsonb_array_length(e.plan -> 'people') AS people_inside,
               jsonb_array_length(e.plan -> 'materials') AS materials,
               (SELECT count(*) FROM emergency_event ev WHERE ev.emergency_id = e.id) AS events
        FROM emergency e JOIN site s ON s.id = e.site_id JOIN area a ON a.id = e.area_id
        WHERE {'e.site_id = ANY(:sites)' if scope.site_ids is not None else 'TRUE'}
          AND (CAST(:status AS text) IS NULL OR e.status = :status)
        ORDER BY e.declared_at DESC, e.id DESC LIMIT :limit""")
    with engine.connect() as conn:
        rows = conn.execute(q, {"sites": list(scope.site_ids or []), "status": status, "limit": limit}).mappings().all()
    return pd.DataFrame(rows, columns=["id", "site", "area_code", "area", "kind", "status", "declared_at",
                                       "declared_by", "closed_at", "plan_ms", "people_inside", "materials", "events"])


def emergency_detail(engine: sa.Engine, scope: Scope, emergency_id: int) -> dict | None:
    """The emergency with its stored plan, timeline and review (None outside the scope)."""
    e, ev, rv = Emergency.__table__, EmergencyEvent.__table__, EmergencyReview.__table__
    with engine.connect() as conn:
        row = conn.execute(sa.select(e).where(e.c.id == emergency_id, site_filter(scope, e.c.site_id)))\
            .mappings().first()
        if row is None:
            return None
        events = conn.execute(sa.select(ev).where(ev.c.emergency_id == emergency_id)
                              .order_by(ev.c.at, ev.c.id)).mappings().all()
        review = conn.execute(sa.select(rv).where(rv.c.emergency_id == emergency_id)).mappings().first()
    return {"emergency": dict(row), "timeline": [dict(x) for x in events], "review": dict(review) if review else None}


def plan_templates(engine: sa.Engine, scope: Scope) -> pd.DataFrame:
    """Templates the scope may see: group-wide ones and those of its sites."""
    t = PlanTemplate.__table__
    ids = scope.sites()
    cond = sa.true() if ids is None else sa.or_(t.c.site_id.is_(None), t.c.site_id.in_(ids or [-1]))
    q = (sa.select(t.c.id, t.c.kind, t.c.site_id, t.c.version, t.c.title, t.c.active, t.c.created_by, t.c.created_at,
                   sa.func.jsonb_array_length(t.c.steps).label("steps"),
                   sa.func.jsonb_array_length(t.c.lessons).label("lessons"))
         .where(cond).order_by(t.c.kind, t.c.site_id.nulls_first(), t.c.version))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["id", "kind", "site_id", "version", "title", "active", "created_by", "created_at",
                                     "steps", "lessons"])


def site_resources(engine: sa.Engine, scope: Scope, site_id: int) -> pd.DataFrame:
    """The emergency resources register of one site (for recording resources used)."""
    if not scope.allows_site(site_id):
        return pd.DataFrame(columns=["id", "kind", "quantity", "location", "area"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT r.id, r.kind, r.quantity, r.location, a.code AS area
            FROM emergency_resource r LEFT JOIN area a ON a.id = r.area_id
            WHERE r.site_id = :site ORDER BY r.kind, a.code, r.id"""), {"site": site_id}).mappings().all()
    return pd.DataFrame(rows, columns=["id", "kind", "quantity", "location", "area"])
