"""Contractor reads for pages and the CLI: companies, qualifications, jobs and their checks and sign-offs.

A company is visible to a scope when it has workers or jobs at one of the scope's sites
(or to every all-sites scope).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from qhse.domain.access import Scope

_VISIBLE_COMPANY = """(:all_sites
    OR EXISTS (SELECT 1 FROM person wp WHERE wp.contractor_company_id = c.id AND wp.site_id = ANY(:sites))
    OR EXISTS (SELECT 1 FROM contractor_job wj WHERE wj.company_id = c.id AND wj.site_id = ANY(:sites)))"""


def _params(scope: Scope, **kw) -> dict:
    ids = scope.sites()
    return {"all_sites": ids is None, "sites": list(ids or []), **kw}


def companies(engine: sa.Engine, scope: Scope, *, on: dt.date) -> pd.DataFrame:
    """Companies with approval state, licence validity on ``on`` and worker counts."""
    cols = ["id", "name", "status", "licence_no", "licence_expires_on", "licence_valid", "safety_licence_expires_on",
            "approved_safety_by", "approved_legal_by", "workers", "inducted", "open_jobs"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"""
            SELECT c.id, c.name, c.status, c.licence_no, c.licence_expires_on,
                   (c.licence_expires_on IS NULL OR c.licence_expires_on >= :on) AS licence_valid,
                   (SELECT max(q.expires_on) FROM qualification q
                    WHERE q.company_id = c.id AND q.kind = 'safety_licence') AS safety_licence_expires_on,
                   c.approved_safety_by, c.approved_legal_by,
                   (SELECT count(*) FROM person p WHERE p.contractor_company_id = c.id) AS workers,
                   (SELECT count(*) FROM person p WHERE p.contractor_company_id = c.id
                      AND p.induction_passed_at IS NOT NULL) AS inducted,
                   (SELECT count(*) FROM contractor_job j WHERE j.company_id = c.id
                      AND j.status IN ('requested', 'approved', 'active')) AS open_jobs
            FROM contractor_company c
            WHERE {_VISIBLE_COMPANY}
            ORDER BY c.name"""), _params(scope, on=on)).mappings().all()
    return pd.DataFrame(rows, columns=cols)


def workers(engine: sa.Engine, scope: Scope, company_id: int | None = None) -> pd.DataFrame:
    cols = ["id", "employee_no", "name", "company", "site", "induction_score", "induction_passed_at", "active"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT p.id, p.employee_no, p.name, c.name AS company, s.code AS site, p.induction_score,
                   p.induction_passed_at, p.active
            FROM person p JOIN contractor_company c ON c.id = p.contractor_company_id JOIN site s ON s.id = p.site_id
            WHERE p.kind = 'contractor' AND (:all_sites OR p.site_id = ANY(:sites))
              AND (CAST(:company AS int) IS NULL OR p.contractor_company_id = :company)
            ORDER BY c.name, p.employee_no"""), _params(scope, company=company_id)).mappings().all()
    return pd.DataFrame(rows, columns=cols)


def qualifications(engine: sa.Engine, scope: Scope, *, on: dt.date, within_days: int | None = None) -> pd.DataFrame:
    """Company licences and workers' certificates with their validity on ``on`` (optionally only
    those expired or expiring within ``within_days``)."""
    cols = ["id", "holder", "holder_type", "company", "kind", "number", "expires_on", "days_left", "state"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"""
            SELECT q.id, coalesce(p.name || ' (' || p.employee_no || ')', c.name) AS holder,
                   CASE WHEN q.person_id IS NOT NULL THEN 'worker' ELSE 'company' END AS holder_type,
                   c.name AS company, q.kind, q.number, q.expires_on,
                   (q.expires_on - CAST(:on AS date)) AS days_left,
                   CASE WHEN q.expires_on IS NULL THEN 'no expiry'
                        WHEN q.expires_on < :on THEN 'expired'
                        WHEN q.expires_on <= CAST(:on AS date) + 30 THEN 'expires within 30 days'
                        ELSE 'valid' END AS state
            FROM qualification q
            LEFT JOIN person p ON p.id = q.person_id
            JOIN contractor_company c ON c.id = coalesce(q.company_id, p.contractor_company_id)
            WHERE {_VISIBLE_COMPANY}
              AND (CAST(:within AS int) IS NULL OR q.expires_on <= CAST(:on AS date) + CAST(:within AS int))
            ORDER BY q.expires_on NULLS LAST, c.name, q.id"""),
            _params(scope, on=on, within=within_days)).mappings().all()
    return pd.DataFrame(rows, columns=cols)


def jobs(engine: sa.Engine, scope: Scope, *, status: str | None = None, limit: int = 500) -> pd.DataFrame:
    cols = ["id", "site", "area", "company", "scope", "work_types", "starts_at", "ends_at", "status", "approved_by",
            "supervisor", "workers", "inside_now", "checks", "signoffs"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT j.id, s.code AS site, a.code AS area, c.name AS company, j.scope, j.work_types, j.starts_at,
                   j.ends_at, j.status, j.approved_by, sp.name AS supervisor,
                   (SELECT count(*) FROM contractor_job_worker w WHERE w.job_id = j.id) AS workers,
                   (SELECT count(*) FROM access_record ar WHERE ar.job_id = j.id AND ar.exited_at IS NULL) AS inside_now,
                   (SELECT count(*) FROM supervisor_check k WHERE k.job_id = j.id) AS checks,
                   (SELECT count(*) FROM job_signoff so WHERE so.job_id = j.id) AS signoffs
            FROM contractor_job j
            JOIN site s ON s.id = j.site_id JOIN area a ON a.id = j.area_id
            JOIN contractor_company c ON c.id = j.company_id
            LEFT JOIN person sp ON sp.id = j.supervisor_person_id
            WHERE (:all_sites OR j.site_id = ANY(:sites)) AND (CAST(:status AS text) IS NULL OR j.status = :status)
            ORDER BY j.starts_at DESC, j.id DESC LIMIT :limit"""),  # noqa: E501 - SQL text kept as written
            _params(scope, status=status, limit=limit)).mappings().all()
    return pd.DataFrame(rows, columns=cols)


def job_detail(engine: sa.Engine, scope: Scope, job_id: int) -> dict | None:
    """A job with its workers, access records, supervisor checks and sign-offs (None outside the scope)."""
    p = _params(scope, job=job_id)
    with engine.connect() as conn:
        job = conn.execute(sa.text("""
            SELECT j.*, s.code AS site, a.code AS area_code, a.name AS area_name, c.name AS company
            FROM contractor_job j JOIN site s ON s.id = j.site_id JOIN area a ON a.id = j.area_id
            JOIN contractor_company c ON c.id = j.company_id
            WHERE j.id = :job AND (:all_sites OR j.site_id = ANY(:sites))"""), p).mappings().first()
        if job is None:
            return None
        crew = conn.execute(sa.text("""
            SELECT p.id, p.employee_no, p.name, p.induction_score, p.induction_passed_at
            FROM contractor_job_worker w JOIN person p ON p.id = w.person_id WHERE w.job_id = :job
            ORDER BY p.employee_no"""), p).mappings().all()
        access = conn.execute(sa.text("""
            SELECT ar.id, p.name, ar.entered_at, ar.exited_at FROM access_record ar JOIN person p ON p.id = ar.person_id
            WHERE ar.job_id = :job ORDER BY ar.entered_at DESC, ar.id DESC LIMIT 200"""), p).mappings().all()
        checks = conn.execute(sa.text("""
            SELECT k.id, k.checked_at, k.result, k.note, k.photos, sp.name AS supervisor
            FROM supervisor_check k LEFT JOIN person sp ON sp.id = k.supervisor_person_id
            WHERE k.job_id = :job ORDER BY k.checked_at, k.id"""), p).mappings().all()
        signoffs = conn.execute(sa.text("""
            SELECT party, signed_by, signed_at, note FROM job_signoff WHERE job_id = :job ORDER BY signed_at, id"""),
            p).mappings().all()
    return {"job": dict(job), "workers": [dict(x) for x in crew], "access": [dict(x) for x in access],
            "checks": [dict(x) for x in checks], "signoffs": [dict(x) for x in signoffs]}
