"""Reading a stored failure prediction (qhse.domain.explain): the SHAP waterfall arithmetic."""

from __future__ import annotations

import math

from qhse.domain.explain import logit, waterfall_steps


def test_waterfall_ends_at_the_model_margin():
    contribs = [{"feature": "vibration_slope_7d", "value": 0.2, "contribution": 0.8},
                {"feature": "tool_wear", "value": 210.0, "contribution": -0.3}]
    base, steps, margin = waterfall_steps(0.25, -1.5, contribs)
    assert math.isclose(margin, logit(0.25))
    assert math.isclose(base + sum(s["contribution"] for s in steps), margin)
    assert steps[-1]["feature"] == "other features"
    # When the stored reasons already explain everything, no remainder step is added.
    base, steps, margin = waterfall_steps(1 / (1 + math.exp(-(-1.5 + 0.5))), -1.5,
                                          [{"feature": "a", "value": 1.0, "contribution": 0.5}])
    assert [s["feature"] for s in steps] == ["a"]
