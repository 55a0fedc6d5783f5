"""Whole-platform counts (used by ``qhse demo`` and the admin page)."""

from __future__ import annotations

import sqlalchemy as sa


def platform_summary(engine: sa.Engine) -> dict[str, object]:
    q = {
        "sites": "SELECT count(*) FROM site",
        "areas": "SELECT count(*) FROM area",
        "assets": "SELECT count(*) FROM asset",
        "sensors": "SELECT count(*) FROM sensor",
        "readings (hourly rollup)": "SELECT coalesce(sum(n), 0)::bigint FROM sensor_reading_hourly",
        "open alarms": "SELECT count(*) FROM alarm WHERE cleared_at IS NULL",
        "open hazard reports": "SELECT count(*) FROM hazard_report WHERE status NOT IN ('closed', 'rejected')",
        "overdue actions": "SELECT count(*) FROM corrective_action WHERE status IN ('open', 'in_progress') "
                           "AND due_at < now()",
        "incidents (12 months)": "SELECT count(*) FROM incident",
        "failure predictions": "SELECT count(*) FROM failure_prediction",
        "vision events to review": "SELECT count(*) FROM vision_event WHERE review_status = 'new'",
    }
    out: dict[str, object] = {}
    with engine.connect() as conn:
        for k, sql in q.items():
            out[k] = int(conn.execute(sa.text(sql)).scalar() or 0)
    return out
