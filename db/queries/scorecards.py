"""Read queries for scorecards: scores with their units, history, flagged units, evidence rows.

Every function takes the caller's site scope (None: every site; a list of ids; or a
Scope).  Group (enterprise) scores summarise every site, so only callers who see every
site get them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.queries._sites import add_months, scope_params, site_list

_UNIT_LABEL = """
    CASE s.unit_type
      WHEN 'enterprise' THEN (SELECT e.name FROM enterprise e WHERE e.id = s.unit_id)
      WHEN 'site' THEN (SELECT st.name FROM site st WHERE st.id = s.unit_id)
      WHEN 'department' THEN (SELECT st.code || ' / ' || d.name FROM department d JOIN site st ON st.id = d.site_id
                              WHERE d.id = s.unit_id)
      WHEN 'post' THEN (SELECT st.code || ' / ' || p.name FROM post p JOIN department d ON d.id = p.department_id
                        JOIN site st ON st.id = d.site_id WHERE p.id = s.unit_id)
    END"""


def _scope_where(scope) -> tuple[str, dict]:
    ids = site_list(scope)
    if ids is None:
        return "TRUE", {}
    return "s.site_id = ANY(:sites)", {"sites": ids}


def scores(engine: sa.Engine, scope=None, *, month: dt.date, level: str | None = None, site_id: int | None = None,
           stage: str | None = None, unit_type: str | None = None) -> list[dict]:
    """The month's scores with indicator, unit, previous month's rating and the plan flag."""
    where, p = _scope_where(scope)
    p.update(month=month, prev=add_months(month, -1), level=level, site_id=site_id, stage=stage, unit_type=unit_type)
    sql = f"""
        SELECT s.id, s.period, s.unit_type, s.unit_id, s.site_id, {_UNIT_LABEL} AS unit,
               st.code AS site_code, i.code, i.version, i.name, i.name_zh, i.level, i.stage, i.source, i.formula,
               i.unit AS value_unit, i.target, i.excellent_at, i.qualified_at, i.higher_is_better, i.manual,
               s.value, s.numerator, s.denominator, s.rating, s.needs_plan, s.manual_entry_by, s.manual_evidence,
               jsonb_array_length(s.evidence) AS evidence_rows, s.computed_at,
               (SELECT s2.rating FROM assessment_score s2 JOIN assessment_indicator i2 ON i2.id = s2.indicator_id
                WHERE i2.code = i.code AND s2.unit_type = s.unit_type AND s2.unit_id = s.unit_id AND s2.period = :prev
                ORDER BY i2.version DESC LIMIT 1) AS previous_rating,
               (SELECT s2.value FROM assessment_score s2 JOIN assessment_indicator i2 ON i2.id = s2.indicator_id
                WHERE i2.code = i.code AND s2.unit_type = s.unit_type AND s2.unit_id = s.unit_id AND s2.period = :prev
                ORDER BY i2.version DESC LIMIT 1) AS previous_value
        FROM assessment_score s JOIN assessment_indicator i ON i.id = s.indicator_id
        LEFT JOIN site st ON st.id = s.site_id
        WHERE s.period = :month AND {where}
          AND (CAST(:level AS text) IS NULL OR i.level = :level)
          AND (CAST(:site_id AS int) IS NULL OR s.site_id = :site_id)
          AND (CAST(:stage AS text) IS NULL OR i.stage = :stage)
          AND (CAST(:unit_type AS text) IS NULL OR s.unit_type = :unit_type)
        ORDER BY CASE s.unit_type WHEN 'enterprise' THEN 0 WHEN 'site' THEN 1 WHEN 'department' THEN 2 ELSE 3 END,
                 unit, i.level, i.code"""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), p)]


def score_months(engine: sa.Engine, scope=None) -> list[dt.date]:
    """Months that have scores, newest first."""
    where, p = _scope_where(scope)
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text(
            f"SELECT DISTINCT s.period FROM assessment_score s WHERE {where} ORDER BY 1 DESC"), p)]


def score_history(engine: sa.Engine, scope=None, *, code: str, unit_type: str, unit_id: int,
                  months: int = 12, until: dt.date | None = None) -> list[dict]:
    """One indicator's monthly values and ratings for one unit (oldest first)."""
    where, p = _scope_where(scope)
    p.update(code=code, unit_type=unit_type, unit_id=unit_id, n=months, until=until)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text(f"""
            SELECT s.period, s.value, s.rating, s.needs_plan, i.version, i.excellent_at, i.qualified_at, i.target
            FROM assessment_score s JOIN assessment_indicator i ON i.id = s.indicator_id
            WHERE i.code = :code AND s.unit_type = :unit_type AND s.unit_id = :unit_id AND {where}
              AND (CAST(:until AS date) IS NULL OR s.period <= :until)
            ORDER BY s.period DESC LIMIT :n"""), p)]
    return rows[::-1]


def indicators(engine: sa.Engine, scope=None, *, active_only: bool = True) -> list[dict]:
    """The indicator definitions (the same for every site, whatever the scope)."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT id, code, version, name, name_zh, level, stage, source, formula, unit, target, excellent_at, "
            "qualified_at, higher_is_better, manual, active, params, applies_to FROM assessment_indicator "
            "WHERE (:all OR active) ORDER BY level, stage, code, version"), {"all": not active_only})]


# Columns shown for each kind of evidence row (never sensitive person fields).
_EVIDENCE_SQL = {
    "corrective_action": """
        SELECT ca.id, ca.description, d.name AS department, ca.status, ca.due_at, ca.completed_at,
               ca.escalation_level, h.id AS hazard_id, h.site_id
        FROM corrective_action ca JOIN hazard_report h ON h.id = ca.hazard_id
        LEFT JOIN department d ON d.id = ca.department_id WHERE ca.id = ANY(:ids)""",
    "inspection": """
        SELECT i.id, a.name AS area, r.name AS route, i.due_at, i.performed_at, i.status, i.findings, a.site_id
        FROM inspection i JOIN area a ON a.id = i.area_id JOIN inspection_route r ON r.id = i.route_id
        WHERE i.id = ANY(:ids)""",
    "training_record": """
        SELECT t.id, p.employee_no, p.name AS person, c.code AS course, t.completed_on, t.expires_on, t.passed,
               p.site_id
        FROM training_record t JOIN person p ON p.id = t.person_id JOIN training_course c ON c.id = t.course_id
        WHERE t.id = ANY(:ids)""",
    "hazard_report": """
        SELECT h.id, h.title, h.category, h.severity, a.name AS area, h.status, h.reported_at, h.rectified_at,
               h.closed_at, h.is_repeat, h.site_id
        FROM hazard_report h JOIN area a ON a.id = h.area_id WHERE h.id = ANY(:ids)""",
    "alarm": """
        SELECT al.id, al.message, al.severity, a.name AS area, al.raised_at, al.acknowledged_at, al.acknowledged_by,
               al.cleared_at, al.site_id
        FROM alarm al JOIN area a ON a.id = al.area_id WHERE al.id = ANY(:ids)""",
    "contractor_job": """
        SELECT j.id, cc.name AS company, j.scope, j.work_types, a.name AS area, j.starts_at, j.ends_at, j.status,
               j.approved_by, j.approved_at, j.site_id
        FROM contractor_job j JOIN contractor_company cc ON cc.id = j.company_id JOIN area a ON a.id = j.area_id
        WHERE j.id = ANY(:ids)""",
    "person": """
        SELECT p.id, p.employee_no, p.name, po.name AS post, p.site_id
        FROM person p LEFT JOIN post po ON po.id = p.post_id WHERE p.id = ANY(:ids)""",
    "incident": """
        SELECT i.id, i.kind, i.occurred_at, a.name AS area, i.recordable, i.lost_time, i.restricted_or_transfer,
               i.days_away, i.days_restricted, i.contractor_involved, i.description, i.site_id
        FROM incident i LEFT JOIN area a ON a.id = i.area_id WHERE i.id = ANY(:ids)""",
    "hours_worked": """
        SELECT h.id, h.month, coalesce(d.name, '(site)') AS department, h.hours, h.contractor_hours, h.headcount,
               h.site_id
        FROM hours_worked h LEFT JOIN department d ON d.id = h.department_id WHERE h.id = ANY(:ids)""",
}


class EvidenceNotVisible(Exception):
    pass


def score_evidence(engine: sa.Engine, scope, score_id: int) -> dict:
    """A score with the rows behind it, grouped by table (each row with its pass/fail mark).

    Raises EvidenceNotVisible when the score is outside the caller's sites."""
    allowed = site_list(scope)
    with engine.connect() as conn:
        s = conn.execute(sa.text(f"""
            SELECT s.id, s.period, s.unit_type, s.unit_id, s.site_id, {_UNIT_LABEL} AS unit, i.code, i.name,
                   i.formula, i.unit AS value_unit, s.value, s.numerator, s.denominator, s.rating, s.needs_plan,
                   s.manual_entry_by, s.manual_evidence, s.evidence, s.computed_at
            FROM assessment_score s JOIN assessment_indicator i ON i.id = s.indicator_id WHERE s.id = :id"""),
            {"id": score_id}).mappings().first()
        if s is None or (allowed is not None and (s["site_id"] is None or s["site_id"] not in allowed)):
            raise EvidenceNotVisible(f"score {score_id} not found in your sites")
        by_table: dict[str, dict[int, dict]] = {}
        for e in s["evidence"] or []:
            by_table.setdefault(e["table"], {})[int(e["id"])] = e
        tables = {}
        for table, marks in by_table.items():
            sql = _EVIDENCE_SQL.get(table)
            if sql is None:
                continue
            rows = [dict(r._mapping) for r in conn.execute(sa.text(sql), {"ids": list(marks)})]
            for r in rows:
                mark = marks.get(r["id"], {})
                if "ok" in mark:
                    r["passes"] = mark["ok"]
            rows.sort(key=lambda r: (r.get("passes", True), r["id"]))
            tables[table] = rows
    out = {k: v for k, v in s.items() if k != "evidence"}
    out["tables"] = tables
    return out


def local_indicator_scores(engine: sa.Engine, scope=None, *, month: dt.date) -> list[dict]:
    """Each visible site's local indicators (``site.settings['local_indicators']``) with the
    indicator's definition where one exists and its latest score up to ``month``."""
    p = dict(scope_params(scope), month=month)
    with engine.connect() as conn:
        sites = conn.execute(sa.text(
            "SELECT s.id, s.code, s.name, s.settings FROM site s "
            "WHERE (:all_sites OR s.id = ANY(:sites)) ORDER BY s.code"), p).mappings().all()
        out = []
        for s in sites:
            local = (s["settings"] or {}).get("local_indicators") or {}
            for code, enabled in sorted(local.items()):
                if not enabled:
                    continue
                ind = conn.execute(sa.text(
                    "SELECT id, name, name_zh, unit, target, manual FROM assessment_indicator "
                    "WHERE code = :c AND active ORDER BY version DESC LIMIT 1"), {"c": code}).mappings().first()
                sc = conn.execute(sa.text("""
                    SELECT s.id AS score_id, s.period, s.value, s.rating, s.manual_entry_by, s.manual_evidence
                    FROM assessment_score s JOIN assessment_indicator i ON i.id = s.indicator_id
                    WHERE i.code = :c AND s.unit_type = 'site' AND s.unit_id = :sid AND s.period <= :month
                      AND s.rating <> 'not_available'
                    ORDER BY s.period DESC, i.version DESC LIMIT 1"""),
                    {"c": code, "sid": s["id"], "month": month}).mappings().first()
                out.append(dict(site_id=s["id"], site_code=s["code"], site=s["name"], code=code,
                                name=ind["name"] if ind else code.replace("_", " ").capitalize(),
                                name_zh=ind["name_zh"] if ind else None, defined=ind is not None,
                                unit=ind["unit"] if ind else None, target=ind["target"] if ind else None,
                                **(dict(sc) if sc else dict(score_id=None, period=None, value=None,
                                                             rating="not_available", manual_entry_by=None,
                                                             manual_evidence=None))))
    return out
