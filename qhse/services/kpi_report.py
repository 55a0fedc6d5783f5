"""KPI tables from the database: counts from ``db.queries.kpi``, formulas from ``qhse.domain.kpi``.

A report covers ``months`` whole months ending with ``month`` (inclusive), groups units by
site, region, department, area or month, and compares each unit with the previous period
of the same length (for a monthly table: with the month before).  The total line is the
group figure computed from summed counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from db.queries._sites import add_months, month_start
from db.queries.kpi import kpi_counts, latest_month_with_data
from qhse.domain.kpi import KPI_BY_CODE, KPIS, Change, KpiCounts, change, compute
from qhse.domain.performance import PerformanceConfig, default_config


@dataclass
class KpiRow:
    key: object
    label: str
    meta: dict
    counts: KpiCounts
    values: dict[str, float | None]
    previous: dict[str, float | None] = field(default_factory=dict)
    changes: dict[str, Change] = field(default_factory=dict)


@dataclass
class KpiReport:
    start: dt.date
    end: dt.date  # exclusive
    by: str
    rows: list[KpiRow]
    total: KpiRow

    @property
    def period_label(self) -> str:
        last = add_months(self.end, -1)
        return f"{self.start:%Y-%m}" if last == self.start else f"{self.start:%Y-%m} .. {last:%Y-%m}"


def _row(r: dict, severity) -> KpiRow:
    c = KpiCounts.from_mapping(r)
    meta = {k: v for k, v in r.items() if k not in KpiCounts.__dataclass_fields__ and k not in ("key", "label")}
    return KpiRow(key=r["key"], label=str(r["label"]), meta=meta, counts=c, values=compute(c, severity))


def _attach(row: KpiRow, prev: dict[str, float | None] | None) -> None:
    row.previous = dict(prev or {})
    row.changes = {k.code: change(row.values.get(k.code), row.previous.get(k.code), k.higher_is_better) for k in KPIS}


def default_month(engine: sa.Engine, scope=None, today: dt.date | None = None) -> dt.date:
    """The last complete month that has data (the month before the current one at most)."""
    today = today or dt.date.today()
    last_complete = add_months(month_start(today), -1)
    latest = latest_month_with_data(engine, scope)
    return last_complete if latest is None else min(latest, last_complete)


def kpi_report(engine: sa.Engine, *, month: dt.date, months: int = 1, by: str = "site", scope=None,
               parent: tuple[str, int] | None = None, config: PerformanceConfig | None = None,
               as_of: dt.datetime | None = None, tz: str | None = None) -> KpiReport:
    """KPIs for the ``months`` months ending with ``month``, one row per unit of ``by``."""
    if months < 1:
        raise ValueError("months must be at least 1")
    cfg = config or default_config()
    sev = cfg.kpi.severity.convention()
    end = add_months(month_start(month), 1)
    start = add_months(end, -months)
    kw = dict(scope=scope, include_contractors=cfg.kpi.include_contractors, as_of=as_of, tz=tz, parent=parent)
    if by == "month":
        raw = kpi_counts(engine, start=add_months(start, -1), end=end, by="month", **kw)
        all_rows = [_row(r, sev) for r in raw]
        for prev, cur in zip(all_rows, all_rows[1:]):
            _attach(cur, prev.values)
        rows = all_rows[1:]
    else:
        rows = [_row(r, sev) for r in kpi_counts(engine, start=start, end=end, by=by, **kw)]
        prev_rows = {r["key"]: _row(r, sev).values
                     for r in kpi_counts(engine, start=add_months(start, -months), end=start, by=by, **kw)}
        for r in rows:
            _attach(r, prev_rows.get(r.key))
    total_now = kpi_counts(engine, start=start, end=end, by="group", **kw)
    total_prev = kpi_counts(engine, start=add_months(start, -months), end=start, by="group", **kw)
    total = _row(total_now[0], sev) if total_now else KpiRow("group", "Group", {}, KpiCounts(), compute(KpiCounts(), sev))
    total.label = "Total"
    total.meta["code"] = "TOTAL"
    _attach(total, _row(total_prev[0], sev).values if total_prev else None)
    return KpiReport(start=start, end=end, by=by, rows=rows, total=total)


def kpi_definitions() -> list[dict]:
    """Code, label, leading/lagging, unit and formula of every KPI (for legends and tables)."""
    return [dict(code=k.code, label=k.label, kind=k.kind, unit=k.unit, higher_is_better=k.higher_is_better,
                 formula=k.description) for k in KPIS]


def report_records(report: KpiReport, include_total: bool = True) -> list[dict]:
    """Flat records (one per row) with each KPI value and its change, for tables and charts."""
    out = []
    for r in report.rows + ([report.total] if include_total else []):
        rec = {"unit": r.label, "hours": r.counts.hours if r.counts.hours_known else None}
        for code, v in r.values.items():
            rec[code] = v
            ch = r.changes.get(code)
            rec[f"{code}_change"] = ch.delta if ch else None
            rec[f"{code}_direction"] = ch.direction if ch else "n/a"
        out.append(rec)
    return out


__all__ = ["KpiRow", "KpiReport", "kpi_report", "default_month", "kpi_definitions", "report_records", "KPI_BY_CODE"]
