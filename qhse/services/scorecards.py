"""Assessment scorecards: indicators from versioned YAML, monthly scores computed from the data.

* Indicators are defined in ``qhse/domain/indicators.yaml`` (code + version, level, process stage,
  data source, formula, target and thresholds) and loaded into ``assessment_indicator`` by
  :func:`sync_indicators`; a changed definition needs a new version.
* :func:`compute_month` (called by the job runner, the CLI and the demo) computes every
  active indicator for every unit it applies to from the rows its data source returns, and
  stores the value, the rating and the evidence rows (table + id) behind it.
* Manual-check indicators take a recorded entry with evidence (:func:`record_manual_entry`).
* Two consecutive "needs improvement" ratings of the same indicator and unit flag the unit
  for an improvement plan (:func:`needs_plan`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db import models as m
from db.queries._sites import add_months, default_tz, local_midnight, month_start
from db.queries.scorecard_sources import SOURCES
from db.queries.scorecard_sources import units as load_units
from qhse.domain.access import SiteScope
from qhse.domain.performance import PerformanceConfig
from qhse.domain.scorecards import (
    RATINGS,
    SOURCE_SPECS,
    IndicatorDef,
    ScorecardError,
    Unit,
    applicable_units,
    changed_fields,
    check_manual_value,
    evidence_rows,
    group_items,
    needs_plan,
    parse_indicators,
    rating,
)
from qhse.services.performance import default_config

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "domain" / "indicators.yaml"
# Every data source the rules know has its query (db.queries.scorecard_sources), and no other.
assert set(SOURCE_SPECS) == set(SOURCES)


def load_indicators(path: str | Path | None = None) -> list[IndicatorDef]:
    """Read and validate an indicator file; raise ScorecardError naming the problem."""
    p = Path(path) if path else DEFAULT_PATH
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScorecardError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return parse_indicators(text, str(p))


@dataclass
class SyncResult:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


def sync_indicators(conn: sa.Connection, defs: list[IndicatorDef] | None = None) -> SyncResult:
    """Bring ``assessment_indicator`` in line with the definitions (in the caller's transaction).

    New code or higher version: a new row (older versions of the code become inactive).
    Same version with a different definition, or a lower version than stored: refused.
    Codes no longer defined: deactivated (their scores are kept)."""
    defs = load_indicators() if defs is None else defs
    t = m.AssessmentIndicator.__table__
    rows = conn.execute(sa.select(t).where(t.c.site_id.is_(None))).mappings().all()
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["code"] not in latest or r["version"] > latest[r["code"]]["version"]:
            latest[r["code"]] = dict(r)
    res = SyncResult()
    for d in defs:
        cur = latest.get(d.code)
        new = d.db_fields()
        if cur is None or d.version > cur["version"]:
            conn.execute(sa.update(t).where(t.c.code == d.code).values(active=False))
            conn.execute(sa.insert(t).values(**new, active=True))
            res.added.append(f"{d.code} v{d.version}")
        elif d.version < cur["version"]:
            raise ScorecardError(f"indicator {d.code}: version {d.version} is older than the stored "
                                 f"version {cur['version']}")
        else:
            diff = changed_fields(cur, new)
            if diff:
                raise ScorecardError(f"indicator {d.code} v{d.version} differs from the stored definition "
                                     f"({', '.join(diff)}): raise its version to change it")
            if not cur["active"]:
                conn.execute(sa.update(t).where(t.c.id == cur["id"]).values(active=True))
            res.unchanged.append(f"{d.code} v{d.version}")
    defined = {d.code for d in defs}
    for code, cur in latest.items():
        if code not in defined and cur["active"]:
            conn.execute(sa.update(t).where(t.c.code == code).values(active=False))
            res.deactivated.append(code)
    return res


# ------------------------------------------------------------------------- computation
@dataclass
class ComputeResult:
    month: dt.date
    scores: int = 0  # computed scores (manual entries and placeholders not included)
    ratings: dict[str, int] = field(default_factory=lambda: {r: 0 for r in RATINGS})
    flagged: int = 0
    awaiting_manual: int = 0
    manual_entered: int = 0
    sync: SyncResult | None = None


def _window(month: dt.date, as_of: dt.datetime | None, tz: str) -> dict[str, Any]:
    t0 = local_midnight(month_start(month), tz)
    t1 = local_midnight(add_months(month_start(month), 1), tz)
    now = dt.datetime.now(dt.UTC)
    return {"t0": t0, "t1": t1, "as_of": as_of or now, "tz": tz}


def compute_month(engine: sa.Engine, month: dt.date, *, as_of: dt.datetime | None = None, tz: str | None = None,
                  indicators: list[IndicatorDef] | None = None, config: PerformanceConfig | None = None
                  ) -> ComputeResult:
    """Compute and store every active indicator's score for ``month`` (idempotent: re-running
    replaces the computed scores; manual entries are kept).  Returns counts by rating."""
    month = month_start(month)
    tz = tz or default_tz()
    cfg = config or default_config()
    w = _window(month, as_of, tz)
    if w["as_of"] <= w["t0"]:
        raise ScorecardError(f"{month:%Y-%m} has not started yet")
    res = ComputeResult(month=month)
    st = m.AssessmentScore.__table__
    it = m.AssessmentIndicator.__table__
    with engine.begin() as conn:
        # One computation per month at a time (several workers, or the CLI beside the worker).
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('qhse.services.scorecards'), :k)"),
                     {"k": month.year * 100 + month.month})
        res.sync = sync_indicators(conn, indicators)
        active = conn.execute(sa.select(it).where(it.c.active, it.c.site_id.is_(None)).order_by(it.c.id)
                              ).mappings().all()
        units = load_units(conn)
        site_enterprise = {s["id"]: s["enterprise_id"] for s in units["site"]}
        cache: dict[tuple[str, str], dict[tuple[str, int], list[dict[str, Any]]]] = {}
        for active_row in active:
            ind = dict(active_row)
            targets = applicable_units(ind, units)
            # Scores of other versions of this code for this month are replaced by this version's.
            other_versions = sa.select(it.c.id).where(it.c.code == ind["code"], it.c.id != ind["id"])
            if ind["manual"]:
                # Entries already made are kept; units without one get a placeholder awaiting entry.
                existing = {(r.unit_type, r.unit_id): r for r in conn.execute(
                    sa.select(st.c.unit_type, st.c.unit_id, st.c.rating, st.c.manual_entry_by).where(
                        st.c.period == month, st.c.indicator_id.in_(
                            sa.select(it.c.id).where(it.c.code == ind["code"]))))}
                todo = [u for u in targets if (u.unit_type, u.unit_id) not in existing]
                if todo:
                    conn.execute(pg_insert(st).on_conflict_do_nothing(), [
                        dict(indicator_id=ind["id"], unit_type=u.unit_type, unit_id=u.unit_id, site_id=u.site_id,
                             period=month, value=None, numerator=None, denominator=None, rating="not_available",
                             evidence=[], needs_plan=False) for u in todo])
                for u in targets:
                    entry = existing.get((u.unit_type, u.unit_id))
                    if entry is None or entry.manual_entry_by is None:
                        res.awaiting_manual += 1
                        res.ratings["not_available"] += 1
                    else:
                        res.manual_entered += 1
                        res.ratings[entry.rating] += 1
                continue
            params = dict(ind["params"] or {})
            if ind["source"] == "kpi_rate":
                params["include_contractors"] = cfg.kpi.include_contractors
            key = (ind["source"], repr(sorted(params.items())))
            if key not in cache:
                cache[key] = group_items(SOURCES[ind["source"]](conn, w, params), site_enterprise)
            grouped = cache[key]
            formula = SOURCE_SPECS[ind["source"]][2]
            rows: list[dict[str, Any]] = []
            for u in targets:
                mine = grouped.get((u.unit_type, u.unit_id), [])
                num = float(sum(i["num"] for i in mine))
                den = float(sum(i["den"] for i in mine))
                value = formula(num, den, params)
                r = rating(value, ind["excellent_at"], ind["qualified_at"], ind["higher_is_better"])
                rows.append(dict(indicator_id=ind["id"], unit_type=u.unit_type, unit_id=u.unit_id, site_id=u.site_id,
                                 period=month, value=value, numerator=num, denominator=den, rating=r,
                                 evidence=evidence_rows(mine, ind["source"]), needs_plan=False))
                res.ratings[r] += 1
            if rows:
                conn.execute(sa.delete(st).where(st.c.period == month, st.c.indicator_id.in_(other_versions),
                                                 st.c.manual_entry_by.is_(None)))
                stmt = pg_insert(st)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=[st.c.indicator_id, st.c.unit_type, st.c.unit_id, st.c.period],
                    set_={c: stmt.excluded[c] for c in ("site_id", "value", "numerator", "denominator", "rating",
                                                         "evidence")} | {"computed_at": sa.func.now()}), rows)
            res.scores += len(rows)
        res.flagged = refresh_needs_plan(conn, month)
        refresh_needs_plan(conn, add_months(month, 1))
    return res


def compute_range(engine: sa.Engine, start: dt.date, end: dt.date, *, progress: Callable[[int, int, dt.date], None]
                  | None = None, **kw: Any) -> list[ComputeResult]:
    """Compute the months from ``start`` to ``end`` inclusive, oldest first."""
    months = []
    d = month_start(start)
    while d <= month_start(end):
        months.append(d)
        d = add_months(d, 1)
    out = []
    for n, mo in enumerate(months, 1):
        out.append(compute_month(engine, mo, **kw))
        if progress:
            progress(n, len(months), mo)
    return out


def refresh_needs_plan(conn: sa.Connection, month: dt.date) -> int:
    """Set ``needs_plan`` on the month's scores from this and the previous month's ratings.
    Returns how many of the month's scores are flagged."""
    prev = add_months(month, -1)
    rows = conn.execute(sa.text("""
        SELECT s.id, s.rating, s.needs_plan,
               (SELECT s2.rating FROM assessment_score s2 JOIN assessment_indicator i2 ON i2.id = s2.indicator_id
                WHERE i2.code = i.code AND s2.unit_type = s.unit_type AND s2.unit_id = s.unit_id
                  AND s2.period = :prev
                ORDER BY i2.version DESC LIMIT 1) AS prev_rating
        FROM assessment_score s JOIN assessment_indicator i ON i.id = s.indicator_id
        WHERE s.period = :month"""), {"month": month, "prev": prev}).all()
    flagged, changes = 0, []
    for r in rows:
        flag = needs_plan(r.prev_rating, r.rating)
        flagged += flag
        if flag != r.needs_plan:
            changes.append({"i": r.id, "f": flag})
    if changes:
        conn.execute(sa.text("UPDATE assessment_score SET needs_plan = :f WHERE id = :i"), changes)
    return flagged


# ------------------------------------------------------------------------ manual entries
def resolve_unit(conn: sa.Connection, unit: str) -> Unit:
    """``site:SZ-ELEC``, ``department:SZ-ELEC/FAC``, ``post:SZ-ELEC/FAC/OP``, ``enterprise:1`` or
    the same with numeric ids (``department:7``)."""
    kind, _, ref = unit.partition(":")
    if kind not in ("enterprise", "site", "department", "post") or not ref:
        raise ScorecardError(f"unit {unit!r}: write it as site:CODE, department:SITE/CODE, post:SITE/DEPT/CODE "
                             f"or enterprise:ID")
    if ref.isdigit():
        rid = int(ref)
        sql = {"enterprise": "SELECT id, NULL::int AS site_id FROM enterprise WHERE id = :r",
               "site": "SELECT id, id AS site_id FROM site WHERE id = :r",
               "department": "SELECT id, site_id FROM department WHERE id = :r",
               "post": "SELECT p.id, d.site_id FROM post p JOIN department d ON d.id = p.department_id "
                       "WHERE p.id = :r"}[kind]
        row = conn.execute(sa.text(sql), {"r": rid}).first()
    else:
        parts = ref.split("/")
        need = {"site": 1, "department": 2, "post": 3, "enterprise": 0}[kind]
        if len(parts) != need:
            raise ScorecardError(f"unit {unit!r}: a {kind} is named by {need or 'its id'} "
                                 f"code{'s' if need > 1 else ''} separated by '/'")
        if kind == "site":
            row = conn.execute(sa.text("SELECT id, id AS site_id FROM site WHERE code = :a"), {"a": parts[0]}).first()
        elif kind == "department":
            row = conn.execute(sa.text("SELECT d.id, d.site_id FROM department d JOIN site s ON s.id = d.site_id "
                                       "WHERE s.code = :a AND d.code = :b"), {"a": parts[0], "b": parts[1]}).first()
        else:
            row = conn.execute(sa.text(
                "SELECT p.id, d.site_id FROM post p JOIN department d ON d.id = p.department_id "
                "JOIN site s ON s.id = d.site_id WHERE s.code = :a AND d.code = :b AND p.code = :c"),
                {"a": parts[0], "b": parts[1], "c": parts[2]}).first()
    if row is None:
        raise ScorecardError(f"unit {unit!r} not found")
    return Unit(kind, int(row.id), row.site_id)


def record_manual_entry(engine: sa.Engine, *, code: str, unit: Unit | str, month: dt.date, value: float,
                        entered_by: str, evidence: str, numerator: float | None = None,
                        denominator: float | None = None, scope: SiteScope = None) -> dict[str, Any]:
    """Store a manual-check result (value with its written evidence) for one unit and month.

    The entry is rated with the indicator's thresholds, written to the audit log, and the
    two-consecutive rule is re-applied for this month and the next."""
    month = month_start(month)
    if not entered_by or not entered_by.strip():
        raise ScorecardError("say who made the check (entered_by)")
    if not evidence or len(evidence.strip()) < 5:
        raise ScorecardError("a manual entry needs its evidence (what was checked, document numbers)")
    value = check_manual_value(value)
    if month > month_start(dt.date.today()):
        raise ScorecardError(f"{month:%Y-%m} is in the future")
    it, st = m.AssessmentIndicator.__table__, m.AssessmentScore.__table__
    with engine.begin() as conn:
        sync_indicators(conn)
        ind = conn.execute(sa.select(it).where(it.c.code == code, it.c.active)).mappings().first()
        if ind is None:
            raise ScorecardError(f"no active indicator {code!r}")
        if not ind["manual"]:
            raise ScorecardError(f"indicator {code} is computed from the data; it takes no manual entry")
        value = check_manual_value(value, ind["unit"])
        u = resolve_unit(conn, unit) if isinstance(unit, str) else unit
        if scope is not None:
            from db.queries._sites import site_list

            if hasattr(scope, "role"):  # a signed-in user's Scope: the role must allow entries
                from qhse.domain.access import ENTER_SCORES, Scope, can

                if not can(cast(Scope, scope), ENTER_SCORES):
                    raise ScorecardError(f"role {scope.role} may not record assessment results")
            allowed = site_list(scope)
            if allowed is not None and (u.site_id is None or u.site_id not in allowed):
                raise ScorecardError("that unit lies outside your sites")
        if (u.unit_type, u.unit_id) not in {(x.unit_type, x.unit_id) for x in
                                             applicable_units(dict(ind), load_units(conn))}:
            raise ScorecardError(f"indicator {code} does not apply to {u.unit_type} {u.unit_id}")
        r = rating(value, ind["excellent_at"], ind["qualified_at"], ind["higher_is_better"])
        row = dict(indicator_id=ind["id"], unit_type=u.unit_type, unit_id=u.unit_id, site_id=u.site_id, period=month,
                   value=value, numerator=numerator, denominator=denominator, rating=r, evidence=[],
                   manual_entry_by=entered_by.strip(), manual_evidence=evidence.strip(), needs_plan=False)
        stmt = pg_insert(st).values(**row)
        sid = conn.execute(stmt.on_conflict_do_update(
            index_elements=[st.c.indicator_id, st.c.unit_type, st.c.unit_id, st.c.period],
            set_={c: stmt.excluded[c] for c in ("value", "numerator", "denominator", "rating", "manual_entry_by",
                                                 "manual_evidence", "site_id")} | {"computed_at": sa.func.now()}
        ).returning(st.c.id)).scalar_one()
        conn.execute(sa.insert(m.AuditLog.__table__).values(
            user_id=getattr(scope, "user_id", None), username=getattr(scope, "username", None) or entered_by.strip(),
            action="manual_score_entry", entity="assessment_score", entity_id=str(sid),
            sensitive=False, detail={"indicator": code, "unit": f"{u.unit_type}:{u.unit_id}",
                                     "checked_by": entered_by.strip(), "period": month.isoformat(), "value": value,
                                     "rating": r}))
        refresh_needs_plan(conn, month)
        refresh_needs_plan(conn, add_months(month, 1))
        flag = conn.execute(sa.select(st.c.needs_plan).where(st.c.id == sid)).scalar_one()
    return {"id": sid, "rating": r, "needs_plan": bool(flag), "value": value}



def history_months(engine: sa.Engine) -> list[dt.date]:
    """The months from the first with hours worked to the newest one (at most the current month)."""
    with engine.connect() as conn:
        lo, hi = conn.execute(sa.text("SELECT min(month), max(month) FROM hours_worked")).one()
    if lo is None:
        return []
    hi = min(hi, month_start(dt.date.today()))
    out, d = [], month_start(lo)
    while d <= hi:
        out.append(d)
        d = add_months(d, 1)
    return out


def has_scores(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM assessment_score)")).scalar())
