"""Settings of the KPI, safety-health-index and resource-allocation computations.

Parsed from YAML text (``qhse/domain/performance.yaml``, or a file given by the caller; the file is
read by :mod:`qhse.services.performance`); unknown keys are refused so a typo fails loudly.
"""

from __future__ import annotations

from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qhse.domain.kpi import SeverityConvention

SEVERITIES = ("low", "normal", "high", "severe")


class PerformanceConfigError(Exception):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeverityCfg(_Strict):
    days: Literal["days_away", "days_away_and_restricted"] = "days_away"
    base: Literal[200000, 1000000] = 200000

    def convention(self) -> SeverityConvention:
        return SeverityConvention(days=self.days, base=self.base)


class KpiCfg(_Strict):
    include_contractors: bool = True
    severity: SeverityCfg = SeverityCfg()


def _positive_weights(v: dict[str, float]) -> dict[str, float]:
    if any(w < 0 for w in v.values()):
        raise ValueError("weights must not be negative")
    if sum(v.values()) <= 0:
        raise ValueError("at least one weight must be positive")
    return v


class HealthWeights(_Strict):
    hazard_density: float = 0.25
    rectification_rate: float = 0.35
    repeat_rate: float = 0.20
    severity_mix: float = 0.20

    @model_validator(mode="after")
    def _check(self) -> Self:
        _positive_weights(self.model_dump())
        return self


class HealthIndexCfg(_Strict):
    weights: HealthWeights = HealthWeights()
    density_at_zero: float = Field(default=8.0, gt=0)
    severity_weights: dict[str, float] = Field(default_factory=lambda: {"low": 0.0, "normal": 0.33, "high": 0.67,
                                                                           "severe": 1.0})

    @field_validator("severity_weights")
    @classmethod
    def _sev(cls, v: dict[str, float]) -> dict[str, float]:
        missing = set(SEVERITIES) - set(v)
        if missing or set(v) - set(SEVERITIES):
            raise ValueError(f"give a weight for exactly {', '.join(SEVERITIES)}")
        if any(not 0 <= w <= 1 for w in v.values()):
            raise ValueError("severity weights lie between 0 and 1")
        return v


class ResourceKindCfg(_Strict):
    minimum: int = Field(default=0, ge=0)
    gas_areas_only: bool = False
    area_kinds: list[str] | None = None  # None: every area kind


class ResourceWeights(_Strict):
    risk_class: float = 0.35
    hazards: float = 0.20
    alarms: float = 0.15
    predicted_failures: float = 0.15
    ppe_violations: float = 0.15

    @model_validator(mode="after")
    def _check(self) -> Self:
        _positive_weights(self.model_dump())
        return self


class ResourcesCfg(_Strict):
    window_days: int = Field(default=90, ge=1, le=730)
    weights: ResourceWeights = ResourceWeights()
    risk_class_score: dict[str, float] = Field(default_factory=lambda: {"A": 1.0, "B": 0.6, "C": 0.25})
    hazard_severity_weights: dict[str, float] = Field(
        default_factory=lambda: {"low": 1.0, "normal": 2.0, "high": 4.0, "severe": 8.0})
    alarm_severity_weights: dict[str, float] = Field(
        default_factory=lambda: {"info": 0.0, "warning": 1.0, "critical": 3.0})
    kinds: dict[str, ResourceKindCfg] = Field(default_factory=lambda: {
        "gas_detector": ResourceKindCfg(gas_areas_only=True, minimum=1),
        "breathing_apparatus": ResourceKindCfg(gas_areas_only=True, minimum=1),
        "extinguisher": ResourceKindCfg(minimum=2),
        "spill_kit": ResourceKindCfg(area_kinds=["chemical_store", "waste", "cleaning", "soldering"], minimum=1),
    })

    @field_validator("risk_class_score")
    @classmethod
    def _classes(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != {"A", "B", "C"}:
            raise ValueError("give a score for risk classes A, B and C")
        return v

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: dict[str, ResourceKindCfg]) -> dict[str, ResourceKindCfg]:
        if not v:
            raise ValueError("name at least one resource kind")
        return v


class PerformanceConfig(_Strict):
    kpi: KpiCfg = KpiCfg()
    health_index: HealthIndexCfg = HealthIndexCfg()
    resources: ResourcesCfg = ResourcesCfg()


def parse_performance_config(text: str, source: str = "performance") -> PerformanceConfig:
    """Validate a settings file's YAML text; raise PerformanceConfigError naming ``source`` and the problem."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PerformanceConfigError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return PerformanceConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ()))
        raise PerformanceConfigError(f"{source}: {where}: {err.get('msg')}") from None
