"""Compliance ledger reads: the register of regulations and the source rows of each ledger.

Every function takes the caller's :class:`~qhse.domain.access.Scope` and a site; a site
outside the scope yields no rows.  Times are bounded by a half-open UTC interval
``[t0, t1)`` (the caller turns local dates into it); every row carries the id of the
record it comes from.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from qhse.domain.access import Scope

WASTE_GAS_KINDS = ("voc", "h2s")


def _allowed(scope: Scope, site_id: int) -> bool:
    return scope.allows_site(site_id)


def regulations(engine: sa.Engine, scope: Scope, site_id: int | None = None,
                ledger_kind: str | None = None) -> pd.DataFrame:
    """Regulations and standards that apply to the site (group-wide ones included)."""
    cols = ["id", "site", "code", "title", "kind", "authority", "clause", "requirement", "ledger_kind",
            "effective_on", "review_due_on", "active"]
    if site_id is not None and not _allowed(scope, site_id):
        return pd.DataFrame(columns=cols)
    ids = scope.sites([site_id] if site_id is not None else None)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT r.id, coalesce(s.code, 'group') AS site, r.code, r.title, r.kind, r.authority, r.clause,
                   r.requirement, r.ledger_kind, r.effective_on, r.review_due_on, r.active
            FROM regulation r LEFT JOIN site s ON s.id = r.site_id
            WHERE (r.site_id IS NULL OR :all_sites OR r.site_id = ANY(:sites))
              AND (CAST(:kind AS text) IS NULL OR r.ledger_kind = :kind)
            ORDER BY r.ledger_kind NULLS LAST, (r.site_id IS NOT NULL), r.code"""),
                            {"all_sites": ids is None, "sites": list(ids or []), "kind": ledger_kind}).mappings().all()
    return pd.DataFrame(rows, columns=cols)


def site_info(engine: sa.Engine, scope: Scope, site_code: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id, code, name, timezone FROM site WHERE code = :c"),
                           {"c": site_code}).mappings().first()
    if row is None or not _allowed(scope, row["id"]):
        return None
    return dict(row)


def waste_gas_exceedances(conn, scope: Scope, site_id: int, t0: dt.datetime, t1: dt.datetime) -> list[dict]:
    """Waste-gas readings beyond their sensor's alarm limit, each with the alarm that handled it."""
    if not _allowed(scope, site_id):
        return []
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT r.sensor_id, r.ts, r.value, s.code AS sensor_code, s.kind AS gas, s.unit,
               CASE WHEN s.alarm_high IS NOT NULL AND r.value > s.alarm_high THEN s.alarm_high ELSE s.alarm_low END
                   AS limit_value,
               CASE WHEN s.alarm_high IS NOT NULL AND r.value > s.alarm_high THEN '>' ELSE '<' END AS direction,
               a.code AS area_code, a.name AS area_name,
               al.id AS alarm_id, al.severity, al.raised_at, al.acknowledged_by, al.acknowledged_at, al.cleared_at
        FROM sensor s
        JOIN area a ON a.id = s.area_id
        JOIN sensor_reading r ON r.sensor_id = s.id AND r.ts >= :t0 AND r.ts < :t1
        LEFT JOIN LATERAL (
            SELECT x.id, x.severity, x.raised_at, x.acknowledged_by, x.acknowledged_at, x.cleared_at
            FROM alarm x
            WHERE x.sensor_id = s.id AND x.raised_at <= r.ts AND (x.cleared_at IS NULL OR x.cleared_at >= r.ts)
            ORDER BY (x.severity = 'critical') DESC, x.raised_at DESC, x.id DESC LIMIT 1) al ON TRUE
        WHERE s.site_id = :site AND s.kind = ANY(:kinds)
          AND ((s.alarm_high IS NOT NULL AND r.value > s.alarm_high) OR (s.alarm_low IS NOT NULL AND r.value < s.alarm_low))
        ORDER BY r.ts, r.sensor_id"""), {"site": site_id, "t0": t0, "t1": t1,  # noqa: E501 - SQL text kept as written
                                         "kinds": list(WASTE_GAS_KINDS)}).mappings()]


def waste_gas_points(conn, scope: Scope, site_id: int, t0: dt.datetime, t1: dt.datetime) -> list[dict]:
    """Per waste-gas monitoring point: readings, min/avg/max and exceedances in the period."""
    if not _allowed(scope, site_id):
        return []
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT s.id AS sensor_id, s.code AS sensor_code, s.kind AS gas, s.unit, a.code AS area_code,
               s.alarm_high, s.alarm_low,
               count(r.ts) AS readings, min(r.value) AS min_value, avg(r.value) AS avg_value, max(r.value) AS max_value,
               count(r.ts) FILTER (WHERE (s.alarm_high IS NOT NULL AND r.value > s.alarm_high)
                                      OR (s.alarm_low IS NOT NULL AND r.value < s.alarm_low)) AS exceedances
        FROM sensor s
        JOIN area a ON a.id = s.area_id
        LEFT JOIN sensor_reading r ON r.sensor_id = s.id AND r.ts >= :t0 AND r.ts < :t1
        WHERE s.site_id = :site AND s.kind = ANY(:kinds)
        GROUP BY s.id, s.code, s.kind, s.unit, a.code, s.alarm_high, s.alarm_low
        ORDER BY a.code, s.code"""), {"site": site_id, "t0": t0, "t1": t1, "kinds": list(WASTE_GAS_KINDS)}).mappings()]


def waste_gas_alarms_raised(conn, scope: Scope, site_id: int, t0: dt.datetime, t1: dt.datetime) -> int:
    """Alarms (any severity) raised on the site's waste-gas sensors in ``[t0, t1)``."""
    if not _allowed(scope, site_id):
        return 0
    return int(conn.execute(sa.text("""
        SELECT count(*) FROM alarm al JOIN sensor s ON s.id = al.sensor_id
        WHERE s.site_id = :site AND s.kind = ANY(:kinds) AND al.raised_at >= :t0 AND al.raised_at < :t1"""),
        {"site": site_id, "t0": t0, "t1": t1, "kinds": list(WASTE_GAS_KINDS)}).scalar())


def training_records(conn, scope: Scope, site_id: int, d0: dt.date, d1: dt.date) -> list[dict]:
    """Training records of the site's people completed on days ``d0`` .. ``d1`` (inclusive)."""
    if not _allowed(scope, site_id):
        return []
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT tr.id, tr.completed_on, tr.expires_on, tr.score, tr.passed, p.employee_no, p.name AS person,
               p.kind AS person_kind, coalesce(d.name, c.name, '') AS department, tc.code AS course_code,
               tc.name AS course
        FROM training_record tr
        JOIN person p ON p.id = tr.person_id
        JOIN training_course tc ON tc.id = tr.course_id
        LEFT JOIN department d ON d.id = p.department_id
        LEFT JOIN contractor_company c ON c.id = p.contractor_company_id
        WHERE p.site_id = :site AND tr.completed_on BETWEEN :d0 AND :d1
        ORDER BY tr.completed_on, p.employee_no, tc.code, tr.id"""), {"site": site_id, "d0": d0, "d1": d1}).mappings()]


def inspection_records(conn, scope: Scope, site_id: int, t0: dt.datetime, t1: dt.datetime) -> list[dict]:
    """Inspections of the site's areas due in ``[t0, t1)``."""
    if not _allowed(scope, site_id):
        return []
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT i.id, i.due_at, i.performed_at, i.status, i.findings, i.results, a.code AS area_code,
               a.name AS area_name, rt.name AS route, p.employee_no AS inspector_no, p.name AS inspector
        FROM inspection i
        JOIN area a ON a.id = i.area_id
        JOIN inspection_route rt ON rt.id = i.route_id
        LEFT JOIN person p ON p.id = i.inspector_person_id
        WHERE a.site_id = :site AND i.due_at >= :t0 AND i.due_at < :t1
        ORDER BY i.due_at, a.code, i.id"""), {"site": site_id, "t0": t0, "t1": t1}).mappings()]
