"""Counts behind the safety health index: hazards per department or site and month.

For each unit and month: hazards reported (rejected excluded), how many were rectified by
the month's end, how many were repeats, the count per severity, and the number of areas
the unit owns (the density denominator).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.queries._sites import add_months, default_tz, local_midnight, months_between, scope_params, scope_sql


def health_counts(engine: sa.Engine, scope=None, *, start: dt.date, end: dt.date, by: str = "department",
                  as_of: dt.datetime | None = None, tz: str | None = None) -> list[dict]:
    """One row per unit and month in [start, end), units with no hazard included (zero counts)."""
    if by not in ("department", "site"):
        raise ValueError("by must be department or site")
    tz = tz or default_tz()
    months = months_between(start, end)
    if not months:
        return []
    now = as_of or dt.datetime.now(dt.UTC)
    cutoffs = [min(local_midnight(add_months(mo, 1), tz), now) for mo in months]
    p = dict(scope_params(scope), tz=tz, months=months, cutoffs=cutoffs, t0=local_midnight(months[0], tz),
             t1=local_midnight(end, tz))
    if by == "department":
        units_sql = f"""
            SELECT d.id AS unit_id, d.site_id, s.code AS site_code, d.name AS unit, d.stage,
                   (SELECT count(*) FROM area a WHERE a.department_id = d.id) AS areas
            FROM department d JOIN site s ON s.id = d.site_id WHERE {scope_sql('d.site_id')}"""
        unit_col = "a.department_id"
    else:
        units_sql = f"""
            SELECT s.id AS unit_id, s.id AS site_id, s.code AS site_code, s.name AS unit, NULL AS stage,
                   (SELECT count(*) FROM area a WHERE a.site_id = s.id) AS areas
            FROM site s WHERE {scope_sql('s.id')}"""
        unit_col = "a.site_id"
    sql = f"""
        WITH u AS ({units_sql}),
        m AS (SELECT unnest(CAST(:months AS date[])) AS month, unnest(CAST(:cutoffs AS timestamptz[])) AS cutoff),
        h AS (
            SELECT {unit_col} AS unit_id, date_trunc('month', h.reported_at AT TIME ZONE :tz)::date AS month,
                   h.severity, h.is_repeat, h.rectified_at
            FROM hazard_report h JOIN area a ON a.id = h.area_id
            WHERE h.status <> 'rejected' AND h.reported_at >= :t0 AND h.reported_at < :t1
              AND h.reported_at < CAST(:now AS timestamptz) AND {scope_sql('h.site_id')}
        )
        SELECT u.unit_id, u.site_id, u.site_code, u.unit, u.stage, u.areas, m.month,
               count(h.unit_id) AS hazards,
               count(h.unit_id) FILTER (WHERE h.rectified_at IS NOT NULL AND h.rectified_at < m.cutoff) AS rectified,
               count(h.unit_id) FILTER (WHERE h.is_repeat) AS repeats,
               count(h.unit_id) FILTER (WHERE h.severity = 'low') AS sev_low,
               count(h.unit_id) FILTER (WHERE h.severity = 'normal') AS sev_normal,
               count(h.unit_id) FILTER (WHERE h.severity = 'high') AS sev_high,
               count(h.unit_id) FILTER (WHERE h.severity = 'severe') AS sev_severe
        FROM u CROSS JOIN m LEFT JOIN h ON h.unit_id = u.unit_id AND h.month = m.month
        GROUP BY u.unit_id, u.site_id, u.site_code, u.unit, u.stage, u.areas, m.month
        ORDER BY m.month, u.site_code, u.unit"""
    p["now"] = now
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), p)]
