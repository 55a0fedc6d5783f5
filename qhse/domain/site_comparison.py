"""Site comparison rules: the drill-down levels and the benchmarks (group median and best).

Drill-down: group -> regions -> plants -> areas (``level`` and ``parent``).  Each KPI is
benchmarked against the median and the best of the units compared (best: the highest or the
lowest value, as the KPI says).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qhse.domain.kpi import KPIS, median_and_best

LEVELS = ("region", "site", "area")


def check_level(level: str, parent: tuple[str, int] | None) -> None:
    """ValueError unless ``level`` is a drill-down level and an area comparison names its plant."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if level == "area" and (parent is None or parent[0] != "site"):
        raise ValueError("an area comparison needs a plant: parent=('site', id)")


def benchmarks(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """KPI code -> {median, best, higher_is_better, label, unit, kind} over the units' rows."""
    bench = {}
    for k in KPIS:
        med, best = median_and_best([r[k.code] for r in rows], k.higher_is_better)
        bench[k.code] = {"median": med, "best": best, "higher_is_better": k.higher_is_better, "label": k.label,
                         "unit": k.unit, "kind": k.kind}
    return bench
