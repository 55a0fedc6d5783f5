"""The settings file of the KPI, safety-health-index and resource-allocation computations: read here,
parsed and validated by :func:`qhse.domain.performance.parse_performance_config`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from qhse.domain.performance import PerformanceConfig, PerformanceConfigError, parse_performance_config

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "domain" / "performance.yaml"


def load_performance_config(path: str | Path | None = None) -> PerformanceConfig:
    """Read and validate a settings file (default: ``qhse/domain/performance.yaml``)."""
    p = Path(path) if path else DEFAULT_PATH
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PerformanceConfigError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return parse_performance_config(text, str(p))


@lru_cache(maxsize=1)
def default_config() -> PerformanceConfig:
    return load_performance_config()
