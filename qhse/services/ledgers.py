"""Compliance ledgers: one site, one period, every line traced to its source record (which lines
and how each is judged: :mod:`qhse.domain.ledgers`; here the source rows are read and exported).

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
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from db.queries import ledgers as q
from qhse.domain.access import SYSTEM, Scope
from qhse.domain.ledgers import (
    TITLES,
    Column,
    Ledger,
    LedgerError,
    check_request,
    csv_cell,
    inspection_lines,
    period_bounds,
    training_lines,
    waste_gas_lines,
)

if TYPE_CHECKING:
    from fpdf import FPDF

UTC = dt.UTC
FORMATS = ("csv", "pdf")
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
    "C:/Windows/Fonts/DejaVuSans.ttf",
)


def build(engine: sa.Engine, kind: str, site_code: str, start: dt.date, end: dt.date, *,
          scope: Scope = SYSTEM, now: dt.datetime | None = None) -> Ledger:
    """Build a ledger from the source tables."""
    check_request(kind, start, end)
    site = q.site_info(engine, scope, site_code)
    if site is None:
        raise LedgerError(f"no site {site_code!r} in {scope.username}'s scope")
    tz = ZoneInfo(site["timezone"] or "UTC")
    t0, t1 = period_bounds(start, end, site["timezone"] or "UTC")
    regs = q.regulations(engine, scope, site["id"], kind)
    regs = regs[regs["active"]].to_dict("records")
    with engine.connect() as conn:
        sid = site["id"]
        if kind == "waste_gas":
            columns, rows, totals, points = waste_gas_lines(
                q.waste_gas_exceedances(conn, scope, sid, t0, t1), q.waste_gas_points(conn, scope, sid, t0, t1),
                q.waste_gas_alarms_raised(conn, scope, sid, t0, t1), t1, tz)
        elif kind == "training":
            columns, rows, totals, points = training_lines(q.training_records(conn, scope, sid, start, end), end)
        else:
            columns, rows, totals, points = inspection_lines(q.inspection_records(conn, scope, sid, t0, t1), tz)
    return Ledger(kind=kind, title=TITLES[kind], site=site, start=start, end=end,
                  generated_at=now or dt.datetime.now(UTC), columns=columns, rows=rows, totals=totals,
                  regulations=regs, points=points)


# ------------------------------------------------------------------------------------ CSV
def to_csv(ledger: Ledger) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.label for c in ledger.columns])
    for r in ledger.rows:
        w.writerow([csv_cell(r.get(c.key, "")) for c in ledger.columns])
    w.writerow([])
    for k, v in ledger.totals:
        w.writerow(["Total", k, v])
    return buf.getvalue().encode("utf-8-sig")


def read_csv(data: bytes) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Parse an exported CSV back into (lines keyed by column label, totals)."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    split = body.index([]) if [] in body else len(body)
    lines = [dict(zip(header, r, strict=False)) for r in body[:split]]
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
        def footer(self) -> None:
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

    def table(cols: list[Column], rows: list[dict[str, Any]], title: str,
              step: Callable[[int], None] | None = None) -> None:
        pdf.set_font(fam, size=7)
        widths = _widths(pdf, cols, rows, width, clean)
        row_h = 4.6

        def header() -> None:
            pdf.set_font(fam, size=7.5)
            pdf.set_fill_color(225, 230, 238)
            for c, w in zip(cols, widths, strict=False):
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
            for c, w in zip(cols, widths, strict=False):
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


def _widths(pdf: FPDF, cols: list[Column], rows: list[dict[str, Any]], width: float,
            clean: Callable[[str], str]) -> list[float]:
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


def _fit(pdf: FPDF, text: str, w: float) -> str:
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
