"""KPI report rules: a report's rows from per-unit counts, the comparison with the previous period,
the total line from summed counts, flat records for tables.

A report covers ``months`` whole months ending with ``month`` (inclusive) (:func:`report_window`);
each unit is compared with the previous period of the same length.  The formulas are
:mod:`qhse.domain.kpi`; the counts come from ``db.queries.kpi``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qhse.domain.kpi import KPIS, Change, KpiCounts, SeverityConvention, change, compute


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


def report_window(month: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """[first day of the first month, first day after ``month``) for ``months`` months ending with ``month``."""
    if months < 1:
        raise ValueError("months must be at least 1")
    end = _add_months(dt.date(month.year, month.month, 1), 1)
    return _add_months(end, -months), end


@dataclass
class KpiRow:
    key: object
    label: str
    meta: dict[str, Any]
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
        last = _add_months(self.end, -1)
        return f"{self.start:%Y-%m}" if last == self.start else f"{self.start:%Y-%m} .. {last:%Y-%m}"


def row_from_counts(r: Mapping[str, Any], severity: SeverityConvention | None = None) -> KpiRow:
    """A report row from one unit's counts (``key``, ``label``, the counts, anything else as meta)."""
    c = KpiCounts.from_mapping(r)
    meta = {k: v for k, v in r.items() if k not in KpiCounts.__dataclass_fields__ and k not in ("key", "label")}
    return KpiRow(key=r["key"], label=str(r["label"]), meta=meta, counts=c,
                  values=compute(c, severity or SeverityConvention()))


def attach_previous(row: KpiRow, prev: dict[str, float | None] | None) -> None:
    """Set the row's previous-period values and each KPI's change (better / worse / same)."""
    row.previous = dict(prev or {})
    row.changes = {k.code: change(row.values.get(k.code), row.previous.get(k.code), k.higher_is_better) for k in KPIS}


def total_row(counts: Mapping[str, Any] | None, severity: SeverityConvention | None = None) -> KpiRow:
    """The total line ("Total", code TOTAL) from the group's summed counts (empty counts: no data)."""
    total = (row_from_counts(counts, severity) if counts is not None
             else KpiRow("group", "Group", {}, KpiCounts(), compute(KpiCounts(), severity or SeverityConvention())))
    total.label = "Total"
    total.meta["code"] = "TOTAL"
    return total


def kpi_definitions() -> list[dict[str, Any]]:
    """Code, label, leading/lagging, unit and formula of every KPI (for legends and tables)."""
    return [dict(code=k.code, label=k.label, kind=k.kind, unit=k.unit, higher_is_better=k.higher_is_better,
                 formula=k.description) for k in KPIS]


def report_records(report: KpiReport, include_total: bool = True) -> list[dict[str, Any]]:
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
