"""Consumer heartbeats: one ``ingest_heartbeat`` row per consumer (MQTT client id).

Every consumer's writer thread upserts its row every few seconds (``ConsumerConfig.
heartbeat_every_s``) with what an operator needs to tell a healthy consumer from a wedged
one: the lag (age of the oldest message received but not yet stored), the time of the
last committed batch, the spool size, the dead-letter rate and whether it is connected to
the broker.  The row is written by the same thread that stores readings, so a writer that
hangs (a stuck transaction, a deadlocked lock, a full disk) stops its heartbeat too.

``updated_at`` is the database's clock (``now()``) on write and on check, so a skewed
consumer clock cannot make a heartbeat look fresh.  A row older than ``stale_s`` whose
consumer did not stop cleanly (``status = 'running'``) is stale: ``qhse health --component
ingest`` fails and the worker job ``ingest_heartbeat`` notifies the on-call role once per
stall (``stale_notified_at``; the next fresh heartbeat clears it).  Reading and checking
the rows is ``db.heartbeats``.
"""

from __future__ import annotations

UPSERT = """
INSERT INTO ingest_heartbeat (client_id, host, pid, status, started_at, updated_at, last_commit_at, lag_s,
                              backlog, spool_bytes, spool_segments, received, readings, dead_letters,
                              dead_letters_per_s, connected, db_up, stale_notified_at)
VALUES (%(client_id)s, %(host)s, %(pid)s, %(status)s, %(started_at)s, now(), %(last_commit_at)s, %(lag_s)s,
        %(backlog)s, %(spool_bytes)s, %(spool_segments)s, %(received)s, %(readings)s, %(dead_letters)s,
        %(dead_letters_per_s)s, %(connected)s, %(db_up)s, NULL)
ON CONFLICT (client_id) DO UPDATE SET
    host = EXCLUDED.host, pid = EXCLUDED.pid, status = EXCLUDED.status, started_at = EXCLUDED.started_at,
    updated_at = now(), last_commit_at = coalesce(EXCLUDED.last_commit_at, ingest_heartbeat.last_commit_at),
    lag_s = EXCLUDED.lag_s, backlog = EXCLUDED.backlog, spool_bytes = EXCLUDED.spool_bytes,
    spool_segments = EXCLUDED.spool_segments, received = EXCLUDED.received, readings = EXCLUDED.readings,
    dead_letters = EXCLUDED.dead_letters, dead_letters_per_s = EXCLUDED.dead_letters_per_s,
    connected = EXCLUDED.connected, db_up = EXCLUDED.db_up, stale_notified_at = NULL
"""


def write(conn, beat: dict) -> None:
    """Upsert one heartbeat on a psycopg connection (autocommit: one statement, no open transaction)."""
    conn.execute(UPSERT, beat)
