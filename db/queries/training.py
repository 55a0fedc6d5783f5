"""Training reads: due-soon lists per department and the no-entry warnings of training gating."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from qhse.domain.access import Scope

DUE_COLUMNS = ["site", "department", "employee_no", "person", "kind", "course_code", "course", "expires_on",
               "days_left", "status", "record_id"]


def due_soon(engine: sa.Engine, scope: Scope, *, on: dt.date, days: int = 30, site_ids=None,
             include_expired: bool = True) -> pd.DataFrame:
    """Per active person and course, the latest passed training that expires within ``days`` of ``on``
    (and, with ``include_expired``, the ones already expired).  Contractors' workers are listed
    under their company."""
    ids = scope.sites(site_ids)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            WITH latest AS (
                SELECT DISTINCT ON (tr.person_id, tr.course_id) tr.id, tr.person_id, tr.course_id, tr.expires_on
                FROM training_record tr
                WHERE tr.passed AND tr.completed_on <= :on
                ORDER BY tr.person_id, tr.course_id, tr.expires_on DESC NULLS FIRST, tr.id DESC)
            SELECT s.code AS site, coalesce(d.name, c.name || ' (contractor)', 'no department') AS department,
                   p.employee_no, p.name AS person, p.kind, tc.code AS course_code, tc.name AS course, l.expires_on,
                   (l.expires_on - CAST(:on AS date)) AS days_left,
                   CASE WHEN l.expires_on < :on THEN 'expired' ELSE 'due soon' END AS status, l.id AS record_id
            FROM latest l
            JOIN person p ON p.id = l.person_id AND p.active
            JOIN site s ON s.id = p.site_id
            JOIN training_course tc ON tc.id = l.course_id
            LEFT JOIN department d ON d.id = p.department_id
            LEFT JOIN contractor_company c ON c.id = p.contractor_company_id
            WHERE l.expires_on IS NOT NULL
              AND l.expires_on <= CAST(:on AS date) + CAST(:days AS int)
              AND (:expired OR l.expires_on >= :on)
              AND (:all_sites OR p.site_id = ANY(:sites))
            ORDER BY s.code, department, l.expires_on, p.employee_no, tc.code"""),
            {"on": on, "days": int(days), "expired": include_expired, "all_sites": ids is None,
             "sites": list(ids or [])}).mappings().all()
    return pd.DataFrame(rows, columns=DUE_COLUMNS)


def due_soon_by_department(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts per site and department from :func:`due_soon`'s frame."""
    if frame.empty:
        return pd.DataFrame(columns=["site", "department", "due_soon", "expired", "people"])
    g = frame.groupby(["site", "department"])
    out = pd.DataFrame({
        "due_soon": g["status"].apply(lambda s: int((s == "due soon").sum())),
        "expired": g["status"].apply(lambda s: int((s == "expired").sum())),
        "people": g["employee_no"].nunique(),
    }).reset_index()
    return out.sort_values(["site", "department"]).reset_index(drop=True)


def entry_warnings(engine: sa.Engine, scope: Scope, *, open_only: bool = True, site_ids=None,
                   limit: int = 500) -> pd.DataFrame:
    ids = scope.sites(site_ids)
    cols = ["id", "site", "area", "person", "employee_no", "rule", "message", "raised_at", "alarm_id",
            "notified", "resolved_at", "resolution"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT w.id, s.code AS site, a.code AS area, p.name AS person, p.employee_no, g.code AS rule, w.message,
                   w.raised_at, w.alarm_id, o.name AS notified, w.resolved_at, w.resolution
            FROM entry_warning w
            JOIN site s ON s.id = w.site_id JOIN area a ON a.id = w.area_id
            JOIN person p ON p.id = w.person_id JOIN gating_rule g ON g.id = w.rule_id
            LEFT JOIN person o ON o.id = w.notified_person_id
            WHERE (:all_sites OR w.site_id = ANY(:sites)) AND (NOT :open_only OR w.resolved_at IS NULL)
            ORDER BY w.raised_at DESC, w.id DESC LIMIT :limit"""),
            {"all_sites": ids is None, "sites": list(ids or []), "open_only": open_only,
             "limit": limit}).mappings().all()
    return pd.DataFrame(rows, columns=cols)


def gating_rules(engine: sa.Engine, scope: Scope) -> pd.DataFrame:
    ids = scope.sites()
    cols = ["id", "code", "name", "site", "gas_areas_only", "area_kinds", "required_courses", "match", "trigger",
            "active"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT g.id, g.code, g.name, coalesce(s.code, 'all sites') AS site, g.gas_areas_only, g.area_kinds,
                   g.required_courses, g.match, g.trigger, g.active
            FROM gating_rule g LEFT JOIN site s ON s.id = g.site_id
            WHERE g.site_id IS NULL OR :all_sites OR g.site_id = ANY(:sites)
            ORDER BY g.code"""), {"all_sites": ids is None, "sites": list(ids or [])}).mappings().all()
    return pd.DataFrame(rows, columns=cols)
