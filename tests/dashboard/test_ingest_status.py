"""The alarms page shows the ingestion consumers' heartbeats (stalled ones first), in English and Chinese."""

from __future__ import annotations

import sqlalchemy as sa

from .helpers import assert_ok, open_page, texts


def _beat(engine, cid: str, age_s: float) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO ingest_heartbeat (client_id, host, pid, status, started_at, updated_at, last_commit_at, "
            "lag_s, backlog, spool_bytes, spool_segments, received, readings, dead_letters, dead_letters_per_s, "
            "connected, db_up) "
            "VALUES (:c, 'ingest-host-7', 1, 'running', now(), now() - make_interval(secs => :a), now(), 0.2, "
            "3, 2000000, 1, 10, 10, 0, 0.5, true, true) "
            "ON CONFLICT (client_id) DO UPDATE SET updated_at = EXCLUDED.updated_at"), {"c": cid, "a": age_s})


def _consumers_table(at):
    return next(d.value for d in at.dataframe if "client_id" in d.value.columns)


def test_alarms_page_shows_a_stalled_consumer(dash_env, dash_users, dash_engine, live_rows):
    _beat(dash_engine, "qhse-ingest-dash-ok", 1)
    _beat(dash_engine, "qhse-ingest-dash-wedged", 600)
    try:
        at = open_page(dash_users["group.manager"], "app_pages/alarms.py")
        assert_ok(at)
        shown = texts(at)
        assert "Ingestion consumers" in shown and "1 consumer(s) stalled" in shown
        table = _consumers_table(at)
        assert list(table["client_id"][:2]) == ["qhse-ingest-dash-wedged", "qhse-ingest-dash-ok"]
        assert list(table["state"][:2]) == ["stalled", "ok"] and table["host"].iloc[0] == "ingest-host-7"

        at = open_page(dash_users["security"], "app_pages/alarms.py", locale="zh")  # one site: no host names
        assert_ok(at)
        assert "数据接入进程" in texts(at) and "停滞" in texts(at)
        table = _consumers_table(at)
        assert table["host"].isna().all() and "停滞" in set(table["state"])
    finally:
        with dash_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM ingest_heartbeat WHERE client_id LIKE 'qhse-ingest-dash-%'"))
