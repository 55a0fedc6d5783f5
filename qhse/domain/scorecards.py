"""Assessment scorecard rules: indicator definitions, rating, the two-consecutive rule, applicability.

* An indicator file (YAML text, see ``qhse/domain/indicators.yaml``) is validated by
  :func:`parse_indicators`; the service reads the file and stores the definitions.
* :func:`rating` rates a value against an indicator's thresholds; :func:`needs_plan` flags a
  unit rated "needs improvement" two months running for an improvement plan.
* :func:`applicable_units` says which units (plants, the enterprise, departments, posts) an
  indicator assesses; :data:`SOURCE_SPECS` gives each data source's parameters and formula.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qhse.domain import kpi
from qhse.vocab import AssessmentLevel, Rating, UnitType, values

LEVELS = values(AssessmentLevel)
STAGES = ("general", "storage", "machining", "welding", "electronics_assembly", "waste_disposal")
RATINGS = values(Rating)
MANUAL = "manual"


class ScorecardError(Exception):
    """A problem the user can fix: bad indicator file, unknown indicator or unit, bad entry."""


def rating(value: float | None, excellent_at: float, qualified_at: float, higher_is_better: bool = True) -> Rating:
    """excellent / qualified / needs_improvement from the thresholds; not_available without a value.

    A value exactly at a threshold reaches it (98 % against "qualified at 98 %" is qualified)."""
    if value is None:
        return Rating.NOT_AVAILABLE
    if higher_is_better:
        if value >= excellent_at:
            return Rating.EXCELLENT
        if value >= qualified_at:
            return Rating.QUALIFIED
    else:
        if value <= excellent_at:
            return Rating.EXCELLENT
        if value <= qualified_at:
            return Rating.QUALIFIED
    return Rating.NEEDS_IMPROVEMENT


def needs_plan(previous_rating: str | None, current_rating: str | None) -> bool:
    """Two consecutive months rated "needs improvement" flag the unit for an improvement plan."""
    return previous_rating == Rating.NEEDS_IMPROVEMENT and current_rating == Rating.NEEDS_IMPROVEMENT


def _pct(num: float, den: float, params: dict[str, Any]) -> float | None:
    return kpi.percent(num, den)


def _kpi_rate(num: float, den: float, params: dict[str, Any]) -> float | None:
    code = params["kpi"]
    if code == "trir":
        return kpi.trir(num, den)
    if code == "dart":
        return kpi.dart(num, 0, den)
    return kpi.ltifr(num, den)


# Source name -> (allowed params with their types, required params, formula on the sums).
_P = dict[str, type]
SOURCE_SPECS: dict[str, tuple[_P, tuple[str, ...], Callable[[float, float, dict[str, Any]], float | None]]] = {
    "actions_on_time": ({}, (), _pct),
    "inspections": ({"area_kinds": list, "require_no_findings": bool}, (), _pct),
    "training_valid": ({}, (), _pct),
    "hazard_closure": ({}, (), _pct),
    "hazards_rectified_within": ({"hours": int, "categories": list}, ("hours",), _pct),
    "alarm_response": ({"minutes": int, "severities": list, "area_kinds": list}, ("minutes",), _pct),
    "hot_work_permits": ({}, (), _pct),
    "reporting_participation": ({}, (), _pct),
    "kpi_rate": ({"kpi": str}, ("kpi",), _kpi_rate),
}


# ------------------------------------------------------------------- indicator definitions
class AppliesTo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    local: bool = False
    hazardous_posts_only: bool = False


class IndicatorDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,59}$")
    version: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)
    name_zh: str | None = Field(default=None, max_length=200)
    level: AssessmentLevel
    stage: Literal["general", "storage", "machining", "welding", "electronics_assembly", "waste_disposal"]
    source: str
    params: dict[str, Any] = Field(default_factory=dict[str, Any])
    applies_to: AppliesTo = AppliesTo()
    formula: str = Field(min_length=1)
    unit: str = Field(default="%", max_length=20)
    target: float
    excellent_at: float
    qualified_at: float
    higher_is_better: bool = True

    @property
    def manual(self) -> bool:
        return self.source == MANUAL

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if v != MANUAL and v not in SOURCE_SPECS:
            raise ValueError(f"unknown source {v!r}; use 'manual' or one of {', '.join(sorted(SOURCE_SPECS))}")
        return v

    @model_validator(mode="after")
    def _check(self) -> IndicatorDef:
        if self.manual:
            if self.params:
                raise ValueError("a manual indicator takes no params")
        else:
            allowed, required, _ = SOURCE_SPECS[self.source]
            unknown = set(self.params) - set(allowed)
            if unknown:
                raise ValueError(f"source {self.source} does not take {', '.join(sorted(unknown))}")
            missing = [k for k in required if k not in self.params]
            if missing:
                raise ValueError(f"source {self.source} needs {', '.join(missing)}")
            for k, typ in allowed.items():
                if k in self.params and not isinstance(self.params[k], typ):
                    raise ValueError(f"param {k} must be a {typ.__name__}")
            if self.source == "kpi_rate" and self.params["kpi"] not in ("trir", "dart", "ltifr"):
                raise ValueError("kpi must be trir, dart or ltifr")
        if self.higher_is_better and self.excellent_at < self.qualified_at:
            raise ValueError("excellent_at must be at least qualified_at when higher is better")
        if not self.higher_is_better and self.excellent_at > self.qualified_at:
            raise ValueError("excellent_at must be at most qualified_at when lower is better")
        if self.applies_to.local and self.level != AssessmentLevel.ENTERPRISE:
            raise ValueError("local indicators are plant (enterprise-level) indicators")
        if self.applies_to.hazardous_posts_only and self.level != AssessmentLevel.POST:
            raise ValueError("hazardous_posts_only applies to post-level indicators")
        return self

    def db_fields(self) -> dict[str, Any]:
        return dict(code=self.code, version=self.version, name=self.name, name_zh=self.name_zh, level=str(self.level),
                    stage=self.stage, source=self.source, formula=self.formula, unit=self.unit,
                    target=float(self.target), excellent_at=float(self.excellent_at),
                    qualified_at=float(self.qualified_at), higher_is_better=self.higher_is_better,
                    manual=self.manual, params=dict(self.params), applies_to=self.applies_to.model_dump())


class IndicatorFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file_version: int = Field(ge=1)
    indicators: list[IndicatorDef]

    @model_validator(mode="after")
    def _unique(self) -> IndicatorFile:
        seen = set()
        for i in self.indicators:
            if i.code in seen:
                raise ValueError(f"indicator {i.code} is defined twice")
            seen.add(i.code)
        return self


def parse_indicators(text: str, source: str = "indicators") -> list[IndicatorDef]:
    """Validate an indicator file's YAML text; raise ScorecardError naming ``source`` and the problem."""
    p = source
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScorecardError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return IndicatorFile.model_validate(data or {}).indicators
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err.get("loc", ()))
        where = ""
        if len(loc) >= 2 and loc[0] == "indicators" and isinstance(loc[1], int):
            items = (data or {}).get("indicators") or []
            code = items[loc[1]].get("code") if loc[1] < len(items) and isinstance(items[loc[1]], dict) else None
            where = f"indicator {code or '#' + str(loc[1] + 1)}: "
            loc = loc[2:]
        field_ = ".".join(str(x) for x in loc)
        msg = re.sub(r"^Value error, ", "", err.get("msg", "invalid"))
        raise ScorecardError(f"{p}: {where}{field_ + ': ' if field_ else ''}{msg}") from None


_COMPARED = ("name", "name_zh", "level", "stage", "source", "formula", "unit", "target", "excellent_at",
             "qualified_at", "higher_is_better", "manual", "params", "applies_to")


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 9)
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def changed_fields(stored: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The definition fields in which a stored indicator row and a new definition differ."""
    return [k for k in _COMPARED if _norm(stored[k]) != _norm(new[k])]


@dataclass(frozen=True)
class Unit:
    unit_type: str  # enterprise, site, department, post
    unit_id: int
    site_id: int | None


def applicable_units(ind: dict[str, Any], units: dict[str, list[dict[str, Any]]]) -> list[Unit]:
    """The units an indicator assesses (by level, process stage and applicability filters)."""
    applies = ind.get("applies_to") or {}
    stage = ind["stage"]
    out: list[Unit] = []
    if ind["level"] == AssessmentLevel.ENTERPRISE:
        for s in units["site"]:
            if applies.get("local"):
                local = (s.get("settings") or {}).get("local_indicators") or {}
                if not local.get(ind["code"]):
                    continue
            out.append(Unit(UnitType.SITE, s["id"], s["id"]))
        if not applies.get("local"):
            out.extend(Unit(UnitType.ENTERPRISE, e["id"], None) for e in units["enterprise"])
    elif ind["level"] == AssessmentLevel.DEPARTMENT:
        out.extend(Unit(UnitType.DEPARTMENT, d["id"], d["site_id"]) for d in units["department"]
                   if stage == "general" or d["stage"] == stage)
    else:
        out.extend(Unit(UnitType.POST, p["id"], p["site_id"]) for p in units["post"]
                   if (stage == "general" or p["stage"] == stage)
                   and (p["hazardous"] or not applies.get("hazardous_posts_only")))
    return out


def group_items(items: list[dict[str, Any]], site_enterprise: dict[int, int]
                ) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Items by the unit they count for: (unit_type, unit_id) for enterprise, site, department, post."""
    out: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for i in items:
        ent = site_enterprise.get(i["site_id"])
        for unit_type, unit_id in ((UnitType.ENTERPRISE, ent), (UnitType.SITE, i["site_id"]),
                                   (UnitType.DEPARTMENT, i["department_id"]), (UnitType.POST, i["post_id"])):
            if unit_id is not None:
                out.setdefault((unit_type, unit_id), []).append(i)
    return out


def evidence_rows(items: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    out = []
    for i in items:
        e = {"table": i["tbl"], "id": int(i["id"])}
        if source == "kpi_rate":
            if i["tbl"] == "hours_worked":
                e["hours"] = float(i["den"])
        else:
            e["ok"] = bool(i["num"])
        out.append(e)
    return out


def check_manual_value(value: object, unit: str | None = None) -> float:
    """A manual entry's value as a finite number (0..100 for a % indicator); ScorecardError otherwise."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ScorecardError(f"value {value!r} is not a number") from None
    if not math.isfinite(v):
        raise ScorecardError("value must be a finite number")
    if unit == "%" and not 0 <= v <= 100:
        raise ScorecardError(f"value {v} is outside 0..100 %")
    return v
