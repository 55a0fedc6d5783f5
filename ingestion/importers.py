"""CSV importers: assets, people, training records, hours worked, incidents, AI4I machine history.

Files are streamed in chunks of rows (memory stays flat whatever the file's size): each
chunk is validated (types, ranges, references to sites, areas, departments, people,
courses) and written inside one transaction, which commits only when the whole file was
read.  Each problem is reported with its line and column (a NUL byte in a cell included);
after the first bad row nothing more is written and the transaction is rolled back at the
end, so with errors nothing is imported, unless ``skip_bad``: then the valid rows are.
The first ``MAX_KEPT_ERRORS`` errors are kept, all are counted.  Writes are
idempotent: importing the same file twice changes nothing the second time (rows are
matched on their natural keys: asset code, employee number, person+course+date,
site+department+month; incidents on site, time, kind, person and description; readings
on sensor and time).

AI4I 2020 (``kind='ai4i'``): the Predictive Maintenance Dataset by Stephan Matzka
(UCI Machine Learning Repository, DOI 10.24432/C5HS5C), licensed CC BY 4.0.  Each row
becomes one reading of the asset's air temperature, process temperature, rotational speed,
torque and tool wear sensors at ``start + (UDI - 1) * interval``; rows with
``Machine failure`` = 1 become failure events (mode from the TWF/HDF/PWF/OSF/RNF flags), and
a drop of tool wear becomes a tool-change maintenance event.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticUseDefault

from db import models as m
from qhse.domain.access import Scope
from qhse.domain.sensor_catalog import MACHINE_SENSORS
from qhse.services import plant
from qhse.vocab import (
    IncidentKind,
    MachineEventSeverity,
    MaintenanceKind,
    PersonKind,
    ProductType,
    RiskClass,
    values,
)

MAX_KEPT_ERRORS = 1000
CHUNK_ROWS = 5000
KINDS = ("org", "assets", "sensor-kinds", "sensors", "readings", "failures", "maintenance", "events", "people",
         "training", "hours", "incidents", "ai4i")
# Kinds written through qhse.services.plant (the others through _write below); readings: ingestion.readings_import.
PLANT_KINDS = ("org", "sensor-kinds", "sensors", "failures", "maintenance", "events")
DEFAULT_ACTOR = "system:import"
AI4I_ATTRIBUTION = ("AI4I 2020 Predictive Maintenance Dataset, S. Matzka, UCI Machine Learning Repository "
                    "(DOI 10.24432/C5HS5C), CC BY 4.0")


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing, unreadable, wrong columns); one line."""


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column '{self.column}'" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    kind: str
    file: Path
    rows: int = 0
    valid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0  # all errors; ``errors`` keeps the first MAX_KEPT_ERRORS
    notes: list[str] = field(default_factory=list)
    imported: bool = False

    def add_error(self, e: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(e)

    def summary(self) -> str:
        if not self.imported:
            return f"{self.kind}: {self.rows:,} rows read, {self.error_count:,} bad; nothing imported"
        bad = f", {self.error_count:,} bad rows skipped" if self.error_count else ""
        return (f"{self.kind}: {self.rows:,} rows read, {self.valid:,} valid{bad}; {self.inserted:,} inserted, "
                f"{self.updated:,} updated, {self.unchanged:,} already present")


# ---------------------------------------------------------------------------------------------
# Row schemas (column name = field name, or alias for AI4I)
# ---------------------------------------------------------------------------------------------

def _blank_to_none(v: Any) -> Any:
    return None if isinstance(v, str) and v.strip() == "" else v


class _Row(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blanks(cls, v, info):
        """An empty cell: the column's default when it has one, else missing."""
        if isinstance(v, str) and v.strip() == "":
            f = cls.model_fields.get(info.field_name)
            if f is not None and not f.is_required():
                raise PydanticUseDefault()
            return None
        return v


Code = Annotated[str, Field(min_length=1, max_length=60)]


class AssetRow(_Row):
    site: Code
    area: Code
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Annotated[str, Field(min_length=1, max_length=60)]
    product_type: Literal[values(ProductType)] = ProductType.M.value  # type: ignore[valid-type]
    manufacturer: Annotated[str, Field(max_length=120)] | None = None
    installed_at: dt.date | None = None


class PersonRow(_Row):
    employee_no: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal[values(PersonKind)] = PersonKind.EMPLOYEE.value  # type: ignore[valid-type]
    site: Code
    department: Code | None = None
    post: Code | None = None
    contractor_company: Annotated[str, Field(max_length=200)] | None = None
    hired_on: dt.date | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    email: Annotated[str, Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    active: bool = True


class TrainingRow(_Row):
    employee_no: Annotated[str, Field(min_length=1, max_length=40)]
    course: Code
    completed_on: dt.date
    expires_on: dt.date | None = None
    score: Annotated[float, Field(ge=0, le=100)] | None = None
    passed: bool = True


class HoursRow(_Row):
    site: Code
    department: Code | None = None
    month: dt.date
    hours: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
    headcount: Annotated[int, Field(ge=0)] = 0
    contractor_hours: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] = Decimal(0)

    @field_validator("month", mode="before")
    @classmethod
    def _month(cls, v):
        v = _blank_to_none(v)
        if isinstance(v, str):
            s = v.strip()
            try:
                d = dt.date.fromisoformat(s + "-01" if len(s) == 7 else s)
            except ValueError:
                raise ValueError(f"not a month (YYYY-MM): {v!r}") from None
            if d.day != 1:
                raise ValueError("a month is written YYYY-MM (or its first day)")
            return d
        return v


class IncidentRow(_Row):
    site: Code
    area: Code | None = None
    department: Code | None = None
    employee_no: Annotated[str, Field(max_length=40)] | None = None
    occurred_at: dt.datetime
    kind: Literal[values(IncidentKind)]  # type: ignore[valid-type]
    recordable: bool = False
    lost_time: bool = False
    restricted_or_transfer: bool = False
    days_away: Annotated[int, Field(ge=0, le=366)] = 0
    days_restricted: Annotated[int, Field(ge=0, le=366)] = 0
    fatality: bool = False
    contractor_involved: bool = False
    description: str | None = None
    cost: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "CNY"


Flag = Annotated[int, Field(ge=0, le=1)]


class Ai4iRow(_Row):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid", populate_by_name=True)

    udi: Annotated[int, Field(alias="UDI", ge=1)]
    product_id: Annotated[str, Field(alias="Product ID", min_length=1, max_length=20)]
    type: Annotated[Literal[values(ProductType)], Field(alias="Type")]  # type: ignore[valid-type]
    air_temp: Annotated[float, Field(alias="Air temperature [K]", allow_inf_nan=False)]
    process_temp: Annotated[float, Field(alias="Process temperature [K]", allow_inf_nan=False)]
    rpm: Annotated[float, Field(alias="Rotational speed [rpm]", allow_inf_nan=False)]
    torque: Annotated[float, Field(alias="Torque [Nm]", allow_inf_nan=False)]
    tool_wear: Annotated[float, Field(alias="Tool wear [min]", allow_inf_nan=False)]
    failure: Annotated[Flag, Field(alias="Machine failure")]
    twf: Annotated[Flag, Field(alias="TWF")]
    hdf: Annotated[Flag, Field(alias="HDF")]
    pwf: Annotated[Flag, Field(alias="PWF")]
    osf: Annotated[Flag, Field(alias="OSF")]
    rnf: Annotated[Flag, Field(alias="RNF")]


OrgType = Literal["region", "site", "department", "area"]
ORG_ORDER = ("region", "site", "department", "area")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_calendar(text: str) -> dict:
    """``Mon-Fri 08:00-17:00`` (or ``Mon,Tue,Thu 07:30-16:00``) as a site's calendar settings."""
    import re

    mt = re.fullmatch(r"\s*([A-Za-z,\- ]+?)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", text or "")
    if not mt:
        raise ValueError("a calendar is written like 'Mon-Fri 08:00-17:00'")
    days: list[int] = []
    for part in mt.group(1).replace(" ", "").lower().split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e[:3] not in _WEEKDAYS for e in ends):
            raise ValueError(f"unknown weekday(s) {part!r} (use Mon..Sun)")
        a, b = _WEEKDAYS.index(ends[0][:3]), _WEEKDAYS.index(ends[-1][:3])
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return {"workdays": sorted(set(days)), "start": mt.group(2).zfill(5), "end": mt.group(3).zfill(5)}


class OrgRow(_Row):
    type: OrgType
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    parent: Code | None = None  # site: its region; department, area: its site
    timezone: Annotated[str, Field(max_length=64)] | None = None
    calendar: Annotated[str, Field(max_length=80)] | None = None
    industry: Annotated[str, Field(max_length=80)] | None = None
    city: Annotated[str, Field(max_length=120)] | None = None
    kind: Annotated[str, Field(max_length=60)] | None = None  # area kind (machining, chemical_store, ...)
    risk_class: Literal[values(RiskClass)] | None = None  # type: ignore[valid-type]
    department: Code | None = None  # area: owner department (code at the same site)
    stage: Annotated[str, Field(max_length=40)] | None = None  # department: process stage
    gas: bool | None = None  # area: a gas area


class SensorKindRow(_Row):
    kind: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
    unit: Annotated[str, Field(min_length=1, max_length=20)]
    min_valid: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max_valid: Annotated[float, Field(allow_inf_nan=False)] | None = None
    description: str | None = None


class SensorRow(_Row):
    code: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^/#+\s]+$")]
    site: Code
    area: Code
    asset: Code | None = None
    kind: Annotated[str, Field(min_length=1, max_length=40)]
    unit: Annotated[str, Field(max_length=20)] | None = None  # default: the kind's
    min_valid: Annotated[float, Field(allow_inf_nan=False)] | None = None  # default: the kind's
    max_valid: Annotated[float, Field(allow_inf_nan=False)] | None = None
    sampling_s: Annotated[int, Field(ge=1, le=86400 * 31)] = 60
    active: bool = True


class ReadingRow(_Row):  # documents the columns; readings are checked column-wise (ingestion.readings_import)
    sensor: Annotated[str, Field(min_length=1, max_length=80)]
    ts: dt.datetime
    value: float
    quality: Annotated[int, Field(ge=0, le=32767)] = 0


class FailureRow(_Row):
    asset: Code
    ts: dt.datetime
    component: Annotated[str, Field(max_length=60)] | None = None
    mode: Annotated[str, Field(min_length=1, max_length=40)]
    downtime_h: Annotated[float, Field(ge=0, le=100_000)] = 0.0
    note: str | None = None


_MAINT_KINDS = tuple(values(MaintenanceKind)) + ("scheduled",)


class MaintenanceRow(_Row):
    asset: Code
    ts: dt.datetime
    component: Annotated[str, Field(max_length=60)] | None = None
    kind: Literal[_MAINT_KINDS]  # type: ignore[valid-type]
    ended_at: dt.datetime | None = None
    note: str | None = None


class EventRow(_Row):
    asset: Code
    ts: dt.datetime
    code: Annotated[str, Field(min_length=1, max_length=60)]
    severity: Literal[values(MachineEventSeverity)] = MachineEventSeverity.ERROR.value  # type: ignore[valid-type]
    message: str | None = None


SCHEMAS: dict[str, type[_Row]] = {"org": OrgRow, "assets": AssetRow, "sensor-kinds": SensorKindRow,
                                  "sensors": SensorRow, "readings": ReadingRow, "failures": FailureRow,
                                  "maintenance": MaintenanceRow, "events": EventRow, "people": PersonRow,
                                  "training": TrainingRow, "hours": HoursRow, "incidents": IncidentRow,
                                  "ai4i": Ai4iRow}
_DESCRIPTIONS = {
    "org": ("regions, sites, departments and areas in one file, one per row by `type` (upserted on code; "
            "parent = a site's region, a department's or area's site; rows may come in any order; calendar like "
            "'Mon-Fri 08:00-17:00'; areas need kind and risk_class, department = owner department)"),
    "sensor-kinds": "kinds of sensor: unit and default valid range (upserted on kind)",
    "sensors": ("sensors (upserted on site + code); unit and valid range default to the kind's, a sensor's own "
                "min_valid/max_valid override them; sampling_s = seconds between readings"),
    "readings": ("reading history, long format, CSV or Parquet (idempotent on sensor + ts; any age; ts without "
                 "an offset is UTC; sensor = code, unique or made so with --site)"),
    "failures": "failures of assets (new on asset + ts + component + mode; ts without a zone: the site's time zone)",
    "maintenance": ("maintenance of assets (new on asset + ts + component + kind; kind 'scheduled' is stored as "
                    "preventive; ts without a zone: the site's time zone)"),
    "events": "machines' own error and alarm logs (new on asset + ts + code; ts without a zone: the site's time zone)",
    "assets": "machines and equipment (upserted on code)",
    "people": "employees and contractors' workers (upserted on employee_no)",
    "training": "training records (upserted on employee_no + course + completed_on)",
    "hours": "hours worked per site (and department) and month: the KPI denominator",
    "incidents": "injuries, illnesses, near misses, ... (occurred_at without a zone is in the site's time zone)",
    "ai4i": "AI4I 2020 machine history for one asset (--asset CODE); " + AI4I_ATTRIBUTION,
}


def _type_name(ann) -> str:
    import typing

    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return "one of " + "|".join(str(a) for a in args)
    if args and type(None) in args:
        return _type_name(next(a for a in args if a is not type(None)))
    return {str: "text", int: "integer", float: "number", Decimal: "number", bool: "true/false",
            dt.date: "date YYYY-MM-DD", dt.datetime: "ISO 8601 time"}.get(ann, getattr(ann, "__name__", str(ann)))


def columns(kind: str) -> list[tuple[str, bool, str]]:
    """(column, required, type) for a kind."""
    out = []
    for name, f in SCHEMAS[kind].model_fields.items():
        t = _type_name(f.annotation)
        if name == "month":
            t = "month YYYY-MM"
        out.append((f.alias or name, f.is_required(), t))
    return out


def describe_columns(kind: str | None = None) -> str:
    lines = []
    for k in ([kind] if kind else KINDS):
        lines.append(f"{k}: {_DESCRIPTIONS[k]}")
        for col, req, t in columns(k):
            lines.append(f"  {col:<26} {'required' if req else 'optional'}  {t}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Reading and validating
# ---------------------------------------------------------------------------------------------

def _read_rows(path: Path, kind: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; checks the header first."""
    schema = SCHEMAS[kind]
    expected = {(f.alias or n) for n, f in schema.model_fields.items()}
    required = {(f.alias or n) for n, f in schema.model_fields.items() if f.is_required()}
    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror or exc}") from None
    with fh:
        try:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise ImportFileError(f"{path}: the file is empty (a header line is expected)")
            header = [h.strip() for h in header]
            unknown = [h for h in header if h not in expected]
            missing = sorted(required - set(header))
            if unknown or missing:
                parts = []
                if missing:
                    parts.append("missing column(s) " + ", ".join(repr(c) for c in missing))
                if unknown:
                    parts.append("unknown column(s) " + ", ".join(repr(c) for c in unknown))
                raise ImportFileError(f"{path}: line 1: {'; '.join(parts)} "
                                      f"(expected: {', '.join(c for c, _, _ in columns(kind))})")
            dup = {h for h in header if header.count(h) > 1}
            if dup:
                raise ImportFileError(f"{path}: line 1: column(s) given twice: {', '.join(sorted(dup))}")
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    yield line, {"__width__": f"{len(row)} values for {len(header)} columns"}
                    continue
                nul = next((h for h, c in zip(header, row, strict=True) if "\x00" in c), None)
                if nul is not None:
                    yield line, {"__nul__": nul}
                    continue
                yield line, dict(zip(header, row, strict=True))
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except csv.Error as exc:
            raise ImportFileError(f"{path}: malformed CSV: {exc}") from None


def _errors(line: int, exc: ValidationError, schema: type[_Row]) -> list[RowError]:
    out = []
    aliases = {n: (f.alias or n) for n, f in schema.model_fields.items()}
    for e in exc.errors(include_url=False):
        loc = e.get("loc") or ()
        col = aliases.get(str(loc[0]), str(loc[0])) if loc else None
        msg = e.get("msg", "invalid")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        got = e.get("input")
        field = schema.model_fields.get(str(loc[0])) if loc else None
        if e.get("type") == "missing" or (got is None and field is not None and field.is_required()):
            msg = "a value is required"
        elif isinstance(got, str):
            msg += f" (got {got!r})"
        out.append(RowError(line, col, msg))
    return out


def validate_chunks(path: Path, kind: str, report: ImportReport, progress: Callable[[int], None] | None = None,
                    size: int = CHUNK_ROWS) -> Iterator[list[tuple[int, _Row]]]:
    """Parse and type-check the file's rows, ``size`` at a time: yields [(line, row model)].

    Errors go to ``report`` (with their line and column); ``report.rows`` counts rows read.
    """
    schema = SCHEMAS[kind]
    good: list[tuple[int, _Row]] = []
    for line, raw in _read_rows(path, kind):
        report.rows += 1
        if "__width__" in raw:
            report.add_error(RowError(line, None, raw["__width__"]))
        elif "__nul__" in raw:
            report.add_error(RowError(line, raw["__nul__"], "contains a NUL byte (binary data, not text)"))
        else:
            try:
                good.append((line, schema.model_validate(raw)))
            except ValidationError as exc:
                for e in _errors(line, exc, schema):
                    report.add_error(e)
        if len(good) >= size:
            yield good
            good = []
        if progress and report.rows % 1000 == 0:
            progress(1000)
    if progress:
        progress(report.rows % 1000)
    if good:
        yield good


# ---------------------------------------------------------------------------------------------
# Reference look-ups
# ---------------------------------------------------------------------------------------------

class _Refs:
    def __init__(self, conn: sa.Connection, scope: Scope | None = None):
        self.conn = conn
        self.scope = scope
        self.site_ids: set[int] = set()  # the sites the resolved rows touch (for the audit row)
        self.sites = {r.code: r for r in conn.execute(sa.text("SELECT id, code, timezone FROM site"))}
        self.areas = {(r.site_id, r.code): r.id for r in conn.execute(sa.text("SELECT id, site_id, code FROM area"))}
        self.depts = {(r.site_id, r.code): r.id for r in
                      conn.execute(sa.text("SELECT id, site_id, code FROM department"))}
        self.posts = {(r.department_id, r.code): r.id for r in
                      conn.execute(sa.text("SELECT id, department_id, code FROM post"))}
        self.people = {r.employee_no: r.id for r in conn.execute(sa.text("SELECT id, employee_no FROM person"))}
        self.courses = {r.code: r for r in
                        conn.execute(sa.text("SELECT id, code, validity_months FROM training_course"))}
        self.companies = {r.name: r.id for r in conn.execute(sa.text("SELECT id, name FROM contractor_company"))}

    def site(self, code: str, line: int, errors: list[RowError], column: str = "site"):
        s = self.sites.get(code)
        if s is None:
            errors.append(RowError(line, column, f"no site with code {code!r}"))
            return None
        why = plant.site_refusal(self.scope, s.id) if self.scope is not None else None
        if why:
            errors.append(RowError(line, column, why))
            return None
        self.site_ids.add(int(s.id))
        return s

    def load_plant(self) -> None:
        """The look-ups of the plant kinds: regions, assets (with their site's time zone), sensor kinds."""
        c = self.conn
        self.regions = {r.code: r.id for r in c.execute(sa.text("SELECT id, code FROM region"))}
        self.assets = {r.code: r for r in c.execute(sa.text(
            "SELECT a.id, a.code, a.site_id, a.area_id, s.code AS site, s.timezone FROM asset a "
            "JOIN site s ON s.id = a.site_id"))}
        self.assets_by_site = {(r.site_id, r.code): r.id for r in self.assets.values()}
        self.kinds = plant.sensor_kinds(c)

    def asset(self, code: str, line: int, errors: list[RowError]):
        a = self.assets.get(code)
        if a is None:
            errors.append(RowError(line, "asset", f"no asset with code {code!r}"))
            return None
        why = plant.site_refusal(self.scope, a.site_id) if self.scope is not None else None
        if why:
            errors.append(RowError(line, "asset", why))
            return None
        self.site_ids.add(int(a.site_id))
        return a

    def sub(self, table: dict, key, column: str, what: str, code: str, line: int, errors: list[RowError]):
        v = table.get(key)
        if v is None:
            errors.append(RowError(line, column, f"no {what} {code!r}"))
        return v


# ---------------------------------------------------------------------------------------------
# Writers per kind: (rows) -> list of (line, params); errors appended
# ---------------------------------------------------------------------------------------------

def _resolve(kind: str, rows, refs: _Refs, errors: list[RowError]) -> list[tuple[int, dict]]:
    out = []
    for line, r in rows:
        errs: list[RowError] = []
        if kind == "assets":
            s = refs.site(r.site, line, errs)
            area = refs.sub(refs.areas, (s.id, r.area), "area", f"area at site {r.site} with code", r.area, line,
                            errs) if s else None
            if not errs:
                out.append((line, dict(site_id=s.id, area_id=area, code=r.code, name=r.name, kind=r.kind,
                                       product_type=r.product_type, manufacturer=r.manufacturer,
                                       installed_at=(dt.datetime.combine(r.installed_at, dt.time(), dt.UTC)
                                                     if r.installed_at else None))))
        elif kind == "people":
            s = refs.site(r.site, line, errs)
            dept = post = company = None
            if s and r.department:
                dept = refs.sub(refs.depts, (s.id, r.department), "department", f"department at site {r.site}",
                                r.department, line, errs)
            if r.post:
                if dept is None and not r.department:
                    errs.append(RowError(line, "post", "a post needs its department"))
                elif dept is not None:
                    post = refs.sub(refs.posts, (dept, r.post), "post", f"post in department {r.department}", r.post,
                                    line, errs)
            if r.contractor_company:
                company = refs.sub(refs.companies, r.contractor_company, "contractor_company", "contractor company",
                                   r.contractor_company, line, errs)
            if r.kind == PersonKind.CONTRACTOR and not r.contractor_company:
                errs.append(RowError(line, "contractor_company", "a contractor's worker needs the company"))
            if not errs:
                out.append((line, dict(employee_no=r.employee_no, name=r.name, kind=r.kind, site_id=s.id,
                                       department_id=dept, post_id=post, contractor_company_id=company,
                                       hired_on=r.hired_on, phone=r.phone, email=r.email, active=r.active)))
        elif kind == "training":
            pid = refs.sub(refs.people, r.employee_no, "employee_no", "person with employee number", r.employee_no,
                           line, errs)
            course = refs.sub(refs.courses, r.course, "course", "training course", r.course, line, errs)
            expires = r.expires_on
            if course is not None and expires is None and course.validity_months:
                expires = _add_months(r.completed_on, course.validity_months)
            if expires is not None and expires < r.completed_on:
                errs.append(RowError(line, "expires_on", "expires before it was completed"))
            if not errs:
                out.append((line, dict(person_id=pid, course_id=course.id, completed_on=r.completed_on,
                                       expires_on=expires, score=r.score, passed=r.passed)))
        elif kind == "hours":
            s = refs.site(r.site, line, errs)
            dept = None
            if s and r.department:
                dept = refs.sub(refs.depts, (s.id, r.department), "department", f"department at site {r.site}",
                                r.department, line, errs)
            if not errs:
                out.append((line, dict(site_id=s.id, department_id=dept, month=r.month, hours=r.hours,
                                       headcount=r.headcount, contractor_hours=r.contractor_hours)))
        elif kind == "incidents":
            s = refs.site(r.site, line, errs)
            area = dept = person = None
            if s and r.area:
                area = refs.sub(refs.areas, (s.id, r.area), "area", f"area at site {r.site}", r.area, line, errs)
            if s and r.department:
                dept = refs.sub(refs.depts, (s.id, r.department), "department", f"department at site {r.site}",
                                r.department, line, errs)
            if r.employee_no:
                person = refs.sub(refs.people, r.employee_no, "employee_no", "person with employee number",
                                  r.employee_no, line, errs)
            if (r.lost_time or r.restricted_or_transfer or r.fatality) and not r.recordable:
                errs.append(RowError(line, "recordable", "lost-time, restricted and fatal cases are recordable"))
            if r.days_away and not r.lost_time:
                errs.append(RowError(line, "lost_time", "days away from work mean a lost-time case"))
            if r.days_restricted and not r.restricted_or_transfer:
                errs.append(RowError(line, "restricted_or_transfer", "restricted days mean a restricted case"))
            occurred = r.occurred_at
            if s and occurred.tzinfo is None:
                occurred = occurred.replace(tzinfo=ZoneInfo(s.timezone or "UTC"))
            if occurred > dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
                errs.append(RowError(line, "occurred_at", "lies in the future"))
            if not errs:
                out.append((line, dict(site_id=s.id, area_id=area, department_id=dept, person_id=person,
                                       occurred_at=occurred, kind=r.kind, recordable=r.recordable,
                                       lost_time=r.lost_time, restricted_or_transfer=r.restricted_or_transfer,
                                       days_away=r.days_away, days_restricted=r.days_restricted, fatality=r.fatality,
                                       contractor_involved=r.contractor_involved, description=r.description,
                                       cost=r.cost, currency=r.currency.upper())))
        errors.extend(errs)
    return out


def _local(t: dt.datetime, tz: str | None) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(tz or "UTC"))


def _future(t: dt.datetime) -> bool:
    return t > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def _resolve_plant(kind: str, rows, refs: _Refs, errors: list[RowError]) -> list[tuple[int, dict]]:
    """sensor-kinds, sensors, failures, maintenance, events: checked rows -> (line, params for the service)."""
    out = []
    for line, r in rows:
        errs: list[RowError] = []
        if kind == "sensor-kinds":
            if r.min_valid is not None and r.max_valid is not None and r.min_valid >= r.max_valid:
                errs.append(RowError(line, "max_valid", "must be greater than min_valid"))
            if not errs:
                out.append((line, dict(kind=r.kind, unit=r.unit, min_valid=r.min_valid, max_valid=r.max_valid,
                                       description=r.description)))
        elif kind == "sensors":
            s = refs.site(r.site, line, errs)
            area = asset = None
            if s:
                area = refs.sub(refs.areas, (s.id, r.area), "area", f"area at site {r.site} with code", r.area,
                                line, errs)
                if r.asset:
                    asset = refs.sub(refs.assets_by_site, (s.id, r.asset), "asset", f"asset at site {r.site} with code",
                                     r.asset, line, errs)
            k = refs.kinds.get(r.kind)
            if k is None:
                errs.append(RowError(line, "kind", f"unknown sensor kind {r.kind!r} (add it first: "
                                                   "qhse import sensor-kinds FILE)"))
            elif r.unit and r.unit != k.unit:
                errs.append(RowError(line, "unit", f"{r.unit!r} is not the unit of kind {r.kind} ({k.unit!r})"))
            if k is not None:
                lo = r.min_valid if r.min_valid is not None else k.min_valid
                hi = r.max_valid if r.max_valid is not None else k.max_valid
                if lo is not None and hi is not None and lo >= hi:
                    errs.append(RowError(line, "max_valid", f"the valid range [{lo:g}, {hi:g}] is empty"))
            if not errs:
                out.append((line, dict(site_id=s.id, area_id=area, asset_id=asset, code=r.code, kind=r.kind,
                                       unit=k.unit, min_valid=r.min_valid, max_valid=r.max_valid,
                                       sample_period_s=r.sampling_s, active=r.active)))
        else:
            a = refs.asset(r.asset, line, errs)
            ts = _local(r.ts, a.timezone) if a else r.ts
            if a and _future(ts):
                errs.append(RowError(line, "ts", "lies in the future"))
            if kind == "failures" and not errs:
                out.append((line, dict(asset_id=a.id, occurred_at=ts, component=r.component, mode=r.mode,
                                       downtime_h=r.downtime_h, note=r.note)))
            elif kind == "maintenance":
                ended = _local(r.ended_at, a.timezone) if (a and r.ended_at) else None
                if ended is not None and ended < ts:
                    errs.append(RowError(line, "ended_at", "ends before it starts"))
                if not errs:
                    out.append((line, dict(asset_id=a.id, started_at=ts, ended_at=ended, component=r.component,
                                           kind="preventive" if r.kind == "scheduled" else r.kind, note=r.note)))
            elif kind == "events" and not errs:
                out.append((line, dict(asset_id=a.id, occurred_at=ts, code=r.code, severity=r.severity,
                                       message=r.message)))
        errors.extend(errs)
    return out


def _write_plant(conn: sa.Connection, scope: Scope, kind: str, params: list[tuple[int, dict]], refs: _Refs,
                 report: ImportReport) -> None:
    rows = [p for _line, p in params]
    if not rows:
        return
    if kind == "sensor-kinds":
        c = plant.write_sensor_kinds(conn, scope, rows)
        refs.kinds = plant.sensor_kinds(conn)
    elif kind == "sensors":
        c = plant.write_sensors(conn, scope, rows)
    elif kind == "failures":
        c = plant.write_failures(conn, scope, rows, refs.site_ids)
    elif kind == "maintenance":
        c = plant.write_maintenance(conn, scope, rows, refs.site_ids)
    else:
        c = plant.write_events(conn, scope, rows, refs.site_ids)
    report.inserted += c.inserted
    report.updated += c.updated
    report.unchanged += c.unchanged


def _import_org(conn: sa.Connection, scope: Scope, chunks, refs: _Refs, report: ImportReport, skip_bad: bool,
                enterprise: str | None) -> None:
    """Org rows are few: all are read, then written region -> site -> department -> area, so a row may name
    a parent defined further down the file."""
    from sqlalchemy.exc import IntegrityError

    rows = [(line, r) for chunk in chunks for line, r in chunk]
    seen: dict[tuple[str, str | None, str], int] = {}
    by_type: dict[str, list[tuple[int, OrgRow]]] = {t: [] for t in ORG_ORDER}
    bad_lines: set[int] = set()
    for line, r in rows:
        errs: list[RowError] = []
        key = (r.type, r.parent if r.type in ("department", "area") else None, r.code)
        if key in seen:
            errs.append(RowError(line, "code", f"{r.type} {r.code!r} repeats line {seen[key]}"))
        seen.setdefault(key, line)
        if r.type in ("site", "department", "area") and not r.parent:
            what = "region" if r.type == "site" else "site"
            errs.append(RowError(line, "parent", f"a {r.type} needs its {what} (parent)"))
        if r.type == "area":
            if not r.kind:
                errs.append(RowError(line, "kind", "an area needs its kind (machining, chemical_store, ...)"))
            if not r.risk_class:
                errs.append(RowError(line, "risk_class", "an area needs its risk class (A, B or C)"))
        if r.timezone:
            try:
                ZoneInfo(r.timezone)
            except (KeyError, ValueError):
                errs.append(RowError(line, "timezone", f"unknown time zone {r.timezone!r}"))
        if r.calendar:
            try:
                parse_calendar(r.calendar)
            except ValueError as exc:
                errs.append(RowError(line, "calendar", str(exc)))
        for e in errs:
            report.add_error(e)
        if errs:
            bad_lines.add(line)
        by_type[r.type].append((line, r))
    region_codes = {r.code for _l, r in by_type["region"]}
    site_codes = {r.code for _l, r in by_type["site"]}
    dept_keys = {(r.parent, r.code) for _l, r in by_type["department"]}
    # References checked before anything is written: to rows of this file or to stored ones.
    for t, lst in by_type.items():
        keep = []
        for line, r in lst:
            err = None
            if t == "site" and r.parent not in region_codes and r.parent not in refs.regions:
                err = RowError(line, "parent", f"no region with code {r.parent!r}")
            elif t in ("department", "area") and r.parent not in site_codes and r.parent not in refs.sites:
                err = RowError(line, "parent", f"no site with code {r.parent!r}")
            elif t in ("department", "area") and r.parent in refs.sites and r.parent not in site_codes:
                why = plant.site_refusal(scope, refs.sites[r.parent].id)
                err = RowError(line, "parent", why) if why else None
            if err is None and t == "area" and r.department and (r.parent, r.department) not in dept_keys:
                sid = refs.sites[r.parent].id if r.parent in refs.sites else None
                if sid is None or (sid, r.department) not in refs.depts:
                    err = RowError(line, "department", f"no department {r.department!r} at site {r.parent}")
            if err is not None:
                report.add_error(err)
            elif line not in bad_lines:
                keep.append((line, r))
        by_type[t] = keep
        if t == "site":  # a department or area of a site row that was refused
            site_codes = {r.code for _l, r in keep}
        elif t == "department":
            dept_keys = {(r.parent, r.code) for _l, r in keep}
    report.valid = sum(len(v) for v in by_type.values())
    if report.error_count and not skip_bad:
        return
    counts = plant.Counts()
    try:
        if by_type["region"]:
            try:
                ent = plant.enterprise_id(conn, scope, enterprise)
            except ValueError as exc:
                raise ImportFileError(str(exc)) from None
            counts.add(plant.write_regions(conn, scope, [dict(enterprise_id=ent, code=r.code, name=r.name)
                                                         for _l, r in by_type["region"]]))
            refs.regions = {x.code: x.id for x in conn.execute(sa.text("SELECT id, code FROM region"))}
        if by_type["site"]:
            old = {x.code: x for x in conn.execute(sa.text("SELECT code, timezone, industry, settings FROM site"))}
            params = []
            for _l, r in by_type["site"]:
                prev = old.get(r.code)
                settings = dict(prev.settings or {}) if prev else {}
                if r.calendar:
                    settings["calendar"] = parse_calendar(r.calendar)
                params.append(dict(region_id=refs.regions[r.parent], code=r.code, name=r.name,
                                   industry=r.industry or (prev.industry if prev else "manufacturing"),
                                   timezone=r.timezone or (prev.timezone if prev else "UTC"), city=r.city,
                                   settings=settings))
            counts.add(plant.write_sites(conn, scope, params))
            refs.sites = {x.code: x for x in conn.execute(sa.text("SELECT id, code, timezone FROM site"))}
        if by_type["department"]:
            counts.add(plant.write_departments(conn, scope, [
                dict(site_id=refs.sites[r.parent].id, code=r.code, name=r.name, stage=r.stage or "general")
                for _l, r in by_type["department"]]))
            refs.depts = {(x.site_id, x.code): x.id for x in
                          conn.execute(sa.text("SELECT id, site_id, code FROM department"))}
        if by_type["area"]:
            counts.add(plant.write_areas(conn, scope, [
                dict(site_id=refs.sites[r.parent].id, code=r.code, name=r.name, kind=r.kind, risk_class=r.risk_class,
                     department_id=refs.depts[(refs.sites[r.parent].id, r.department)] if r.department else None,
                     is_gas_area=bool(r.gas))
                for _l, r in by_type["area"]]))
    except IntegrityError as exc:
        raise ImportFileError(f"the organisation could not be stored: {exc.orig}") from None
    for t in ("site", "department", "area"):
        refs.site_ids.update(refs.sites[r.code if t == "site" else r.parent].id for _l, r in by_type[t])
    report.inserted, report.updated, report.unchanged = counts.inserted, counts.updated, counts.unchanged


def _add_months(d: dt.date, months: int) -> dt.date:
    y, mth = divmod(d.month - 1 + months, 12)
    y += d.year
    mth += 1
    last = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
            31][mth - 1]
    return dt.date(y, mth, min(d.day, last))


_UPSERTS = {
    "assets": ("asset", ["code"]),
    "people": ("person", ["employee_no"]),
    "training": ("training_record", ["person_id", "course_id", "completed_on"]),
    "hours": ("hours_worked", ["site_id", "department_id", "month"]),
}


def _write(conn: sa.Connection, kind: str, params: list[tuple[int, dict]], report: ImportReport) -> None:
    if kind == "incidents":
        t = m.Incident.__table__
        for _line, p in params:
            same = sa.select(t.c.id).where(t.c.site_id == p["site_id"], t.c.occurred_at == p["occurred_at"],
                                           t.c.kind == p["kind"],
                                           t.c.person_id.is_(None) if p["person_id"] is None else
                                           t.c.person_id == p["person_id"],
                                           t.c.description.is_(None) if p["description"] is None else
                                           t.c.description == p["description"])
            if conn.execute(same).first():
                report.unchanged += 1
                continue
            conn.execute(sa.insert(t).values(**p))
            report.inserted += 1
        return
    table_name, keys = _UPSERTS[kind]
    t = m.metadata.tables[table_name]
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    for _line, p in params:
        cols = [c for c in p if c not in keys]
        stmt = pg_insert(t).values(**p)
        changed = sa.or_(*[t.c[c].is_distinct_from(stmt.excluded[c]) for c in cols]) if cols else sa.false()
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in cols},
                                          where=changed).returning(sa.literal_column("(xmax = 0)"))
        row = conn.execute(stmt).first()
        if row is None:
            report.unchanged += 1
        elif row[0]:
            report.inserted += 1
        else:
            report.updated += 1


# ---------------------------------------------------------------------------------------------
# AI4I 2020 machine history
# ---------------------------------------------------------------------------------------------

AI4I_SENSORS = {"air_temp": "air_temp", "process_temp": "process_temp", "rpm": "rpm", "torque": "torque",
                "tool_wear": "tool_wear"}
_FLAGS = ("twf", "hdf", "pwf", "osf", "rnf")


def _parse_start(start: str | None, n: int, interval_s: float) -> dt.datetime:
    if start:
        try:
            t = dt.datetime.fromisoformat(start.strip())
        except ValueError:
            raise ImportFileError(f"--start {start!r} is not an ISO 8601 time (e.g. 2026-01-01T00:00:00Z)") from None
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(seconds=interval_s * max(0, n - 1))


def _ai4i_sensors(conn: sa.Connection, asset_code: str, report: ImportReport) -> tuple[int, dict[str, dict]]:
    a = conn.execute(sa.text("SELECT id, site_id, area_id, code FROM asset WHERE code = :c"), {"c": asset_code}).first()
    if a is None:
        raise ImportFileError(f"no asset with code {asset_code!r} (see `qhse import assets`, or the demo data)")
    have = {r.kind: dict(id=r.id, min=r.min_valid, max=r.max_valid, code=r.code) for r in conn.execute(
        sa.text("SELECT id, kind, code, min_valid, max_valid FROM sensor WHERE asset_id = :a"), {"a": a.id})}
    spec = {k: (u, lo, hi, wh, ah) for k, u, lo, hi, wh, ah in MACHINE_SENSORS}
    for k, row in plant.sensor_kinds(conn).items():  # the kinds as the plant defined them win
        if k in spec:
            spec[k] = (row.unit, row.min_valid, row.max_valid, spec[k][3], spec[k][4])
    for kind in AI4I_SENSORS.values():
        if kind not in have:
            u, lo, hi, wh, ah = spec[kind]
            code = f"{a.code}-{kind}"
            sid = conn.execute(sa.insert(m.Sensor.__table__).values(
                site_id=a.site_id, area_id=a.area_id, asset_id=a.id, code=code, kind=kind, unit=u, min_valid=lo,
                max_valid=hi, warn_high=wh, alarm_high=ah, sample_period_s=60, active=True).returning(
                m.Sensor.__table__.c.id)).scalar()
            have[kind] = dict(id=sid, min=lo, max=hi, code=code)
            report.notes.append(f"created sensor {code} ({u})")
    return a.id, have


def _import_ai4i(conn: sa.Connection, chunks: Iterator[list[tuple[int, _Row]]], report: ImportReport,
                 asset_code: str, start: str | None, interval_s: float, skip_bad: bool, progress) -> None:
    """Streams the rows into compact arrays (8 bytes per value), then writes readings in chunks."""
    from array import array

    from .store import PartitionCache, refresh_daily, update_rollups, write_readings

    asset_id, sensors = _ai4i_sensors(conn, asset_code, report)
    fields = list(AI4I_SENSORS)
    lines, udis = array("q"), array("q")
    values = {f: array("d") for f in fields}
    failure_rows: dict[int, tuple[str, str]] = {}  # udi -> (mode, product id), failures only
    limits = {}
    for field_name, kind in AI4I_SENSORS.items():
        sens = sensors[kind]
        limits[field_name] = (-math.inf if sens["min"] is None else sens["min"],
                              math.inf if sens["max"] is None else sens["max"], sens["code"],
                              Ai4iRow.model_fields[field_name].alias)
    for chunk in chunks:
        for line, r in chunk:
            bad = False
            for field_name in fields:
                v = getattr(r, field_name)
                lo, hi, code, col = limits[field_name]
                if not (lo <= v <= hi):
                    report.add_error(RowError(line, col,
                                              f"{v:g} is outside the valid range [{lo:g}, {hi:g}] of {code}"))
                    bad = True
            if r.failure == 0 and any(getattr(r, f) for f in _FLAGS[:4]):
                report.add_error(RowError(line, "Machine failure",
                                          "a failure mode flag is set but Machine failure is 0"))
                bad = True
            if bad:
                continue
            lines.append(line)
            udis.append(r.udi)
            for field_name in fields:
                values[field_name].append(getattr(r, field_name))
            if r.failure:
                failure_rows[r.udi] = ("+".join(f.upper() for f in _FLAGS if getattr(r, f)) or "unknown", r.product_id)
    line_a = np.frombuffer(lines, dtype=np.int64) if len(lines) else np.zeros(0, dtype=np.int64)
    udi_a = np.frombuffer(udis, dtype=np.int64) if len(udis) else np.zeros(0, dtype=np.int64)
    order = np.argsort(udi_a, kind="stable")
    udi_s, line_s = udi_a[order], line_a[order]
    # A repeated UDI: every occurrence after the first (in file order) is an error.
    keep = np.ones(len(udi_s), dtype=bool)
    if len(udi_s) > 1:
        dup = np.flatnonzero(udi_s[1:] == udi_s[:-1]) + 1
        for i in dup.tolist():
            first = i - 1
            while first > 0 and udi_s[first - 1] == udi_s[i]:
                first -= 1
            report.add_error(RowError(int(line_s[i]), "UDI", f"UDI {int(udi_s[i])} repeats line {int(line_s[first])}"))
        keep[dup] = False
    order = order[keep]
    report.valid = len(order)
    if report.error_count and not skip_bad:
        return
    if not len(order):
        return
    udi = udi_a[order]
    cols = {f: np.frombuffer(values[f], dtype=np.float64)[order] for f in fields}
    del lines, udis, values
    max_udi = int(udi.max())
    t0 = _parse_start(start, max_udi, interval_s)
    t0_us = int(t0.timestamp() * 1e6)
    ts = t0_us + (udi - 1) * int(interval_s * 1e6)
    n = len(udi)
    raw = conn.connection.driver_connection
    PartitionCache().ensure(raw, int(ts.min()), int(ts.max()))
    chunk = 50_000
    inserted = 0
    keys: set[int] = set()
    for field_name, kind in AI4I_SENSORS.items():
        sid = np.full(n, sensors[kind]["id"], dtype=np.int32)
        val = cols[field_name]
        for i in range(0, n, chunk):
            new = write_readings(raw, sid[i:i + chunk], ts[i:i + chunk], val[i:i + chunk],
                                 np.zeros(min(chunk, n - i), dtype=np.int16))
            keys.update(update_rollups(raw, new).tolist())
            inserted += len(new)
            if progress:
                progress(min(chunk, n - i))
    refresh_daily(raw, keys)
    total = n * len(AI4I_SENSORS)
    report.inserted += inserted
    report.unchanged += total - inserted
    report.notes.append(f"readings: {inserted:,} new of {total:,} ({n:,} rows x {len(AI4I_SENSORS)} sensors), "
                        f"{dt.datetime.fromtimestamp(int(ts.min()) / 1e6, dt.UTC):%Y-%m-%d %H:%M} .. "
                        f"{dt.datetime.fromtimestamp(int(ts.max()) / 1e6, dt.UTC):%Y-%m-%d %H:%M} UTC, "
                        f"every {interval_s:g} s")
    # Failure and tool-change events.
    fe, me = m.FailureEvent.__table__, m.MaintenanceEvent.__table__
    failures = changes = 0

    def when(i: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(ts[i]) / 1e6, dt.UTC)

    for i in np.flatnonzero(np.isin(udi, np.fromiter(failure_rows, dtype=np.int64, count=len(failure_rows)))).tolist():
        u = int(udi[i])
        mode, product = failure_rows[u]
        t = when(i)
        exists = conn.execute(sa.select(fe.c.id).where(fe.c.asset_id == asset_id, fe.c.occurred_at == t,
                                                       fe.c.mode == mode)).first()
        if not exists:
            conn.execute(sa.insert(fe).values(asset_id=asset_id, occurred_at=t, mode=mode, downtime_h=0.0,
                                              note=f"AI4I 2020 UDI {u}, product {product} (CC BY 4.0)"))
            failures += 1
    wear = cols["tool_wear"]
    for i in (np.flatnonzero(wear[1:] < wear[:-1]) + 1).tolist():
        t = when(i)
        exists = conn.execute(sa.select(me.c.id).where(me.c.asset_id == asset_id, me.c.started_at == t,
                                                       me.c.kind == "tool_change")).first()
        if not exists:
            conn.execute(sa.insert(me).values(asset_id=asset_id, kind="tool_change", started_at=t,
                                              ended_at=t, note=f"AI4I 2020 UDI {int(udi[i])}: tool wear reset"))
            changes += 1
    report.notes.append(f"failure events: {failures:,} new; tool changes: {changes:,} new")
    report.notes.append("data: " + AI4I_ATTRIBUTION)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------

def run_import(kind: str, path: Path, *, db_url: str | None = None, engine: sa.Engine | None = None,
               skip_bad: bool = False, asset_code: str | None = None, start: str | None = None,
               interval_s: float = 300.0, progress: bool = False, actor: Scope | str = DEFAULT_ACTOR,
               site: str | None = None, enterprise: str | None = None, dry_run: bool = False) -> ImportReport:
    """Stream FILE into one transaction; commit only if no row is bad (or ``skip_bad``).

    ``actor``: who imports (a platform user's Scope or a ``system:`` actor); it needs ``manage_plant``
    and the rows' sites in its scope; the import is audited under its name in the same transaction.
    ``site``: readings only, the site whose sensor codes the file uses.  ``enterprise``: org only.
    ``dry_run``: check and write as usual, then roll back (a preview: the counts and errors are real,
    nothing is kept; ``imported`` stays False).
    Raises ActorError / AccessDenied (qhse.services) when the actor may not import.
    """
    scope = plant.authorize(actor)
    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "ai4i" and not asset_code:
        raise ImportFileError("ai4i needs --asset CODE: the machine whose history the file is")
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    report = ImportReport(kind=kind, file=path)
    bar = wbar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc=f"{'loading' if kind == 'readings' else 'reading'} {path.name}",
                   unit=" readings" if kind == "readings" else " rows", unit_scale=kind == "readings",
                   dynamic_ncols=True, leave=False, disable=None)
        if kind == "ai4i":
            wbar = tqdm(desc="writing readings", unit=" readings", dynamic_ncols=True, leave=False, disable=None)
    own_engine = engine is None
    if engine is None:
        if db_url is None:
            raise ImportFileError("no database")
        engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                site_ids: set[int] = set()
                if kind == "readings":
                    from .readings_import import import_readings

                    site_ids = import_readings(conn, scope, path, report, skip_bad=skip_bad, site=site,
                                               progress=bar.update if bar is not None else None)
                    chunks = iter(())
                else:
                    chunks = validate_chunks(path, kind, report, bar.update if bar is not None else None)
                if kind == "ai4i":
                    _import_ai4i(conn, chunks, report, asset_code or "", start, interval_s, skip_bad,
                                 wbar.update if wbar is not None else None)
                elif kind == "org":
                    refs = _Refs(conn, scope)
                    refs.load_plant()
                    _import_org(conn, scope, chunks, refs, report, skip_bad, enterprise)
                    site_ids = refs.site_ids
                elif kind != "readings":
                    refs = _Refs(conn, scope)
                    if kind in PLANT_KINDS:
                        refs.load_plant()
                    for chunk in chunks:
                        errs: list[RowError] = []
                        params = (_resolve_plant if kind in PLANT_KINDS else _resolve)(kind, chunk, refs, errs)
                        for e in errs:
                            report.add_error(e)
                        report.valid += len(params)
                        if not report.error_count or skip_bad:
                            if kind in PLANT_KINDS:
                                _write_plant(conn, scope, kind, params, refs, report)
                            else:
                                _write(conn, kind, params, report)
                    site_ids = refs.site_ids
                report.errors.sort(key=lambda e: (e.line, e.column or ""))
                if report.error_count and not skip_bad:
                    trans.rollback()
                    report.inserted = report.updated = report.unchanged = 0
                    report.notes = []
                    return report
                if dry_run:
                    trans.rollback()
                    return report
                plant.record_import(conn, scope, kind, path.name, rows=report.rows, inserted=report.inserted,
                                    updated=report.updated, unchanged=report.unchanged, skipped=report.error_count,
                                    site_ids=site_ids)
                trans.commit()
                report.imported = True
            except BaseException:
                if trans.is_active:
                    trans.rollback()
                raise
    finally:
        for b in (bar, wbar):
            if b is not None:
                b.close()
        if own_engine:
            engine.dispose()
    return report
