"""Data sources of the assessment indicators: the rows behind each score.

Every source returns *items*, one per row of evidence, each with the unit it belongs to
(site, department, post), the table and id of the row, and its contribution to the
score's numerator and denominator.  For a share (on-time actions, inspections done...)
an item counts 1 in the denominator and 1 in the numerator when it passes; for a
frequency rate (TRIR...) the counted incidents add to the numerator and the hours records
add their hours to the denominator.  The formula applied to the sums lives in
``qhse.services.scorecards``; which rows count lives here.

``w`` holds the window: ``t0``/``t1`` (the month, as aware datetimes), ``as_of`` (what
was known when computing; items not yet due at ``as_of`` are left out) and ``tz``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

ITEM_COLS = "site_id, department_id, post_id, tbl, id, num, den"


def _run(conn, sql: str, params: dict) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def _cutoff(w: dict) -> dt.datetime:
    return min(w["t1"], w["as_of"])


def actions_on_time(conn, w: dict, params: dict) -> list[dict]:
    """Corrective actions due in the month: done by their due time?"""
    return _run(conn, """
        SELECT h.site_id, coalesce(ca.department_id, a.department_id) AS department_id, NULL::int AS post_id,
               'corrective_action' AS tbl, ca.id,
               (ca.completed_at IS NOT NULL AND ca.completed_at <= ca.due_at)::int AS num, 1::float8 AS den
        FROM corrective_action ca JOIN hazard_report h ON h.id = ca.hazard_id JOIN area a ON a.id = h.area_id
        WHERE ca.status <> 'cancelled' AND ca.due_at >= :t0 AND ca.due_at < :t1 AND ca.due_at < :cutoff
        ORDER BY ca.id""", dict(w, cutoff=_cutoff(w)))


def inspections(conn, w: dict, params: dict) -> list[dict]:
    """Inspection rounds due in the month: performed (and, if asked, without a finding)?"""
    kinds = params.get("area_kinds")
    return _run(conn, """
        SELECT a.site_id, a.department_id, NULL::int AS post_id, 'inspection' AS tbl, i.id,
               (i.status = 'done' AND (NOT :no_findings OR i.findings = 0))::int AS num, 1::float8 AS den
        FROM inspection i JOIN area a ON a.id = i.area_id
        WHERE i.due_at >= :t0 AND i.due_at < :t1 AND i.due_at < :cutoff
          AND (:any_kind OR a.kind = ANY(:kinds))
        ORDER BY i.id""", dict(w, cutoff=_cutoff(w), no_findings=bool(params.get("require_no_findings", False)),
                               any_kind=not kinds, kinds=list(kinds or [])))


def training_valid(conn, w: dict, params: dict) -> list[dict]:
    """Latest passed training record per person and course at month end: still valid that day?"""
    return _run(conn, """
        WITH d AS (SELECT ((CAST(:cutoff AS timestamptz) AT TIME ZONE :tz)::date - 1) AS last_day),
        latest AS (
            SELECT DISTINCT ON (r.person_id, r.course_id) r.id, r.person_id, r.expires_on, d.last_day
            FROM training_record r CROSS JOIN d
            WHERE r.passed AND r.completed_on <= d.last_day
            ORDER BY r.person_id, r.course_id, r.completed_on DESC, r.id DESC
        )
        SELECT p.site_id, p.department_id, p.post_id, 'training_record' AS tbl, l.id,
               (l.expires_on IS NULL OR l.expires_on >= l.last_day)::int AS num, 1::float8 AS den
        FROM latest l JOIN person p ON p.id = l.person_id
        WHERE p.active
        ORDER BY l.id""", dict(w, cutoff=_cutoff(w)))


def hazard_closure(conn, w: dict, params: dict) -> list[dict]:
    """Hazards reported in the month (rejected excluded): closed by month end?"""
    return _run(conn, """
        SELECT h.site_id, a.department_id, NULL::int AS post_id, 'hazard_report' AS tbl, h.id,
               (h.closed_at IS NOT NULL AND h.closed_at < :cutoff)::int AS num, 1::float8 AS den
        FROM hazard_report h JOIN area a ON a.id = h.area_id
        WHERE h.status <> 'rejected' AND h.reported_at >= :t0 AND h.reported_at < :t1 AND h.reported_at < :cutoff
        ORDER BY h.id""", dict(w, cutoff=_cutoff(w)))


def hazards_rectified_within(conn, w: dict, params: dict) -> list[dict]:
    """Hazards of the given categories reported in the month: rectified within N hours?

    A hazard whose N hours have not run out at ``as_of`` and that is not yet rectified is
    left out (its outcome is not known yet)."""
    cats = params.get("categories")
    return _run(conn, """
        SELECT h.site_id, a.department_id, NULL::int AS post_id, 'hazard_report' AS tbl, h.id,
               (h.rectified_at IS NOT NULL AND h.rectified_at <= h.reported_at + make_interval(hours => :hours))::int
                   AS num, 1::float8 AS den
        FROM hazard_report h JOIN area a ON a.id = h.area_id
        WHERE h.status <> 'rejected' AND h.reported_at >= :t0 AND h.reported_at < :t1 AND h.reported_at < :as_of
          AND (:any_cat OR h.category = ANY(:cats))
          AND (h.reported_at + make_interval(hours => :hours) <= :as_of
               OR (h.rectified_at IS NOT NULL AND h.rectified_at <= h.reported_at + make_interval(hours => :hours)))
        ORDER BY h.id""", dict(w, hours=int(params["hours"]), any_cat=not cats, cats=list(cats or [])))


def alarm_response(conn, w: dict, params: dict) -> list[dict]:
    """Alarms of the given severities raised in the month: acknowledged within N minutes?"""
    kinds = params.get("area_kinds")
    return _run(conn, """
        SELECT al.site_id, a.department_id, NULL::int AS post_id, 'alarm' AS tbl, al.id,
               (al.acknowledged_at IS NOT NULL
                AND al.acknowledged_at <= al.raised_at + make_interval(mins => :minutes))::int AS num, 1::float8 AS den
        FROM alarm al JOIN area a ON a.id = al.area_id
        WHERE al.raised_at >= :t0 AND al.raised_at < :t1
          AND al.raised_at + make_interval(mins => :minutes) <= :as_of
          AND al.severity = ANY(:severities) AND (:any_kind OR a.kind = ANY(:kinds))
        ORDER BY al.id""", dict(w, minutes=int(params["minutes"]), severities=list(params.get("severities") or
                                                                                   ["critical"]),
                                any_kind=not kinds, kinds=list(kinds or [])))


def hot_work_permits(conn, w: dict, params: dict) -> list[dict]:
    """Hot-work jobs started in the month: permit approved before the start, and everyone who
    entered under the job on its crew with a passed induction?"""
    return _run(conn, """
        SELECT j.site_id, a.department_id, NULL::int AS post_id, 'contractor_job' AS tbl, j.id,
               (j.status <> 'requested' AND j.approved_at IS NOT NULL AND j.approved_at <= j.starts_at
                AND NOT EXISTS (
                    SELECT 1 FROM access_record ar JOIN person p ON p.id = ar.person_id
                    WHERE ar.job_id = j.id
                      AND (p.induction_passed_at IS NULL
                           OR NOT EXISTS (SELECT 1 FROM contractor_job_worker cw
                                          WHERE cw.job_id = j.id AND cw.person_id = ar.person_id))))::int AS num,
               1::float8 AS den
        FROM contractor_job j JOIN area a ON a.id = j.area_id
        WHERE j.work_types ? 'hot_work' AND j.status <> 'cancelled'
          AND j.starts_at >= :t0 AND j.starts_at < :t1 AND j.starts_at < :as_of
        ORDER BY j.id""", w)


def reporting_participation(conn, w: dict, params: dict) -> list[dict]:
    """Active employees on a post: reported at least one hazard in the month?"""
    return _run(conn, """
        SELECT p.site_id, p.department_id, p.post_id, 'person' AS tbl, p.id,
               EXISTS (SELECT 1 FROM hazard_report h
                       WHERE h.reporter_person_id = p.id AND h.status <> 'rejected'
                         AND h.reported_at >= :t0 AND h.reported_at < :cutoff)::int AS num,
               1::float8 AS den
        FROM person p
        WHERE p.active AND p.kind = 'employee' AND p.post_id IS NOT NULL
          AND (p.hired_on IS NULL OR p.hired_on < (CAST(:t1 AS timestamptz) AT TIME ZONE :tz)::date)
        ORDER BY p.id""", dict(w, cutoff=_cutoff(w)))


KPI_CASE_SQL = {
    # Same classification as db.queries.kpi (one case counted once).
    "trir": "i.recordable",
    "dart": "i.recordable AND (i.lost_time OR i.days_away > 0 OR i.restricted_or_transfer)",
    "ltifr": "(i.lost_time OR i.fatality)",
}


def kpi_rate(conn, w: dict, params: dict) -> list[dict]:
    """Counted incidents (numerator) and the month's hours records (denominator)."""
    cond = KPI_CASE_SQL[params["kpi"]]
    contr = bool(params.get("include_contractors", True))
    rows = _run(conn, f"""
        SELECT i.site_id, coalesce(i.department_id, a.department_id) AS department_id, p.post_id,
               'incident' AS tbl, i.id, 1 AS num, 0::float8 AS den
        FROM incident i LEFT JOIN area a ON a.id = i.area_id LEFT JOIN person p ON p.id = i.person_id
        WHERE {cond} AND i.occurred_at >= :t0 AND i.occurred_at < :t1 AND i.occurred_at < :as_of
          AND (:contr OR NOT i.contractor_involved)
        ORDER BY i.id""", dict(w, contr=contr))
    rows += _run(conn, """
        SELECT h.site_id, h.department_id, NULL::int AS post_id, 'hours_worked' AS tbl, h.id, 0 AS num,
               (h.hours + CASE WHEN :contr THEN h.contractor_hours ELSE 0 END)::float AS den
        FROM hours_worked h
        WHERE h.month = (CAST(:t0 AS timestamptz) AT TIME ZONE :tz)::date
        ORDER BY h.id""", dict(w, contr=contr))
    return rows


SOURCES: dict[str, Callable[[object, dict, dict], list[dict]]] = {
    "actions_on_time": actions_on_time,
    "inspections": inspections,
    "training_valid": training_valid,
    "hazard_closure": hazard_closure,
    "hazards_rectified_within": hazards_rectified_within,
    "alarm_response": alarm_response,
    "hot_work_permits": hot_work_permits,
    "reporting_participation": reporting_participation,
    "kpi_rate": kpi_rate,
}


def units(conn) -> dict[str, list[dict]]:
    """Every assessable unit: enterprises, sites (with local indicators), departments, posts."""
    q = {
        "enterprise": "SELECT id, name FROM enterprise ORDER BY id",
        "site": "SELECT s.id, s.code, s.name, s.settings, r.enterprise_id FROM site s "
                "JOIN region r ON r.id = s.region_id ORDER BY s.id",
        "department": "SELECT d.id, d.site_id, d.code, d.name, d.stage FROM department d ORDER BY d.id",
        "post": "SELECT p.id, p.department_id, d.site_id, d.stage, p.code, p.name, p.hazardous "
                "FROM post p JOIN department d ON d.id = p.department_id ORDER BY p.id",
    }
    return {k: [dict(r._mapping) for r in conn.execute(sa.text(sql))] for k, sql in q.items()}
