"""Compliance ledgers: one site, one period, every line traced to its source record.

Kinds:

* ``waste_gas``: waste-gas (VOC, H2S) readings beyond their alarm limit, each with the
  alarm that handled it (the critical one when several were open; acknowledged by whom,
  when, cleared when) or "no alarm"; the monitoring points with their reading counts and
  ranges; totals include every alarm raised on those sensors in the period;
* ``training``: training records completed in the period, with validity at period end;
* ``inspection``: inspections due in the period: done, missed or still scheduled, with
  the inspector and findings.

The period is given in local dates of the site's time zone, ``start`` .. ``end``
inclusive.  A ledger is exported as CSV (UTF-8 with BOM for spreadsheet programs: a
header line, one line per record, an empty line, then ``Total,<name>,<value>`` lines) or
as PDF (fpdf2): title, site, period, the applicable regulations from the register,
the lines, and the totals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from db.queries import ledgers as q
from qhse.domain.access import SYSTEM, Scope

UTC = dt.UTC
KINDS = ("waste_gas", "training", "inspection")
TITLES = {"waste_gas": "Waste-gas monitoring ledger", "training": "Training records ledger",
          "inspection": "Safety inspection ledger"}
FORMATS = ("csv", "pdf")
MAX_DAYS = 3 * 366
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
    "C:/Windows/Fonts/DejaVuSans.ttf",
)


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
    site: dict
    start: dt.date
    end: dt.date
    generated_at: dt.datetime
    columns: list[Column]
    rows: list[dict]
    totals: list[tuple[str, object]]
    regulations: list[dict] = field(default_factory=list)
    points: list[dict] = field(default_factory=list)  # waste gas: monitoring points summary

    def total(self, name: str):
        for k, v in self.totals:
            if k == name:
                return v
        raise KeyError(name)

    @property
    def filename(self) -> str:
        return f"ledger_{self.kind}_{self.site['code']}_{self.start:%Y%m%d}-{self.end:%Y%m%d}"


def _fmt_time(t: dt.datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else ""


def _num(v, digits: int = 3) -> str:
    if v is None:
        return ""
    return f"{float(v):.{digits}f}".rstrip("0").rstrip(".")


def period_bounds(start: dt.date, end: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight of start, local midnight after end) as UTC datetimes."""
    z = ZoneInfo(tz)
    t0 = dt.datetime(start.year, start.month, start.day, tzinfo=z)
    e = end + dt.timedelta(days=1)
    t1 = dt.datetime(e.year, e.month, e.day, tzinfo=z)
    return t0.astimezone(UTC), t1.astimezone(UTC)


def build(engine: sa.Engine, kind: str, site_code: str, start: dt.date, end: dt.date, *,
          scope: Scope = SYSTEM, now: dt.datetime | None = None) -> Ledger:
    """Build a ledger from the source tables."""
    if kind not in KINDS:
        raise LedgerError(f"unknown ledger {kind!r}; choose one of {', '.join(KINDS)}")
    if end < start:
        raise LedgerError(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days > MAX_DAYS:
        raise LedgerError(f"the period is longer than {MAX_DAYS} days; export it in parts")
    site = q.site_info(engine, scope, site_code)
    if site is None:
        raise LedgerError(f"no site {site_code!r} in {scope.username}'s scope")
    tz = ZoneInfo(site["timezone"] or "UTC")
    t0, t1 = period_bounds(start, end, site["timezone"] or "UTC")
    regs = q.regulations(engine, scope, site["id"], kind)
    regs = regs[regs["active"]].to_dict("records")
    with engine.connect() as conn:
        builder = {"waste_gas": _waste_gas, "training": _training, "inspection": _inspection}[kind]
        columns, rows, totals, points = builder(conn, scope, site, start, end, t0, t1, tz)
    return Ledger(kind=kind, title=TITLES[kind], site=site, start=start, end=end,
                  generated_at=now or dt.datetime.now(UTC), columns=columns, rows=rows, totals=totals,
                  regulations=regs, points=points)


def _waste_gas(conn, scope, site, start, end, t0, t1, tz):
    src = q.waste_gas_exceedances(conn, scope, site["id"], t0, t1)
    pts = q.waste_gas_points(conn, scope, site["id"], t0, t1)
    columns = [Column("source", "Source record"), Column("time", "Time (local)"),
               Column("point", "Monitoring point"), Column("area", "Area"), Column("gas", "Gas"),
               Column("value", "Value"), Column("limit", "Limit"), Column("unit", "Unit"),
               Column("alarm", "Alarm"), Column("acknowledged", "Acknowledged"),
               Column("cleared", "Cleared"), Column("handling", "Handling")]
    rows = []
    for r in src:
        ts = r["ts"].astimezone(UTC)
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
            "time": _fmt_time(r["ts"], tz), "point": r["sensor_code"], "area": r["area_code"], "gas": r["gas"].upper(),
            "value": _num(r["value"]), "limit": f"{r['direction']} {_num(r['limit_value'])}", "unit": r["unit"],
            "alarm": f"alarm#{r['alarm_id']}" if r["alarm_id"] else "",
            "acknowledged": (f"{r['acknowledged_by'] or ''} {_fmt_time(r['acknowledged_at'], tz)}".strip()
                             if r["alarm_id"] else ""),
            "cleared": _fmt_time(r["cleared_at"], tz) if r["alarm_id"] else "",
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
        ("alarms_raised", q.waste_gas_alarms_raised(conn, scope, site["id"], t0, t1)),
        ("exceedances_without_alarm", sum(1 for r in src if r["alarm_id"] is None)),
    ]
    points = [{"source": f"sensor#{p['sensor_id']}", "point": p["sensor_code"], "area": p["area_code"],
               "gas": p["gas"].upper(), "unit": p["unit"], "readings": int(p["readings"]),
               "min": _num(p["min_value"]), "avg": _num(p["avg_value"]), "max": _num(p["max_value"]),
               "limit": (f"> {_num(p['alarm_high'])}" if p["alarm_high"] is not None else f"< {_num(p['alarm_low'])}"),
               "exceedances": int(p["exceedances"])} for p in pts]
    return columns, rows, totals, points


def _training(conn, scope, site, start, end, t0, t1, tz):
    src = q.training_records(conn, scope, site["id"], start, end)
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
                     "course_code": r["course_code"], "course": r["course"], "score": _num(r["score"], 1),
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


def _inspection(conn, scope, site, start, end, t0, t1, tz):
    src = q.inspection_records(conn, scope, site["id"], t0, t1)
    columns = [Column("source", "Source record"), Column("due", "Due (local)"), Column("area", "Area"),
               Column("route", "Route"), Column("status", "Status"), Column("performed", "Performed"),
               Column("inspector", "Inspector"), Column("findings", "Findings"),
               Column("failed_items", "Failed checklist items")]
    rows = []
    for r in src:
        res = r["results"] or {}
        failed = [k for k, v in res.items() if v is False]
        rows.append({"source": f"inspection#{r['id']}", "due": _fmt_time(r["due_at"], tz), "area": r["area_code"],
                     "route": r["route"], "status": r["status"], "performed": _fmt_time(r["performed_at"], tz),
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


# ------------------------------------------------------------------------------------ CSV
def _cell(v):
    """A value safe to open in a spreadsheet: text that would start a formula gets a leading quote."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(v)
        except ValueError:
            return "'" + v
    return v


def to_csv(ledger: Ledger) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.label for c in ledger.columns])
    for r in ledger.rows:
        w.writerow([_cell(r.get(c.key, "")) for c in ledger.columns])
    w.writerow([])
    for k, v in ledger.totals:
        w.writerow(["Total", k, v])
    return buf.getvalue().encode("utf-8-sig")


def read_csv(data: bytes) -> tuple[list[dict], dict[str, str]]:
    """Parse an exported CSV back into (lines keyed by column label, totals)."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    split = body.index([]) if [] in body else len(body)
    lines = [dict(zip(header, r)) for r in body[:split]]
    totals = {r[1]: r[2] for r in body[split + 1:] if len(r) == 3 and r[0] == "Total"}
    return lines, totals


# ------------------------------------------------------------------------------------ PDF
def _font_path() -> str | None:
    for p in FONT_CANDIDATES:
        if Path(p).is_file():
            return p
    return None


def to_pdf(ledger: Ledger, progress: Callable[[int, int], None] | None = None) -> bytes:
    """The ledger as a landscape A4 PDF with repeated table headers and a totals block."""
    from fpdf import FPDF

    font_file = _font_path()

    class _Doc(FPDF):
        def footer(self):
            self.set_y(-10)
            self.set_font(fam, size=7)
            self.cell(0, 5, f"{ledger.title} - {ledger.site['code']} - {ledger.start} to {ledger.end} - "
                            f"page {self.page_no()}/{{nb}}", align="C")

    pdf = _Doc(orientation="L", unit="mm", format="A4")
    if font_file:
        pdf.add_font("LedgerSans", "", font_file)
        fam = "LedgerSans"

        def clean(s: str) -> str:
            return s
    else:
        fam = "Helvetica"

        def clean(s: str) -> str:
            return s.encode("latin-1", "replace").decode("latin-1")

    pdf.set_title(f"{ledger.title} {ledger.site['code']} {ledger.start} - {ledger.end}")
    pdf.set_creator("QHSE Platform")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(10, 10, 10)
    pdf.add_page()
    width = pdf.w - 20
    bottom = pdf.h - 14

    pdf.set_font(fam, size=14)
    pdf.cell(0, 8, clean(ledger.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(fam, size=9)
    tzname = ledger.site.get("timezone") or "UTC"
    for line in (f"Site: {ledger.site['code']} - {ledger.site['name']}",
                 f"Period: {ledger.start} to {ledger.end} (inclusive, {tzname})",
                 f"Generated: {ledger.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"):
        pdf.cell(0, 5, clean(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(fam, size=9)
    pdf.cell(0, 5, "Applicable regulations and standards:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(fam, size=8)
    if not ledger.regulations:
        pdf.cell(0, 4.5, "  (none in the register for this ledger)", new_x="LMARGIN", new_y="NEXT")
    for r in ledger.regulations:
        clause = f", {r['clause']}" if r.get("clause") else ""
        pdf.multi_cell(width, 4.5, clean(f"  - {r['code']} {r['title']}{clause} [regulation#{r['id']}]"),
                       new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    def table(cols: list[Column], rows: list[dict], title: str, step: Callable[[int], None] | None = None) -> None:
        pdf.set_font(fam, size=7)
        widths = _widths(pdf, cols, rows, width, clean)
        row_h = 4.6

        def header():
            pdf.set_font(fam, size=7.5)
            pdf.set_fill_color(225, 230, 238)
            for c, w in zip(cols, widths):
                pdf.cell(w, 5.5, clean(_fit(pdf, c.label, w)), border=1, fill=True)
            pdf.ln(5.5)
            pdf.set_font(fam, size=7)

        pdf.set_font(fam, size=10)
        pdf.cell(0, 6, clean(title), new_x="LMARGIN", new_y="NEXT")
        header()
        for i, r in enumerate(rows):
            if pdf.get_y() + row_h > bottom:
                pdf.add_page()
                header()
            for c, w in zip(cols, widths):
                pdf.cell(w, row_h, clean(_fit(pdf, str(r.get(c.key, "")), w)), border=1)
            pdf.ln(row_h)
            if step and (i % 200 == 0 or i == len(rows) - 1):
                step(i + 1)
        if not rows:
            pdf.cell(width, row_h, "no records in the period", border=1)
            pdf.ln(row_h)
        pdf.ln(3)

    if ledger.points:
        pcols = [Column("source", "Source record"), Column("point", "Monitoring point"),
                 Column("area", "Area"), Column("gas", "Gas"), Column("unit", "Unit"),
                 Column("readings", "Readings"), Column("min", "Min"), Column("avg", "Mean"),
                 Column("max", "Max"), Column("limit", "Limit"), Column("exceedances", "Exceedances")]
        table(pcols, ledger.points, "Monitoring points")
    table(ledger.columns, ledger.rows, f"Lines ({len(ledger.rows)})",
          step=(lambda n: progress(n, len(ledger.rows))) if progress else None)

    if pdf.get_y() + 6 + 5 * len(ledger.totals) > bottom:
        pdf.add_page()
    pdf.set_font(fam, size=10)
    pdf.cell(0, 6, "Totals", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(fam, size=9)
    for k, v in ledger.totals:
        pdf.cell(70, 5, clean(f"{k}"), border=1)
        pdf.cell(40, 5, clean(f"{v}"), border=1, align="R")
        pdf.ln(5)
    if progress and not ledger.rows:
        progress(0, 0)
    return bytes(pdf.output())


def _widths(pdf, cols: list[Column], rows: list[dict], width: float, clean) -> list[float]:
    """Column widths from their content; the source column is never narrowed."""
    sample = rows if len(rows) <= 2000 else rows[:: len(rows) // 2000 + 1] + rows[-1:]
    pad = 2 * pdf.c_margin + 0.5
    natural = []
    for c in cols:
        w = max([pdf.get_string_width(clean(str(r.get(c.key, "")))) for r in sample] + [0.0])
        natural.append(max(8.0, min(w, 90.0), pdf.get_string_width(clean(c.label)) * 7.5 / 7) + pad)
    total = sum(natural)
    if total <= width:
        return [w * width / total for w in natural]
    fixed = natural[0] if cols and cols[0].key == "source" else 0.0
    rest = total - fixed
    scale = (width - fixed) / rest if rest else 1.0
    return [w if (i == 0 and fixed) else w * scale for i, w in enumerate(natural)]


def _fit(pdf, text: str, w: float) -> str:
    """``text`` shortened with an ellipsis to fit a cell of width ``w`` (mm)."""
    avail = w - 2 * pdf.c_margin
    if pdf.get_string_width(text) <= avail:
        return text
    ell = "..."
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pdf.get_string_width(text[:mid] + ell) <= avail:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + ell


def export(ledger: Ledger, fmt: str, path: Path | None = None,
           progress: Callable[[int, int], None] | None = None) -> bytes:
    """CSV or PDF bytes; written atomically to ``path`` when given."""
    if fmt not in FORMATS:
        raise LedgerError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    data = to_csv(ledger) if fmt == "csv" else to_pdf(ledger, progress)
    if path is not None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise LedgerError(f"cannot write {path}: {exc.strerror or exc}") from None
    return data


def render(engine: sa.Engine, kind: str, site_code: str, start: dt.date, end: dt.date, fmt: str, *,
           scope: Scope = SYSTEM) -> bytes:
    """Build and export in one call (what the dashboard's download buttons serve)."""
    return export(build(engine, kind, site_code, start, end, scope=scope), fmt)
