"""Read queries for the hazard loop pages: SLA board, hazard lists and detail, reporter
view, leaderboard, inspections.

Every query takes ``(bind, scope, ...)``: an Engine (or a Connection, to read inside the
caller's transaction), then the caller's :class:`~qhse.domain.access.Scope`, then its
parameters.  ``site_ids`` (``None``: every site in scope) narrows the request; the scope
is always applied on top, so a caller never sees a site outside it.  Results are pandas
DataFrames (one row per item) or plain dicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import nullcontext

import pandas as pd
import sqlalchemy as sa

from qhse.domain.access import Scope
from qhse.domain.sla import BOARD_STATES, board_state, ladder_label


def _connect(bind: sa.Engine | sa.Connection):
    """A connection from an engine, or the caller's own connection (e.g. inside its transaction)."""
    return nullcontext(bind) if isinstance(bind, sa.Connection) else bind.connect()


def _sites(scope: Scope, site_ids: Iterable[int] | None = None) -> tuple[int, ...] | None:
    """The sites to read: those requested (None: all) that the scope allows (None: every site)."""
    return scope.sites(site_ids)


def _site_clause(col: str, site_ids: tuple[int, ...] | None, params: dict) -> str:
    if site_ids is None:
        return "TRUE"
    if not site_ids:
        return "FALSE"
    params["site_ids"] = list(site_ids)
    return f"{col} = ANY(:site_ids)"


def sla_board(bind: sa.Engine | sa.Connection, scope: Scope, *, site_ids: Iterable[int] | None = None,
              area_ids: Iterable[int] | None = None, now: dt.datetime | None = None,
              due_soon_hours: float = 24.0) -> pd.DataFrame:
    """Everything running on an SLA clock, by escalation level and due time.

    Two kinds of item (``item``): an open corrective action (due to be rectified), and a
    report still waiting for its response (``reported`` / ``reopened``, due to be
    assigned; ``action_id`` is empty).  ``state``: ``escalated`` (escalation level 1-3),
    ``overdue`` (past due, not escalated), ``due_soon`` (due within ``due_soon_hours``)
    or ``on_time``.  ``area_ids`` (None or empty: every area) keeps the items of those areas.
    """
    params: dict = {"now": now or dt.datetime.now(dt.UTC)}
    where = _site_clause("h.site_id", _sites(scope, site_ids), params)
    sql = f"""
        WITH items AS (
            SELECT 'action' AS item, a.id AS action_id, a.hazard_id, d.name AS department, p.name AS owner,
                   a.status AS action_status, a.created_at, a.due_at, a.escalation_level, a.last_escalated_at
            FROM corrective_action a
            JOIN hazard_report h ON h.id = a.hazard_id
            LEFT JOIN department d ON d.id = a.department_id
            LEFT JOIN person p ON p.id = a.owner_person_id
            WHERE a.status IN ('open', 'in_progress') AND {where}
            UNION ALL
            SELECT 'response', NULL, h.id, NULL, p.name, NULL, h.reported_at, h.response_due_at, 0, NULL
            FROM hazard_report h
            JOIN area ar ON ar.id = h.area_id
            LEFT JOIN person p ON p.id = ar.owner_person_id
            WHERE h.status IN ('reported', 'reopened') AND h.response_due_at IS NOT NULL AND {where})
        SELECT i.item, i.action_id, i.hazard_id, h.title, h.category, h.severity, h.status AS hazard_status,
               i.action_status, s.id AS site_id, s.code AS site, ar.id AS area_id, ar.name AS area,
               i.department, i.owner, i.created_at, i.due_at, i.escalation_level, i.last_escalated_at, h.is_repeat,
               round((extract(epoch FROM (i.due_at - :now)) / 3600.0)::numeric, 1)::float AS hours_to_due,
               (SELECT count(*) FROM corrective_action o WHERE o.hazard_id = i.hazard_id
                 AND o.status <> 'cancelled') AS team_count
        FROM items i
        JOIN hazard_report h ON h.id = i.hazard_id
        JOIN site s ON s.id = h.site_id
        JOIN area ar ON ar.id = h.area_id
        ORDER BY i.escalation_level DESC, i.due_at, i.hazard_id, i.action_id NULLS FIRST"""
    with _connect(bind) as conn:
        df = pd.read_sql(sa.text(sql), conn, params=params)
    if area_ids and len(df):
        df = df[df["area_id"].isin([int(a) for a in area_ids])].reset_index(drop=True)
    df["action_id"] = df["action_id"].astype("Int64")
    df["state"] = [board_state(int(lv), due, params["now"], due_soon_hours)
                   for lv, due in zip(df["escalation_level"], df["due_at"], strict=True)]
    df["escalated_to"] = [ladder_label(x) for x in df["escalation_level"]]
    return df


def sla_board_counts(bind: sa.Engine | sa.Connection, scope: Scope, *, site_ids: Iterable[int] | None = None,
                     now: dt.datetime | None = None, due_soon_hours: float = 24.0) -> dict[str, int]:
    df = sla_board(bind, scope, site_ids=site_ids, now=now, due_soon_hours=due_soon_hours)
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    return {s: int(counts.get(s, 0)) for s in BOARD_STATES}


def awaiting_response(bind: sa.Engine | sa.Connection, scope: Scope, *, site_ids: Iterable[int] | None = None,
                      now: dt.datetime | None = None) -> pd.DataFrame:
    """Reports not yet assigned (reported or reopened), with their response due time."""
    params: dict = {"now": now or dt.datetime.now(dt.UTC)}
    where = _site_clause("h.site_id", _sites(scope, site_ids), params)
    sql = f"""
        SELECT h.id AS hazard_id, h.title, h.category, h.severity, h.status, s.code AS site, ar.name AS area,
               h.reported_at, h.response_due_at, (h.response_due_at < :now) AS response_overdue,
               round((extract(epoch FROM (h.response_due_at - :now)) / 3600.0)::numeric, 1)::float AS hours_to_due
        FROM hazard_report h JOIN site s ON s.id = h.site_id JOIN area ar ON ar.id = h.area_id
        WHERE h.status IN ('reported', 'reopened') AND {where}
        ORDER BY h.response_due_at NULLS LAST, h.id"""
    with _connect(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def hazard_list(bind: sa.Engine | sa.Connection, scope: Scope, *, site_ids: Iterable[int] | None = None,
                status: str | None = None, open_only: bool = False, area_id: int | None = None,
                limit: int = 200) -> pd.DataFrame:
    params: dict = {"limit": int(limit)}
    conds = [_site_clause("h.site_id", _sites(scope, site_ids), params)]
    if status:
        conds.append("h.status = :status")
        params["status"] = status
    if open_only:
        conds.append("h.status NOT IN ('closed', 'rejected')")
    if area_id is not None:
        conds.append("h.area_id = :area_id")
        params["area_id"] = int(area_id)
    sql = f"""
        SELECT h.id, s.code AS site, ar.name AS area, h.category, h.severity, h.status, h.title, h.source,
               h.reported_at, h.response_due_at, h.responded_at, h.closed_at, h.is_repeat, h.predecessor_id,
               p.name AS reporter, h.points_awarded,
               (SELECT count(*) FROM corrective_action a WHERE a.hazard_id = h.id AND a.status <> 'cancelled') AS actions,
               (SELECT count(*) FROM corrective_action a WHERE a.hazard_id = h.id AND a.status IN ('done', 'verified'))
                   AS actions_done
        FROM hazard_report h JOIN site s ON s.id = h.site_id JOIN area ar ON ar.id = h.area_id
        LEFT JOIN person p ON p.id = h.reporter_person_id
        WHERE {' AND '.join(conds)}
        ORDER BY h.reported_at DESC, h.id DESC LIMIT :limit"""  # noqa: E501 - SQL text kept as written
    with _connect(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def hazard_detail(bind: sa.Engine | sa.Connection, scope: Scope, hazard_id: int) -> dict | None:
    """One report with its transitions, actions (and escalations) and predecessors (None: no such
    report in the scope)."""
    params: dict = {"id": int(hazard_id)}
    where = _site_clause("h.site_id", _sites(scope), params)
    with _connect(bind) as conn:
        row = conn.execute(sa.text(f"""
            SELECT h.*, s.code AS site, s.name AS site_name, ar.name AS area, p.name AS reporter, ast.code AS asset
            FROM hazard_report h JOIN site s ON s.id = h.site_id JOIN area ar ON ar.id = h.area_id
            LEFT JOIN person p ON p.id = h.reporter_person_id LEFT JOIN asset ast ON ast.id = h.asset_id
            WHERE h.id = :id AND {where}"""), params).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["transitions"] = [dict(r) for r in conn.execute(sa.text(
            "SELECT from_status, to_status, actor, at, note FROM hazard_transition "
            "WHERE hazard_id = :id ORDER BY at, id"),
            {"id": hazard_id}).mappings()]
        out["actions"] = [dict(r) for r in conn.execute(sa.text("""
            SELECT a.id, d.name AS department, p.name AS owner, a.description, a.status, a.created_at, a.due_at,
                   a.completed_at, a.verified_at, a.verified_by, a.escalation_level,
                   (SELECT string_agg('L' || e.level || ' ' || to_char(e.escalated_at AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD HH24:MI'), ', ' ORDER BY e.level)
                      FROM action_escalation e WHERE e.action_id = a.id) AS escalations
            FROM corrective_action a LEFT JOIN department d ON d.id = a.department_id
            LEFT JOIN person p ON p.id = a.owner_person_id
            WHERE a.hazard_id = :id ORDER BY a.id"""), {"id": hazard_id}).mappings()]
        out["predecessors"] = [dict(r) for r in conn.execute(sa.text("""
            WITH RECURSIVE chain(id, predecessor_id, depth) AS (
                SELECT id, predecessor_id, 0 FROM hazard_report WHERE id = :id
                UNION ALL
                SELECT h.id, h.predecessor_id, c.depth + 1 FROM hazard_report h JOIN chain c ON h.id = c.predecessor_id
                WHERE c.depth < 100)
            SELECT h.id, h.reported_at, h.status, h.title FROM chain c JOIN hazard_report h ON h.id = c.id
            WHERE c.depth > 0 ORDER BY c.depth"""), {"id": hazard_id}).mappings()]
    return out


def reporter_reports(bind: sa.Engine | sa.Connection, scope: Scope, person_id: int, *,
                     limit: int = 100) -> pd.DataFrame:
    """A reporter's own reports (at the sites in scope): where each one stands, and what happened last."""
    params: dict = {"pid": int(person_id), "limit": int(limit)}
    where = _site_clause("h.site_id", _sites(scope), params)
    sql = f"""
        SELECT h.id, h.title, h.category, h.severity, h.status, s.code AS site, ar.name AS area, h.reported_at,
               h.response_due_at, h.responded_at, h.closed_at, h.reject_reason, h.points_awarded, h.is_repeat,
               (SELECT count(*) FROM corrective_action a WHERE a.hazard_id = h.id AND a.status <> 'cancelled') AS actions,
               (SELECT count(*) FROM corrective_action a WHERE a.hazard_id = h.id AND a.status IN ('done', 'verified'))
                   AS actions_done,
               t.to_status AS last_step, t.at AS last_step_at, t.actor AS last_step_by
        FROM hazard_report h JOIN site s ON s.id = h.site_id JOIN area ar ON ar.id = h.area_id
        LEFT JOIN LATERAL (SELECT to_status, at, actor FROM hazard_transition x WHERE x.hazard_id = h.id
                           ORDER BY x.at DESC, x.id DESC LIMIT 1) t ON TRUE
        WHERE h.reporter_person_id = :pid AND {where}
        ORDER BY h.reported_at DESC, h.id DESC LIMIT :limit"""  # noqa: E501 - SQL text kept as written
    with _connect(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def reporter_summary(bind: sa.Engine | sa.Connection, scope: Scope, person_id: int) -> dict:
    params: dict = {"pid": int(person_id)}
    where = _site_clause("site_id", _sites(scope), params)
    with _connect(bind) as conn:
        r = conn.execute(sa.text(f"""
            SELECT count(*) AS reports,
                   count(*) FILTER (WHERE status NOT IN ('closed', 'rejected')) AS open,
                   count(*) FILTER (WHERE status = 'closed') AS closed,
                   count(*) FILTER (WHERE status = 'rejected') AS rejected,
                   coalesce(sum(points_awarded), 0) AS points
            FROM hazard_report WHERE reporter_person_id = :pid AND {where}"""), params).mappings().one()
    return {k: int(v) for k, v in r.items()}


def leaderboard(bind: sa.Engine | sa.Connection, scope: Scope, site_id: int, *, since: dt.datetime | None = None,
                limit: int = 10) -> pd.DataFrame:
    """Reporters of one site ranked by points (then valid reports) since ``since`` (no row for a site
    outside the scope)."""
    params: dict = {"site": int(site_id), "limit": int(limit)}
    cond = "AND " + _site_clause("h.site_id", _sites(scope), params)
    if since is not None:
        cond += " AND h.reported_at >= :since"
        params["since"] = since
    sql = f"""
        SELECT rank() OVER (ORDER BY sum(h.points_awarded) DESC, count(*) FILTER (WHERE h.status <> 'rejected') DESC)
                   AS rank,
               p.id AS person_id, p.name, d.name AS department,
               count(*) AS reports, count(*) FILTER (WHERE h.status <> 'rejected') AS valid_reports,
               count(*) FILTER (WHERE h.severity IN ('high', 'severe') AND h.status <> 'rejected') AS serious,
               sum(h.points_awarded)::int AS points
        FROM hazard_report h JOIN person p ON p.id = h.reporter_person_id
        LEFT JOIN department d ON d.id = p.department_id
        WHERE h.site_id = :site {cond}
        GROUP BY p.id, p.name, d.name
        ORDER BY rank, p.name LIMIT :limit"""
    with _connect(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def repeat_hazards(bind: sa.Engine | sa.Connection, scope: Scope, *, site_ids: Iterable[int] | None = None,
                   since: dt.datetime | None = None) -> pd.DataFrame:
    """Repeat counts by area and category (reports linked to a predecessor)."""
    params: dict = {}
    conds = [_site_clause("h.site_id", _sites(scope, site_ids), params), "h.is_repeat"]
    if since is not None:
        conds.append("h.reported_at >= :since")
        params["since"] = since
    sql = f"""
        SELECT s.code AS site, ar.name AS area, h.category, count(*) AS repeats, max(h.reported_at) AS last_reported
        FROM hazard_report h JOIN site s ON s.id = h.site_id JOIN area ar ON ar.id = h.area_id
        WHERE {' AND '.join(conds)}
        GROUP BY s.code, ar.name, h.category ORDER BY repeats DESC, site, area"""
    with _connect(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def inspections(bind: sa.Engine | sa.Connection, scope: Scope, *, site_ids: Iterable[int] | None = None,
                status: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
                limit: int = 500) -> pd.DataFrame:
    params: dict = {"limit": int(limit)}
    conds = [_site_clause("r.site_id", _sites(scope, site_ids), params)]
    if status:
        conds.append("i.status = :status")
        params["status"] = status
    if since is not None:
        conds.append("i.due_at >= :since")
        params["since"] = since
    if until is not None:
        conds.append("i.due_at < :until")
        params["until"] = until
    sql = f"""
        SELECT i.id, s.code AS site, ar.name AS area, ar.risk_class, r.name AS route, i.due_at, i.status,
               i.performed_at, p.name AS inspector, i.findings
        FROM inspection i JOIN inspection_route r ON r.id = i.route_id JOIN site s ON s.id = r.site_id
        JOIN area ar ON ar.id = i.area_id LEFT JOIN person p ON p.id = i.inspector_person_id
        WHERE {' AND '.join(conds)}
        ORDER BY i.due_at DESC, i.id DESC LIMIT :limit"""
    with _connect(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def inspection_form(bind: sa.Engine | sa.Connection, scope: Scope, inspection_id: int) -> dict | None:
    """What an inspector needs to fill in one inspection: route, area and checklist (None: no such
    inspection in the scope)."""
    params: dict = {"id": int(inspection_id)}
    where = _site_clause("r.site_id", _sites(scope), params)
    with _connect(bind) as conn:
        r = conn.execute(sa.text(f"""
            SELECT i.id, i.status, i.due_at, i.performed_at, i.results, r.name AS route, r.checklist,
                   ar.name AS area, ar.id AS area_id, r.site_id
            FROM inspection i JOIN inspection_route r ON r.id = i.route_id JOIN area ar ON ar.id = i.area_id
            WHERE i.id = :id AND {where}"""), params).mappings().first()
    return dict(r) if r else None


def notifications(bind: sa.Engine | sa.Connection, scope: Scope, *, status: str | None = None,
                  limit: int = 200) -> pd.DataFrame:
    """The notification queue, newest first.  Notifications belong to no site: only a scope over
    every site reads them (a site-bound scope gets no row)."""
    params: dict = {"limit": int(limit)}
    cond = "TRUE" if scope.all_sites else "FALSE"
    if status:
        cond += " AND status = :status"
        params["status"] = status
    sql = f"""SELECT id, channel, recipient, subject, status, attempts, last_error, created_at, next_attempt_at,
                     sent_at, ref FROM notification WHERE {cond} ORDER BY id DESC LIMIT :limit"""
    with _connect(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def job_runs(bind: sa.Engine | sa.Connection, scope: Scope, *, limit: int = 50) -> pd.DataFrame:
    """The latest background job runs (like notifications, site-less: only a scope over every site)."""
    sql = f"""SELECT id, job, started_at, finished_at, duration_s, status, worker, detail
             FROM job_run WHERE {"TRUE" if scope.all_sites else "FALSE"} ORDER BY id DESC LIMIT :limit"""
    with _connect(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params={"limit": int(limit)})
