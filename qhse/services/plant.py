"""Plant onboarding: the one front door for org, sensor kinds, sensors and machine history writes.

Whoever loads a plant from files (``qhse import ...``, the "Plant set-up" page, the coming API)
names an actor: a platform user's :class:`~qhse.domain.access.Scope` or a ``system:<name>``
actor (:mod:`qhse.services.actors`).  :func:`authorize` checks the access policy's
``manage_plant``; every write function below checks it again with the sites it touches
(regions and new sites need every site in scope), writes through the caller's connection
(so a whole file commits or rolls back as one transaction) and returns how many rows were
inserted, updated and already present.  :func:`record_import` appends the audit row of an
import in that same transaction.

Rows come in already checked and resolved (ids, not codes): parsing files and reporting
their line and column errors is the importers' job (``ingestion/importers.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.dml import ReturningInsert

from db import models as m
from db.queries import audit
from qhse.domain import access
from qhse.domain.access import AccessDenied, Scope
from qhse.services import actors


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: Counts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


def authorize(actor: Scope | str) -> Scope:
    """``actor`` as a Scope allowed to onboard plant data; ActorError or AccessDenied otherwise."""
    scope = actors.require(actor)
    access.require(scope, access.MANAGE_PLANT)
    return scope


def site_refusal(scope: Scope, site_id: int | None) -> str | None:
    """Why ``scope`` may not write data of this site (None: it may)."""
    if site_id is None or scope.allows_site(site_id):
        return None
    return f"site {site_id} is outside {scope.username}'s sites"


def _require(scope: Scope, site_ids: Iterable[int | None] = (), *, all_sites: bool = False) -> None:
    access.require(scope, access.MANAGE_PLANT)
    if all_sites and not scope.all_sites:
        raise AccessDenied(f"{scope.username} is limited to some sites; regions and new sites need every site")
    for sid in {s for s in site_ids if s is not None}:
        access.require(scope, access.MANAGE_PLANT, site_id=sid)


def _upsert(conn: sa.Connection, table: sa.Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> Counts:
    """Insert or update on the natural key; rows equal to the stored ones count as unchanged."""
    c = Counts()
    for p in rows:
        cols = [k for k in p if k not in keys]
        ins = pg_insert(table).values(**p)
        changed = sa.or_(*[table.c[k].is_distinct_from(ins.excluded[k]) for k in cols]) if cols else sa.false()
        stmt: ReturningInsert[Any] = ins.on_conflict_do_update(
            index_elements=list(keys), set_={k: ins.excluded[k] for k in cols}, where=changed
        ).returning(sa.literal_column("(xmax = 0)"))
        row = conn.execute(stmt).first()
        if row is None:
            c.unchanged += 1
        elif row[0]:
            c.inserted += 1
        else:
            c.updated += 1
    return c


def _insert_new(conn: sa.Connection, table: sa.Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> Counts:
    """Insert the rows whose natural key (NULLs equal) is not stored yet."""
    c = Counts()
    for p in rows:
        cond = [table.c[k].is_(None) if p.get(k) is None else table.c[k] == p[k] for k in keys]
        if conn.execute(sa.select(sa.literal(1)).select_from(table).where(*cond).limit(1)).first():
            c.unchanged += 1
        else:
            conn.execute(sa.insert(table).values(**p))
            c.inserted += 1
    return c


# --------------------------------------------------------------------------------------- org
def enterprise_id(conn: sa.Connection, scope: Scope, name: str | None = None) -> int:
    """The enterprise regions belong to: ``name`` (created when new), else the only one there is."""
    t = m.Enterprise.__table__
    if name is None:
        ids = conn.execute(sa.select(t.c.id).order_by(t.c.id).limit(2)).scalars().all()
        if len(ids) == 1:
            return int(ids[0])
        if len(ids) > 1:
            raise ValueError("several enterprises exist: name the one regions belong to (--enterprise NAME)")
        name = "Enterprise"
    found = conn.execute(sa.select(t.c.id).where(t.c.name == name)).scalar()
    if found is not None:
        return int(found)
    _require(scope, all_sites=True)
    return int(conn.execute(sa.insert(t).values(name=name).returning(t.c.id)).scalar_one())


def write_regions(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]]) -> Counts:
    """rows: enterprise_id, code, name."""
    _require(scope, all_sites=True)
    return _upsert(conn, m.Region.__table__, ["code"], rows)


def write_sites(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]]) -> Counts:
    """rows: region_id, code, name, industry, timezone, city, settings; upserted on code.

    A site-limited actor may update its own sites, not create new ones."""
    t = m.Site.__table__
    existing = dict(conn.execute(sa.select(t.c.code, t.c.id).where(t.c.code.in_([r["code"] for r in rows]))).all())
    if any(r["code"] not in existing for r in rows):
        _require(scope, all_sites=True)
    _require(scope, existing.values())
    return _upsert(conn, t, ["code"], rows)


def write_departments(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]]) -> Counts:
    """rows: site_id, code, name, stage."""
    _require(scope, [r["site_id"] for r in rows])
    return _upsert(conn, m.Department.__table__, ["site_id", "code"], rows)


def write_areas(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]]) -> Counts:
    """rows: site_id, code, name, kind, risk_class, department_id, is_gas_area."""
    _require(scope, [r["site_id"] for r in rows])
    return _upsert(conn, m.Area.__table__, ["site_id", "code"], rows)


# ------------------------------------------------------------------------------ sensors
def write_sensor_kinds(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]]) -> Counts:
    """rows: kind, unit, min_valid, max_valid, description (every site's sensors use them)."""
    _require(scope, all_sites=True)
    return _upsert(conn, m.SensorKind.__table__, ["kind"], rows)


def sensor_kinds(conn: sa.Connection) -> dict[str, sa.Row[Any]]:
    t = m.SensorKind.__table__
    return {r.kind: r for r in conn.execute(sa.select(t))}


def write_sensors(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]]) -> Counts:
    """rows: site_id, area_id, asset_id, code, kind, unit, min_valid, max_valid, sample_period_s, active."""
    _require(scope, [r["site_id"] for r in rows])
    return _upsert(conn, m.Sensor.__table__, ["site_id", "code"], rows)


# ------------------------------------------------------------------------ machine history
def write_failures(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]],
                   site_ids: Iterable[int]) -> Counts:
    """rows: asset_id, occurred_at, component, mode, downtime_h, note; new on (asset, time, component, mode)."""
    _require(scope, site_ids)
    return _insert_new(conn, m.FailureEvent.__table__, ["asset_id", "occurred_at", "component", "mode"], rows)


def write_maintenance(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]],
                      site_ids: Iterable[int]) -> Counts:
    """rows: asset_id, started_at, ended_at, component, kind, note; new on (asset, start, component, kind)."""
    _require(scope, site_ids)
    return _insert_new(conn, m.MaintenanceEvent.__table__, ["asset_id", "started_at", "component", "kind"], rows)


def write_events(conn: sa.Connection, scope: Scope, rows: Sequence[dict[str, Any]], site_ids: Iterable[int]) -> Counts:
    """rows: asset_id, occurred_at, code, severity, message; new on (asset, time, code)."""
    _require(scope, site_ids)
    c = Counts()
    if not rows:
        return c
    t = m.MachineEvent.__table__
    stmt = pg_insert(t).on_conflict_do_nothing(index_elements=["asset_id", "occurred_at", "code"])
    res = conn.execute(stmt.returning(t.c.id), list(rows))
    c.inserted = len(res.all())
    c.unchanged = len(rows) - c.inserted
    return c


# ---------------------------------------------------------------------------------- audit
def record_import(conn: sa.Connection, scope: Scope, kind: str, file_name: str, *, rows: int, inserted: int,
                  updated: int = 0, unchanged: int = 0, skipped: int = 0, site_ids: Iterable[int] = ()) -> None:
    """The audit row of one imported file, in the import's own transaction."""
    sites = sorted({int(s) for s in site_ids})
    detail: dict[str, Any] = dict(kind=kind, file=file_name, rows=rows, inserted=inserted, updated=updated,
                        unchanged=unchanged, skipped=skipped)
    if len(sites) == 1:
        detail["site_id"] = sites[0]
    elif sites:
        detail["site_ids"] = sites
    audit.record(conn, scope, f"import.{kind}", entity=kind, detail=detail)


__all__ = ["Counts", "authorize", "enterprise_id", "record_import", "sensor_kinds", "site_refusal", "write_areas",
           "write_departments", "write_events", "write_failures", "write_maintenance", "write_regions",
           "write_sensor_kinds", "write_sensors", "write_sites"]
