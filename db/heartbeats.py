"""Reading consumer heartbeats (``ingest_heartbeat``): health check, stall claims, dashboard.

The consumers write the rows (``ingestion.heartbeat``); this module only reads them and
marks stalls as notified.  ``age_s`` and ``stale`` use the database's clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    client_id: str
    host: str | None
    pid: int | None
    status: str
    started_at: dt.datetime | None
    updated_at: dt.datetime
    last_commit_at: dt.datetime | None
    lag_s: float | None
    backlog: int
    spool_bytes: int
    spool_segments: int
    received: int
    readings: int
    dead_letters: int
    dead_letters_per_s: float | None
    connected: bool
    db_up: bool
    stale_notified_at: dt.datetime | None
    age_s: float  # seconds since updated_at, by the database's clock
    stale: bool

    def describe(self) -> str:
        commit = f"{self.last_commit_at:%Y-%m-%d %H:%M:%S} UTC" if self.last_commit_at else "never"
        return (f"{self.client_id} on {self.host or '?'}: {self.status}, heartbeat {self.age_s:,.0f} s ago, "
                f"last commit {commit}, lag {self.lag_s or 0:.1f} s, backlog {self.backlog:,}, "
                f"spool {self.spool_bytes:,} bytes, dead letters {self.dead_letters_per_s or 0:.2f}/s, "
                f"broker {'connected' if self.connected else 'DISCONNECTED'}")


_COLS = [f.name for f in dataclasses.fields(Heartbeat) if f.name not in ("age_s", "stale")]


def read_all(conn: sa.Connection, stale_s: float, client_prefix: str | None = None) -> list[Heartbeat]:
    """Every heartbeat (optionally those whose client id starts with ``client_prefix``), oldest first."""
    q = ("SELECT " + ", ".join(_COLS) + ", extract(epoch FROM now() - updated_at)::float8 AS age_s "
         "FROM ingest_heartbeat")
    p: dict = {"stale": stale_s}
    if client_prefix:
        q += " WHERE client_id LIKE :prefix ESCAPE '\\'"
        p["prefix"] = client_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(sa.text(q + " ORDER BY updated_at, client_id"), p).mappings().all()
    return [Heartbeat(**r, stale=r["status"] == "running" and r["age_s"] > stale_s) for r in rows]


def check(conn: sa.Connection, stale_s: float, client_prefix: str | None = None) -> tuple[bool, list[str]]:
    """(healthy?, one line per consumer and problem) for ``qhse health --component ingest``."""
    beats = read_all(conn, stale_s, client_prefix)
    running = [b for b in beats if b.status == "running"]
    lines = []
    if not running:
        who = f" with a client id starting {client_prefix!r}" if client_prefix else ""
        return False, [f"ingest: no running consumer{who} has written a heartbeat"
                       + (f" ({len(beats)} stopped)" if beats else "")]
    ok = True
    for b in beats:
        if b.stale:
            ok = False
            lines.append(f"STALE {b.describe()} (stale after {stale_s:g} s)")
        elif b.status == "running":
            lines.append(f"ok    {b.describe()}")
    return ok, lines


def claim_stale(conn: sa.Connection, stale_s: float) -> list[Heartbeat]:
    """Mark the stale heartbeats not yet notified as notified and return them (once per stall).

    Runs inside the caller's transaction, so the mark and the notifications queued with it
    commit together: a rolled-back job notifies nobody and will try again.
    """
    ids = conn.execute(sa.text(
        "UPDATE ingest_heartbeat SET stale_notified_at = now() "
        "WHERE status = 'running' AND stale_notified_at IS NULL AND updated_at < now() - make_interval(secs => :s) "
        "RETURNING client_id"), {"s": stale_s}).scalars().all()
    if not ids:
        return []
    return [b for b in read_all(conn, stale_s) if b.client_id in set(ids)]
