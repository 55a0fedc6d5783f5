"""Safety KPI formulas: pure functions on counts, no database.

Frequency rates follow the usual conventions:

* TRIR  = recordable cases x 200,000 / hours worked
* DART  = (days-away cases + restricted/transfer cases) x 200,000 / hours worked
* LTIFR = lost-time injuries x 1,000,000 / hours worked
* severity rate = lost days x base / hours worked (which days count, and the base, are
  configurable: :class:`SeverityConvention`)

Ratios (near-miss ratio, hazard closure, on-time rectification, training coverage,
inspection completion) are shares of a denominator, in percent except the near-miss ratio.

A figure whose denominator is zero (no hours, nothing due) is *not available*: the
functions return ``None`` instead of raising or returning 0, and :func:`fmt` shows it as
"n/a".  Group figures are computed from summed counts (:func:`rollup`), never by
averaging unit rates.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

BASE_200K = 200_000
BASE_1M = 1_000_000


# ------------------------------------------------------------------------------ formulas
def frequency_rate(cases: float, hours: float | None, base: float) -> float | None:
    """cases x base / hours; None when hours is zero, negative or unknown."""
    if hours is None or hours <= 0:
        return None
    if cases < 0:
        raise ValueError(f"a case count cannot be negative (got {cases})")
    return cases * base / hours


def trir(recordable_cases: float, hours: float | None) -> float | None:
    """Total recordable incident rate per 200,000 hours."""
    return frequency_rate(recordable_cases, hours, BASE_200K)


def dart(days_away_cases: float, restricted_cases: float, hours: float | None) -> float | None:
    """Days away, restricted or transferred rate per 200,000 hours (each case counted once)."""
    return frequency_rate(days_away_cases + restricted_cases, hours, BASE_200K)


def ltifr(lost_time_injuries: float, hours: float | None) -> float | None:
    """Lost-time injury frequency rate per 1,000,000 hours."""
    return frequency_rate(lost_time_injuries, hours, BASE_1M)


@dataclass(frozen=True)
class SeverityConvention:
    """Which lost days the severity rate counts, and per how many hours.

    ``days``: ``"days_away"`` (calendar days away from work) or ``"days_away_and_restricted"``
    (days away plus days on restricted duty or transfer).  ``base``: 200,000 (OSHA style) or
    1,000,000 (ILO/ISO style) hours.
    """

    days: Literal["days_away", "days_away_and_restricted"] = "days_away"
    base: int = BASE_200K

    def __post_init__(self) -> None:
        if self.days not in ("days_away", "days_away_and_restricted"):
            raise ValueError(f"unknown severity convention {self.days!r}")
        if self.base <= 0:
            raise ValueError("the severity base must be positive")


def severity_rate(days_away: float, days_restricted: float, hours: float | None,
                  convention: SeverityConvention = SeverityConvention()) -> float | None:
    """Lost days per ``convention.base`` hours worked."""
    days = days_away + (days_restricted if convention.days == "days_away_and_restricted" else 0)
    return frequency_rate(days, hours, convention.base)


def ratio(numerator: float, denominator: float | None) -> float | None:
    """numerator / denominator; None when the denominator is zero or unknown."""
    if denominator is None or denominator <= 0:
        return None
    if numerator < 0:
        raise ValueError(f"a count cannot be negative (got {numerator})")
    return numerator / denominator


def percent(numerator: float, denominator: float | None) -> float | None:
    r = ratio(numerator, denominator)
    return None if r is None else 100.0 * r


def near_miss_ratio(near_misses: float, injuries: float) -> float | None:
    """Near misses reported per injury case (injury, illness, first aid).  Higher means more
    weak signals caught before harm; not available when there was no injury."""
    return ratio(near_misses, injuries)


def hazard_closure_rate(closed: float, reported: float) -> float | None:
    """% of the hazards reported in the period that are closed by the period's end."""
    return percent(closed, reported)


def on_time_rectification_rate(on_time: float, due: float) -> float | None:
    """% of corrective actions due in the period that were completed by their due time."""
    return percent(on_time, due)


def training_coverage(valid: float, held: float) -> float | None:
    """% of training records (latest per person and course) still valid at the period's end."""
    return percent(valid, held)


def inspection_completion(done: float, due: float) -> float | None:
    """% of the inspections due in the period that were performed."""
    return percent(done, due)


# ----------------------------------------------------------------------- counts, roll-up
@dataclass
class KpiCounts:
    """Additive counts behind every KPI for one unit (site, area, department, month...)."""

    hours: float = 0.0
    recordable: int = 0
    days_away_cases: int = 0
    restricted_cases: int = 0
    lost_time: int = 0
    days_away: int = 0
    days_restricted: int = 0
    injuries: int = 0
    near_misses: int = 0
    hazards_reported: int = 0
    hazards_closed: int = 0
    actions_due: int = 0
    actions_on_time: int = 0
    training_held: int = 0
    training_valid: int = 0
    inspections_due: int = 0
    inspections_done: int = 0
    # False where hours are not recorded at this grain (areas): rates are then not available.
    hours_known: bool = True

    def __add__(self, other: KpiCounts) -> KpiCounts:
        out = KpiCounts()
        for f in fields(self):
            if f.name == "hours_known":
                continue
            setattr(out, f.name, getattr(self, f.name) + getattr(other, f.name))
        out.hours_known = self.hours_known and other.hours_known
        return out

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> KpiCounts:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names and v is not None})


def rollup(units: Iterable[KpiCounts]) -> KpiCounts:
    """Sum the counts of several units: the group figure is computed from these sums."""
    total = KpiCounts()
    for u in units:
        total = total + u
    return total


@dataclass(frozen=True)
class KpiDef:
    code: str
    label: str
    kind: Literal["leading", "lagging"]
    unit: str
    higher_is_better: bool
    per_hours: bool  # normalised per hours worked
    description: str
    short: str = ""  # column header in narrow tables


KPIS: tuple[KpiDef, ...] = (
    KpiDef("trir", "TRIR", "lagging", "per 200k h", False, True,
           "recordable cases x 200,000 / hours worked", "TRIR"),
    KpiDef("dart", "DART", "lagging", "per 200k h", False, True,
           "(days-away cases + restricted/transfer cases) x 200,000 / hours worked", "DART"),
    KpiDef("ltifr", "LTIFR", "lagging", "per 1M h", False, True,
           "lost-time injuries x 1,000,000 / hours worked", "LTIFR"),
    KpiDef("severity_rate", "Severity rate", "lagging", "days per base h", False, True,
           "lost days x base / hours worked (convention configurable)", "Sev."),
    KpiDef("near_miss_ratio", "Near-miss ratio", "leading", "per injury", True, False,
           "near misses / injury cases (injury, illness, first aid)", "NM ratio"),
    KpiDef("hazard_closure_rate", "Hazard closure", "leading", "%", True, False,
           "hazards closed by period end / hazards reported in period (rejected excluded)", "Closed %"),
    KpiDef("on_time_rectification_rate", "On-time rectification", "leading", "%", True, False,
           "corrective actions completed by their due time / actions due in period", "On-time %"),
    KpiDef("training_coverage", "Training coverage", "leading", "%", True, False,
           "valid training records / training records held, at period end", "Trained %"),
    KpiDef("inspection_completion", "Inspection completion", "leading", "%", True, False,
           "inspections performed / inspections due in period", "Insp. %"),
    KpiDef("hazard_rate", "Hazards reported", "leading", "per 200k h", True, True,
           "hazard reports x 200,000 / hours worked", "Haz/200k h"),
)
KPI_BY_CODE = {k.code: k for k in KPIS}
LEADING = tuple(k.code for k in KPIS if k.kind == "leading")
LAGGING = tuple(k.code for k in KPIS if k.kind == "lagging")


def compute(c: KpiCounts, severity: SeverityConvention = SeverityConvention()) -> dict[str, float | None]:
    """Every KPI of one unit from its counts (None where not available)."""
    hours = c.hours if c.hours_known else None
    return {
        "trir": trir(c.recordable, hours),
        "dart": dart(c.days_away_cases, c.restricted_cases, hours),
        "ltifr": ltifr(c.lost_time, hours),
        "severity_rate": severity_rate(c.days_away, c.days_restricted, hours, severity),
        "near_miss_ratio": near_miss_ratio(c.near_misses, c.injuries),
        "hazard_closure_rate": hazard_closure_rate(c.hazards_closed, c.hazards_reported),
        "on_time_rectification_rate": on_time_rectification_rate(c.actions_on_time, c.actions_due),
        "training_coverage": training_coverage(c.training_valid, c.training_held),
        "inspection_completion": inspection_completion(c.inspections_done, c.inspections_due),
        "hazard_rate": frequency_rate(c.hazards_reported, hours, BASE_200K),
    }


# ------------------------------------------------------------------- trend, benchmarks
@dataclass(frozen=True)
class Change:
    current: float | None
    previous: float | None
    delta: float | None
    direction: Literal["better", "worse", "same", "n/a"]


def change(current: float | None, previous: float | None, higher_is_better: bool, tolerance: float = 1e-9) -> Change:
    """Change versus the previous period, and whether it is an improvement."""
    if current is None or previous is None:
        return Change(current, previous, None, "n/a")
    delta = current - previous
    direction: Literal["better", "worse", "same", "n/a"]
    if abs(delta) <= tolerance:
        direction = "same"
    elif (delta > 0) == higher_is_better:
        direction = "better"
    else:
        direction = "worse"
    return Change(current, previous, delta, direction)


def median_and_best(values: Iterable[float | None], higher_is_better: bool) -> tuple[float | None, float | None]:
    """Benchmark of a KPI across units: (median, best), ignoring units where it is not available."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    return statistics.median(vals), (max(vals) if higher_is_better else min(vals))


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"
