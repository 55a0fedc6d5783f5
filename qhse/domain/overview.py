"""Overview page rules: the tiles (a period's KPIs and operational counts next to the previous period).

Each tile says the current and previous value, the change and whether it is better or
worse (:func:`qhse.domain.kpi.change`).  Rates need hours worked, which are recorded per
site and department, not per area: for areas only counts and shares are available.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from qhse.domain import kpi

TILE_KPIS = ("trir", "ltifr", "dart", "near_miss_ratio", "hazard_closure_rate", "on_time_rectification_rate")


@dataclass(frozen=True)
class Tile:
    code: str
    label: str
    kind: str  # leading / lagging / operational
    unit: str
    current: float | None
    previous: float | None
    delta: float | None
    direction: str  # better / worse / same / n/a
    higher_is_better: bool
    description: str


def kpi_tiles(current: Mapping[str, float | None], previous: Mapping[str, float | None]) -> list[Tile]:
    """The KPI tiles from the computed KPIs of the period and of the previous one."""
    tiles = []
    for code in TILE_KPIS:
        d = kpi.KPI_BY_CODE[code]
        ch = kpi.change(current[code], previous[code], d.higher_is_better)
        tiles.append(Tile(code, d.label, d.kind, d.unit, ch.current, ch.previous, ch.delta, ch.direction,
                          d.higher_is_better, d.description))
    return tiles


def operational_tile(code: str, label: str, unit: str, higher_is_better: bool, description: str, current: float,
                     previous: float) -> Tile:
    """A tile for an operational count (overdue actions, open alarms, PPE violations)."""
    ch = kpi.change(float(current), float(previous), higher_is_better)
    return Tile(code, label, "operational", unit, ch.current, ch.previous, ch.delta, ch.direction, higher_is_better,
                description)
