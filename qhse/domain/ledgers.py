"""Compliance ledger rules: which lines a ledger has, how each line is judged, and its totals.

Kinds: ``waste_gas`` (exceedances with the alarm that handled them, the monitoring points),
``training`` (records completed in the period with validity at period end) and
``inspection`` (inspections due in the period: done, missed or still scheduled).  The
period is given in local dates of the site's time zone, ``start`` .. ``end`` inclusive
(:func:`period_bounds`).  The service reads the source rows and exports CSV or PDF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from qhse.vocab import LedgerKind, values

KINDS = values(LedgerKind)
TITLES = {"waste_gas": "Waste-gas monitoring ledger", "training": "Training records ledger",
          "inspection": "Safety inspection ledger"}
MAX_DAYS = 3 * 366


class LedgerError(ValueError):
    """Bad request (unknown kind or site, bad period, site outside the caller's scope)."""


@dataclass
class Column:
    key: str
    label: str


@dataclass
class Ledger:
    kind: str
    title: str
    site: dict[str, Any]
    start: dt.date
    end: dt.date
    generated_at: dt.datetime
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: list[tuple[str, object]]
    regulations: list[dict[str, Any]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)  # waste gas: monitoring points summary

    def total(self, name: str) -> object:
        for k, v in self.totals:
            if k == name:
                return v
        raise KeyError(name)

    @property
    def filename(self) -> str:
        return f"ledger_{self.kind}_{self.site['code']}_{self.start:%Y%m%d}-{self.end:%Y%m%d}"


def fmt_time(t: dt.datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else ""


def num(v: Any, digits: int = 3) -> str:
    if v is None:
        return ""
    return f"{float(v):.{digits}f}".rstrip("0").rstrip(".")


def period_bounds(start: dt.date, end: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight of start, local midnight after end) as dt.UTC datetimes."""
    z = ZoneInfo(tz)
    t0 = dt.datetime(start.year, start.month, start.day, tzinfo=z)
    e = end + dt.timedelta(days=1)
    t1 = dt.datetime(e.year, e.month, e.day, tzinfo=z)
    return t0.astimezone(dt.UTC), t1.astimezone(dt.UTC)


def check_request(kind: str, start: dt.date, end: dt.date) -> None:
    """A known kind and a period that ends on or after its start and is at most ``MAX_DAYS`` long."""
    if kind not in KINDS:
        raise LedgerError(f"unknown ledger {kind!r}; choose one of {', '.join(KINDS)}")
    if end < start:
        raise LedgerError(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days > MAX_DAYS:
        raise LedgerError(f"the period is longer than {MAX_DAYS} days; export it in parts")


Rows = list[dict[str, Any]]
Totals = list[tuple[str, Any]]
Lines = tuple[list[Column], Rows, Totals, Rows]


def waste_gas_lines(src: Sequence[Mapping[str, Any]], pts: Sequence[Mapping[str, Any]], alarms_raised: int,
                    t1: dt.datetime, tz: ZoneInfo) -> Lines:
    """Waste-gas lines: each exceedance (``src``) with the alarm that handled it and how (no alarm,
    open, acknowledged, cleared before the period's end ``t1``), the monitoring points and the totals."""
    columns = [Column("source", "Source record"), Column("time", "Time (local)"),
               Column("point", "Monitoring point"), Column("area", "Area"), Column("gas", "Gas"),
               Column("value", "Value"), Column("limit", "Limit"), Column("unit", "Unit"),
               Column("alarm", "Alarm"), Column("acknowledged", "Acknowledged"),
               Column("cleared", "Cleared"), Column("handling", "Handling")]
    rows = []
    for r in src:
        ts = r["ts"].astimezone(dt.UTC)
        if r["alarm_id"] is None:
            handling = "no alarm"
        elif r["cleared_at"] is not None and r["cleared_at"] < t1:
            handling = "cleared"
        elif r["acknowledged_at"] is not None:
            handling = "acknowledged"
        else:
            handling = "open"
        rows.append({
            "source": f"sensor_reading#{r['sensor_id']}@{ts:%Y-%m-%dT%H:%M:%SZ}",
            "time": fmt_time(r["ts"], tz), "point": r["sensor_code"], "area": r["area_code"], "gas": r["gas"].upper(),
            "value": num(r["value"]), "limit": f"{r['direction']} {num(r['limit_value'])}", "unit": r["unit"],
            "alarm": f"alarm#{r['alarm_id']}" if r["alarm_id"] else "",
            "acknowledged": (f"{r['acknowledged_by'] or ''} {fmt_time(r['acknowledged_at'], tz)}".strip()
                             if r["alarm_id"] else ""),
            "cleared": fmt_time(r["cleared_at"], tz) if r["alarm_id"] else "",
            "handling": handling,
        })
    alarms = {r["alarm_id"] for r in src if r["alarm_id"]}
    cleared = {r["alarm_id"] for r in src if r["alarm_id"] and r["cleared_at"] is not None and r["cleared_at"] < t1}
    totals = [
        ("lines", len(rows)),
        ("monitoring_points", len(pts)),
        ("readings", sum(int(p["readings"]) for p in pts)),
        ("exceedances", len(rows)),
        ("alarms_linked", len(alarms)),
        ("alarms_linked_cleared", len(cleared)),
        ("alarms_raised", alarms_raised),
        ("exceedances_without_alarm", sum(1 for r in src if r["alarm_id"] is None)),
    ]
    points = [{"source": f"sensor#{p['sensor_id']}", "point": p["sensor_code"], "area": p["area_code"],
               "gas": p["gas"].upper(), "unit": p["unit"], "readings": int(p["readings"]),
               "min": num(p["min_value"]), "avg": num(p["avg_value"]), "max": num(p["max_value"]),
               "limit": (f"> {num(p['alarm_high'])}" if p["alarm_high"] is not None else f"< {num(p['alarm_low'])}"),
               "exceedances": int(p["exceedances"])} for p in pts]
    return columns, rows, totals, points


def training_lines(src: Sequence[Mapping[str, Any]], end: dt.date) -> Lines:
    """Training lines: each record with its validity at the period's ``end`` (failed, no expiry, valid,
    expired), and the totals."""
    columns = [Column("source", "Source record"), Column("completed_on", "Completed"),
               Column("employee_no", "No."), Column("person", "Person"), Column("department", "Department"),
               Column("course_code", "Course"), Column("course", "Course name"), Column("score", "Score"),
               Column("passed", "Passed"), Column("expires_on", "Expires"),
               Column("status", "At period end")]
    rows = []
    for r in src:
        if not r["passed"]:
            status = "failed"
        elif r["expires_on"] is None:
            status = "no expiry"
        else:
            status = "valid" if r["expires_on"] >= end else "expired"
        rows.append({"source": f"training_record#{r['id']}", "completed_on": r["completed_on"].isoformat(),
                     "employee_no": r["employee_no"], "person": r["person"], "department": r["department"],
                     "course_code": r["course_code"], "course": r["course"], "score": num(r["score"], 1),
                     "passed": "yes" if r["passed"] else "no",
                     "expires_on": r["expires_on"].isoformat() if r["expires_on"] else "", "status": status})
    scores = [float(r["score"]) for r in src if r["score"] is not None]
    totals = [
        ("lines", len(rows)),
        ("people", len({r["employee_no"] for r in src})),
        ("passed", sum(1 for r in src if r["passed"])),
        ("failed", sum(1 for r in src if not r["passed"])),
        ("expired_at_period_end", sum(1 for r in rows if r["status"] == "expired")),
        ("average_score", round(sum(scores) / len(scores), 2) if scores else ""),
    ]
    return columns, rows, totals, []


def inspection_lines(src: Sequence[Mapping[str, Any]], tz: ZoneInfo) -> Lines:
    """Inspection lines: each inspection due in the period with its failed checklist items, and the
    totals (done, missed, scheduled, findings, completion rate)."""
    columns = [Column("source", "Source record"), Column("due", "Due (local)"), Column("area", "Area"),
               Column("route", "Route"), Column("status", "Status"), Column("performed", "Performed"),
               Column("inspector", "Inspector"), Column("findings", "Findings"),
               Column("failed_items", "Failed checklist items")]
    rows = []
    for r in src:
        res = r["results"] or {}
        failed = [k for k, v in res.items() if v is False]
        rows.append({"source": f"inspection#{r['id']}", "due": fmt_time(r["due_at"], tz), "area": r["area_code"],
                     "route": r["route"], "status": r["status"], "performed": fmt_time(r["performed_at"], tz),
                     "inspector": f"{r['inspector']} ({r['inspector_no']})" if r["inspector"] else "",
                     "findings": int(r["findings"] or 0), "failed_items": ", ".join(failed)})
    done = sum(1 for r in src if r["status"] == "done")
    missed = sum(1 for r in src if r["status"] == "missed")
    totals = [
        ("lines", len(rows)),
        ("done", done),
        ("missed", missed),
        ("scheduled", sum(1 for r in src if r["status"] == "scheduled")),
        ("findings", sum(int(r["findings"] or 0) for r in src)),
        ("completion_rate_pct", round(100.0 * done / (done + missed), 1) if done + missed else ""),
    ]
    return columns, rows, totals, []


def csv_cell(v: object) -> object:
    """A value safe to open in a spreadsheet: text that would start a formula gets a leading quote."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(v)
        except ValueError:
            return "'" + v
    return v
