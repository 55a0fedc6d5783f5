"""Counts behind the safety KPIs, per site, region, department, area, month or for the group.

Every measure is an additive count (hours, cases, hazards, actions, inspections, training
records), so any grouping is the sum of its parts: the group's TRIR comes from the group's
summed cases and hours, never from an average of site rates.  The formulas themselves live
in ``qhse.domain.kpi``; this module only counts.

Periods are whole months in the reporting time zone: ``[start, end)`` with both dates the
first of a month.  Items that fall due after ``as_of`` (default: now) are not counted yet.

Case classification (one place):

* recordable case: ``incident.recordable``;
* days-away case: a recordable case with ``lost_time`` or days away > 0;
* restricted/transfer case: a recordable case with ``restricted_or_transfer`` that is not a
  days-away case (a case is counted once in DART);
* lost-time injury: ``lost_time`` or a fatality;
* injury case (for the near-miss ratio): kind injury, illness or first aid;
* hours: ``hours_worked.hours`` (+ ``contractor_hours`` when contractors are included);
  a row without a department holds hours not attributed to any department.  Hours are not
  recorded per area: frequency rates by area are not available.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.queries._sites import add_months, default_tz, local_midnight, months_between, scope_params, scope_sql

GROUPINGS = ("group", "region", "site", "department", "area", "month")
COUNT_FIELDS = ("hours", "recordable", "days_away_cases", "restricted_cases", "lost_time", "days_away",
                "days_restricted", "injuries", "near_misses", "hazards_reported", "hazards_closed", "actions_due",
                "actions_on_time", "training_held", "training_valid", "inspections_due", "inspections_done")


def _month_sql(col: str) -> str:
    return f"date_trunc('month', {col} AT TIME ZONE :tz)::date"


def _facts(conn, *, start: dt.date, end: dt.date, tz: str, scope, include_contractors: bool,
           as_of: dt.datetime, per_month: bool) -> list[dict]:
    """Fact rows (site, department, area, month, some counts) for [start, end)."""
    months = months_between(start, end)
    t0, t1 = local_midnight(start, tz), local_midnight(end, tz)
    p = dict(scope_params(scope), tz=tz, t0=t0, t1=t1, as_of=as_of, contr=include_contractors,
             m0=start, m1=end)
    # Cut-off for "closed by the end of the period" and "valid at the end of the period":
    # the end of each month when counting per month, else the end of the whole period.
    if per_month:
        cut_months = months
        cutoffs = [min(local_midnight(add_months(m, 1), tz), as_of) for m in months]
    else:
        cut_months = [months[0]] if months else []
        cutoffs = [min(t1, as_of)]
    p["cut_months"], p["cutoffs"] = cut_months, cutoffs
    month_key = "{m}" if per_month else ":m0"
    rows: list[dict] = []

    def run(sql: str) -> None:
        rows.extend(dict(r._mapping) for r in conn.execute(sa.text(sql), p))

    # Hours worked (monthly records).
    run(f"""
        SELECT h.site_id, h.department_id, NULL::int AS area_id, {month_key.format(m='h.month')} AS month,
               sum(h.hours + CASE WHEN :contr THEN h.contractor_hours ELSE 0 END)::float AS hours
        FROM hours_worked h
        WHERE h.month >= :m0 AND h.month < :m1 AND {scope_sql('h.site_id')}
        GROUP BY 1, 2, 3, 4""")
    # Incidents.
    run(f"""
        SELECT i.site_id, coalesce(i.department_id, a.department_id) AS department_id, i.area_id,
               {month_key.format(m=_month_sql('i.occurred_at'))} AS month,
               count(*) FILTER (WHERE i.recordable) AS recordable,
               count(*) FILTER (WHERE i.recordable AND (i.lost_time OR i.days_away > 0)) AS days_away_cases,
               count(*) FILTER (WHERE i.recordable AND i.restricted_or_transfer
                                  AND NOT (i.lost_time OR i.days_away > 0)) AS restricted_cases,
               count(*) FILTER (WHERE i.lost_time OR i.fatality) AS lost_time,
               coalesce(sum(i.days_away), 0) AS days_away,
               coalesce(sum(i.days_restricted), 0) AS days_restricted,
               count(*) FILTER (WHERE i.kind IN ('injury', 'illness', 'first_aid')) AS injuries,
               count(*) FILTER (WHERE i.kind = 'near_miss') AS near_misses
        FROM incident i LEFT JOIN area a ON a.id = i.area_id
        WHERE i.occurred_at >= :t0 AND i.occurred_at < :t1 AND i.occurred_at < :as_of
          AND (:contr OR NOT i.contractor_involved) AND {scope_sql('i.site_id')}
        GROUP BY 1, 2, 3, 4""")
    # Hazards reported (rejected reports are not hazards), closed by the cut-off.
    cut_join = ("JOIN (SELECT unnest(CAST(:cut_months AS date[])) AS month, "
                "unnest(CAST(:cutoffs AS timestamptz[])) AS cutoff) c ON c.month = ")
    hz_month = _month_sql("h.reported_at")
    run(f"""
        SELECT h.site_id, a.department_id, h.area_id, c.month AS month,
               count(*) AS hazards_reported,
               count(*) FILTER (WHERE h.closed_at IS NOT NULL AND h.closed_at < c.cutoff) AS hazards_closed
        FROM hazard_report h JOIN area a ON a.id = h.area_id
        {cut_join}{hz_month if per_month else ':m0'}
        WHERE h.status <> 'rejected' AND h.reported_at >= :t0 AND h.reported_at < :t1 AND h.reported_at < :as_of
          AND {scope_sql('h.site_id')}
        GROUP BY 1, 2, 3, 4""")
    # Corrective actions due in the period (already due at as_of), done by their due time.
    run(f"""
        SELECT h.site_id, coalesce(ca.department_id, a.department_id) AS department_id, h.area_id,
               {month_key.format(m=_month_sql('ca.due_at'))} AS month,
               count(*) AS actions_due,
               count(*) FILTER (WHERE ca.completed_at IS NOT NULL AND ca.completed_at <= ca.due_at) AS actions_on_time
        FROM corrective_action ca JOIN hazard_report h ON h.id = ca.hazard_id JOIN area a ON a.id = h.area_id
        WHERE ca.status <> 'cancelled' AND ca.due_at >= :t0 AND ca.due_at < :t1 AND ca.due_at < :as_of
          AND {scope_sql('h.site_id')}
        GROUP BY 1, 2, 3, 4""")
    # Inspections due in the period (already due at as_of), performed.
    run(f"""
        SELECT a.site_id, a.department_id, i.area_id, {month_key.format(m=_month_sql('i.due_at'))} AS month,
               count(*) AS inspections_due, count(*) FILTER (WHERE i.status = 'done') AS inspections_done
        FROM inspection i JOIN area a ON a.id = i.area_id
        WHERE i.due_at >= :t0 AND i.due_at < :t1 AND i.due_at < :as_of AND {scope_sql('a.site_id')}
        GROUP BY 1, 2, 3, 4""")
    # Training: latest passed record per person and course at each cut-off, valid on its last day.
    run(f"""
        WITH c AS (
            SELECT unnest(CAST(:cut_months AS date[])) AS month,
                   ((unnest(CAST(:cutoffs AS timestamptz[])) AT TIME ZONE :tz)::date - 1) AS last_day
        ), latest AS (
            SELECT DISTINCT ON (c.month, r.person_id, r.course_id) c.month, c.last_day, r.person_id, r.expires_on
            FROM c JOIN training_record r ON r.completed_on <= c.last_day AND r.passed
            ORDER BY c.month, r.person_id, r.course_id, r.completed_on DESC
        )
        SELECT p.site_id, p.department_id, NULL::int AS area_id, l.month,
               count(*) AS training_held,
               count(*) FILTER (WHERE l.expires_on IS NULL OR l.expires_on >= l.last_day) AS training_valid
        FROM latest l JOIN person p ON p.id = l.person_id
        WHERE p.active AND {scope_sql('p.site_id')}
        GROUP BY 1, 2, 3, 4""")
    return rows


def _dims(conn) -> dict[str, dict[int, dict]]:
    sites = {r.id: dict(r._mapping) for r in conn.execute(sa.text(
        "SELECT s.id, s.code, s.name, s.region_id, r.code AS region_code, r.name AS region_name "
        "FROM site s JOIN region r ON r.id = s.region_id"))}
    depts = {r.id: dict(r._mapping) for r in conn.execute(sa.text(
        "SELECT id, site_id, code, name, stage FROM department"))}
    areas = {r.id: dict(r._mapping) for r in conn.execute(sa.text(
        "SELECT id, site_id, department_id, code, name, kind, risk_class FROM area"))}
    regions = {r.id: dict(r._mapping) for r in conn.execute(sa.text("SELECT id, code, name FROM region"))}
    return {"site": sites, "department": depts, "area": areas, "region": regions}


def kpi_counts(engine: sa.Engine, scope=None, *, start: dt.date, end: dt.date, by: str = "site",
               include_contractors: bool = True, as_of: dt.datetime | None = None, tz: str | None = None,
               parent: tuple[str, int] | None = None) -> list[dict]:
    """Summed KPI counts per unit of ``by`` for the months in ``[start, end)``.

    ``scope``: the caller's sites (None: all; a list of ids; or a Scope).  ``parent``:
    restrict to one region or site, e.g. ``("region", 1)`` or ``("site", 3)``.
    Returns one dict per unit: ``key``, ``label``, ``site_id``/``region_id`` where they
    apply, ``hours_known`` and the counts named in ``COUNT_FIELDS``.
    """
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}; choose one of {', '.join(GROUPINGS)}")
    if end <= start:
        raise ValueError("the period is empty: end must be after start")
    tz = tz or default_tz()
    now = dt.datetime.now(dt.UTC)
    as_of = min(as_of or now, local_midnight(end, tz))
    with engine.connect() as conn:
        facts = _facts(conn, start=start, end=end, tz=tz, scope=scope, include_contractors=include_contractors,
                       as_of=as_of, per_month=(by == "month"))
        dims = _dims(conn)
    sites = dims["site"]
    if parent is not None:
        kind, pid = parent
        if kind == "region":
            facts = [f for f in facts if sites.get(f["site_id"], {}).get("region_id") == pid]
        elif kind == "site":
            facts = [f for f in facts if f["site_id"] == pid]
        else:
            raise ValueError(f"unknown parent kind {kind!r} (region or site)")

    out: dict[object, dict] = {}
    for f in facts:
        if by == "group":
            key, meta = "group", {"label": "Group"}
        elif by == "region":
            s = sites.get(f["site_id"])
            key = s["region_id"] if s else None
            meta = {"label": s["region_name"] if s else "?", "region_id": key}
        elif by == "site":
            key = f["site_id"]
            s = sites.get(key, {})
            meta = {"label": s.get("name", str(key)), "code": s.get("code"), "site_id": key,
                    "region_id": s.get("region_id")}
        elif by == "department":
            key = f["department_id"]
            d = dims["department"].get(key) if key is not None else None
            meta = {"label": f"{sites[d['site_id']]['code']} / {d['name']}" if d else "(no department)",
                    "site_id": d["site_id"] if d else f["site_id"], "stage": d["stage"] if d else None}
            if key is None:
                key = ("none", f["site_id"])
        elif by == "area":
            key = f["area_id"]
            if key is None:
                continue  # hours and training are not recorded per area
            a = dims["area"][key]
            meta = {"label": f"{sites[a['site_id']]['code']} / {a['name']}", "site_id": a["site_id"],
                    "risk_class": a["risk_class"], "code": a["code"]}
        else:  # month
            key = f["month"]
            meta = {"label": f["month"].strftime("%Y-%m"), "month": f["month"]}
        row = out.get(key)
        if row is None:
            row = out[key] = {"key": key, **meta, "hours_known": by != "area", **{c: 0 for c in COUNT_FIELDS}}
        for c in COUNT_FIELDS:
            v = f.get(c)
            if v is not None:
                row[c] += float(v) if c == "hours" else int(v)
    rows = list(out.values())
    if by == "month":
        have = {r["key"] for r in rows}
        for m in months_between(start, end):
            if m not in have:
                rows.append({"key": m, "label": m.strftime("%Y-%m"), "month": m, "hours_known": True,
                             **{c: 0 for c in COUNT_FIELDS}})
        rows.sort(key=lambda r: r["key"])
    else:
        rows.sort(key=lambda r: str(r["label"]))
    return rows


def scoped_sites(engine: sa.Engine, scope=None) -> list[dict]:
    """Sites (with region) the caller may see."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(
            f"SELECT s.id, s.code, s.name, s.industry, s.city, s.settings, s.region_id, r.code AS region_code, "
            f"r.name AS region_name FROM site s JOIN region r ON r.id = s.region_id "
            f"WHERE {scope_sql('s.id')} ORDER BY r.code, s.code"), scope_params(scope))]


def latest_month_with_data(engine: sa.Engine, scope=None, tz: str | None = None) -> dt.date | None:
    """The newest month with hours worked recorded (None without data)."""
    with engine.connect() as conn:
        m = conn.execute(sa.text(f"SELECT max(month) FROM hours_worked h WHERE {scope_sql('h.site_id')}"),
                         scope_params(scope)).scalar()
    return m

