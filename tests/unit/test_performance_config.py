"""The settings of the KPI, health-index and resource computations, parsed from YAML text without a file."""

from __future__ import annotations

import pytest

from qhse.domain.performance import PerformanceConfig, PerformanceConfigError, parse_performance_config


def test_empty_text_gives_the_defaults():
    assert parse_performance_config("") == PerformanceConfig()


def test_values_are_read_from_the_text():
    cfg = parse_performance_config("resources:\n  kinds:\n    extinguisher: {minimum: 6}\n")
    assert cfg.resources.kinds["extinguisher"].minimum == 6


@pytest.mark.parametrize(("text", "message"), [
    ("resources:\n  kinds:\n    extinguisher: {minimum: -1}\n",
     r"^perf\.yaml: resources\.kinds\.extinguisher\.minimum: "),
    ("kpi:\n  include_contractor: true\n", r"^perf\.yaml: kpi\.include_contractor: "),
    ("kpi: [\n", r"^perf\.yaml: not valid YAML "),
])
def test_problems_name_the_source_and_the_key(text, message):
    with pytest.raises(PerformanceConfigError, match=message):
        parse_performance_config(text, "perf.yaml")
