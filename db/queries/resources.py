"""Per-area inputs of the risk-based resource allocation: risk class, recent hazards, alarms,
predicted failures and confirmed PPE violations, and the emergency resources stocked."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.queries._sites import scope_params, scope_sql


def area_risk_inputs(engine: sa.Engine, scope=None, *, as_of: dt.datetime, window_days: int) -> list[dict]:
    """One row per visible area with counts over ``[as_of - window_days, as_of)``."""
    p = dict(scope_params(scope), as_of=as_of, t0=as_of - dt.timedelta(days=window_days))
    sql = f"""
        SELECT a.id AS area_id, a.site_id, s.code AS site_code, a.code, a.name, a.kind, a.risk_class, a.is_gas_area,
               d.name AS department,
               (SELECT count(*) FROM hazard_report h WHERE h.area_id = a.id AND h.status <> 'rejected'
                  AND h.reported_at >= :t0 AND h.reported_at < :as_of) AS hazards,
               (SELECT coalesce(jsonb_object_agg(x.severity, x.n), '{{}}'::jsonb) FROM (
                  SELECT h.severity, count(*) AS n FROM hazard_report h WHERE h.area_id = a.id
                    AND h.status <> 'rejected' AND h.reported_at >= :t0 AND h.reported_at < :as_of
                  GROUP BY h.severity) x) AS hazards_by_severity,
               (SELECT coalesce(jsonb_object_agg(x.severity, x.n), '{{}}'::jsonb) FROM (
                  SELECT al.severity, count(*) AS n FROM alarm al WHERE al.area_id = a.id
                    AND al.raised_at >= :t0 AND al.raised_at < :as_of GROUP BY al.severity) x) AS alarms_by_severity,
               (SELECT coalesce(sum(fp.probability), 0)::float FROM (
                  SELECT DISTINCT ON (f.asset_id) f.probability FROM failure_prediction f
                  JOIN asset ast ON ast.id = f.asset_id
                  WHERE ast.area_id = a.id AND ast.active AND f.scored_at < :as_of
                  ORDER BY f.asset_id, f.scored_at DESC) fp) AS predicted_failures,
               (SELECT count(*) FROM vision_event v WHERE v.area_id = a.id AND v.review_status = 'confirmed'
                  AND v.started_at >= :t0 AND v.started_at < :as_of) AS ppe_violations,
               (SELECT coalesce(jsonb_object_agg(x.kind, x.q), '{{}}'::jsonb) FROM (
                  SELECT r.kind, sum(r.quantity) AS q FROM emergency_resource r WHERE r.area_id = a.id
                  GROUP BY r.kind) x) AS stocked
        FROM area a JOIN site s ON s.id = a.site_id LEFT JOIN department d ON d.id = a.department_id
        WHERE {scope_sql('a.site_id')}
        ORDER BY s.code, a.code"""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), p)]


def latest_activity(engine: sa.Engine, scope=None) -> dt.datetime | None:
    """The newest hazard report or alarm time among the visible sites (the default as-of)."""
    p = scope_params(scope)
    with engine.connect() as conn:
        return conn.execute(sa.text(f"""
            SELECT greatest((SELECT max(reported_at) FROM hazard_report h WHERE {scope_sql('h.site_id')}),
                            (SELECT max(raised_at) FROM alarm al WHERE {scope_sql('al.site_id')}))"""), p).scalar()
