"""Reading a stored failure prediction: its SHAP reasons as a waterfall from the base value to the output.

``failure_prediction`` keeps the top contributions (log-odds) and the bias; the rest of
the features are summed into one "other features" step so the waterfall ends exactly at
the model's margin, logit(probability).
"""

from __future__ import annotations

import math
from typing import Any


def logit(p: float) -> float:
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def waterfall_steps(probability: float, base_value: float | None, contributions: list[dict[str, Any]] | None,
                    other_label: str = "other features") -> tuple[float, list[dict[str, Any]], float]:
    """(base, steps, margin): steps are the stored contributions plus the remainder, if any."""
    margin = logit(probability)
    base = float(base_value) if base_value is not None else 0.0
    steps = [dict(c) for c in (contributions or [])]
    rest = margin - base - sum(float(c["contribution"]) for c in steps)
    if abs(rest) > 1e-6:
        steps.append({"feature": other_label, "value": None, "contribution": rest})
    return base, steps, margin
