"""Ingestion consumers' heartbeats for the dashboard (the alarms page shows whether alarms can flow)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from db.heartbeats import read_all
from qhse.domain.access import Scope

COLUMNS = ["client_id", "host", "status", "stale", "age_s", "updated_at", "last_commit_at", "lag_s", "backlog",
           "spool_bytes", "dead_letters_per_s", "connected"]


def consumer_heartbeats(engine: sa.Engine, scope: Scope, *, stale_s: float) -> pd.DataFrame:
    """One row per consumer, stale ones first.

    Every consumer stores the readings of every site, so each caller sees all of them; the
    host name is shown to callers who see every site only (it says nothing about a plant).
    """
    with engine.connect() as conn:
        beats = read_all(conn, stale_s)
    rows = [{c: getattr(b, c) for c in COLUMNS} for b in beats]
    df = pd.DataFrame(rows, columns=COLUMNS)
    if not scope.all_sites:
        df["host"] = None
    if not df.empty:
        df = df.sort_values(["stale", "status", "client_id"], ascending=[False, True, True]).reset_index(drop=True)
    return df
