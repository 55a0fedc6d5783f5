"""Schema, partitions, idempotent reading writes, seeding, backup/restore — on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa

from db import models as m
from db.engine import libpq_dsn
from db.migrate import current, downgrade, heads, upgrade
from db.readings import write_readings

UTC = dt.UTC


def _tables(url: str) -> set[str]:
    eng = sa.create_engine(url)
    try:
        return set(sa.inspect(eng).get_table_names())
    finally:
        eng.dispose()


def test_upgrade_from_empty_and_downgrade_to_base(db_factory):
    url = db_factory.create(migrate=False)
    assert _tables(url) == set()
    upgrade(url)
    assert current(url) == heads()
    tables = _tables(url)
    for t in m.metadata.tables:
        assert t in tables, t
    downgrade(url, "base")
    assert _tables(url) <= {"alembic_version"}
    assert current(url) == set()
    upgrade(url)  # and back up again
    assert current(url) == heads()
    db_factory.drop(url)


def test_models_match_migrations(engine):
    """Autogenerate finds nothing to do: the checked-in migrations are the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), m.metadata)
    # Partitions of sensor_reading are created at run time and are not in the models.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("sensor_reading_y"))]
    diff = [d for d in diff if not (d[0] == "remove_index" and d[1].table.name.startswith("sensor_reading_y"))]
    assert diff == []


def _us(*args) -> int:
    return int(dt.datetime(*args, tzinfo=UTC).timestamp() * 1_000_000)


def test_idempotent_writes_and_partition_routing(engine):
    with psycopg.connect(libpq_dsn(engine.url)) as conn:
        ts = np.array([_us(2026, 1, 31, 23, 59), _us(2026, 2, 1, 0, 0), _us(2026, 3, 15, 12, 0)])
        sid = np.array([9001, 9001, 9002])
        vals = np.array([1.0, 2.0, 3.0])
        assert write_readings(conn, sid, ts, vals) == 3
        conn.commit()
        # Replaying the same batch (e.g. after a crash) writes nothing new.
        assert write_readings(conn, sid, ts, vals) == 0
        # A batch overlapping old and new readings only adds the new one.
        assert write_readings(conn, np.array([9001, 9001]), np.array([ts[0], _us(2026, 3, 1)]),
                              np.array([1.0, 5.0])) == 1
        conn.commit()
        rows = conn.execute(
            "SELECT tableoid::regclass::text, sensor_id, ts FROM sensor_reading "
            "WHERE sensor_id IN (9001, 9002) ORDER BY ts"
        ).fetchall()
    assert [r[0] for r in rows] == ["sensor_reading_y2026m01", "sensor_reading_y2026m02", "sensor_reading_y2026m03",
                                    "sensor_reading_y2026m03"]
    assert len(rows) == 4


def test_unique_key_enforced(engine):
    with psycopg.connect(libpq_dsn(engine.url)) as conn:
        write_readings(conn, np.array([9100]), np.array([_us(2026, 4, 1)]), np.array([1.0]))
        conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO sensor_reading VALUES (9100, '2026-04-01T00:00:00Z', 2.0, 0)")


def test_brin_index_on_time(engine):
    with engine.connect() as conn:
        idx = conn.execute(sa.text(
            "SELECT indexdef FROM pg_indexes "
            "WHERE tablename = 'sensor_reading' AND indexname = 'ix_sensor_reading_ts_brin'"
        )).scalar()
    assert idx and "USING brin (ts)" in idx


def _fingerprint(url: str) -> dict:
    eng = sa.create_engine(url)
    out = {}
    with eng.connect() as conn:
        for t in ("site", "area", "asset", "sensor", "alarm", "failure_event", "hazard_report", "corrective_action",
                  "incident", "inspection", "person", "training_record", "hours_worked", "vision_event"):
            out[t] = conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
        out["readings"] = conn.execute(sa.text("SELECT count(*), round(sum(value)::numeric, 3) "
                                               "FROM sensor_reading")).one()
        out["hours"] = conn.execute(sa.text("SELECT sum(hours) FROM hours_worked")).scalar()
        out["days_away"] = conn.execute(sa.text("SELECT sum(days_away) FROM incident")).scalar()
        out["failures"] = conn.execute(sa.text(
            "SELECT string_agg(asset_id || ':' || mode || ':' || occurred_at, ',' ORDER BY id) "
            "FROM failure_event")).scalar()
    eng.dispose()
    return out


def test_seed_deterministic_and_plausible(seeded_url, db_factory):
    from qhse.demo.seed import seed

    from .conftest import SEED_END

    other = db_factory.create(prefix="qhse_seed2")
    eng = sa.create_engine(other)
    seed(eng, scale="small", seed=7, end=SEED_END)
    eng.dispose()
    a, b = _fingerprint(seeded_url), _fingerprint(other)
    assert a == b
    assert a["readings"][0] > 1_000_000 and a["site"] == 3
    db_factory.drop(other)
    # Causality: vibration climbs in the days before bearing failures.
    eng = sa.create_engine(seeded_url)
    with eng.connect() as conn:
        before, baseline = conn.execute(sa.text("""
            SELECT avg(r.value) FILTER (WHERE r.ts > f.occurred_at - interval '1 day'),
                   avg(r.value) FILTER (WHERE r.ts < f.occurred_at - interval '20 days')
            FROM failure_event f
            JOIN sensor s ON s.asset_id = f.asset_id AND s.kind = 'vibration'
            JOIN sensor_reading r ON r.sensor_id = s.id
                                   AND r.ts BETWEEN f.occurred_at - interval '30 days' AND f.occurred_at
                                   AND r.value > 1.0
            WHERE f.mode = 'bearing'""")).one()
        # Hazard rate follows risk class.
        rates = dict(conn.execute(sa.text(
            "SELECT a.risk_class, count(h.id)::float / count(DISTINCT a.id) FROM area a "
            "LEFT JOIN hazard_report h ON h.area_id = a.id GROUP BY 1")).all())
    eng.dispose()
    assert before > baseline + 2.0
    assert rates["A"] > rates["B"] > rates["C"]


def test_seed_refuses_non_empty(seeded_engine):
    from qhse.demo.seed import SeedError, seed

    with pytest.raises(SeedError, match="already holds data"):
        seed(seeded_engine, scale="small", seed=1)


def _owner(url: str) -> str:
    from sqlalchemy.engine import make_url

    from .conftest import _server_url

    srv = make_url(_server_url())
    return make_url(url).set(username=srv.username, password=srv.password).render_as_string(hide_password=False)


def _cli(*args, url: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = url
    env["QHSE_MIGRATION_DATABASE_URL"] = _owner(url)  # backup and restore run as the schema owner
    return subprocess.run([sys.executable, "-m", "qhse.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_backup_restore_round_trip(fresh_db_url, tmp_path):
    eng = sa.create_engine(fresh_db_url)
    with eng.begin() as conn:
        conn.execute(sa.insert(m.Enterprise.__table__), [{"id": 1, "name": "Acme"}])
        conn.execute(sa.insert(m.Region.__table__), [{"id": 1, "enterprise_id": 1, "code": "R", "name": "R"}])
        conn.execute(sa.insert(m.Site.__table__), [{"id": 1, "region_id": 1, "code": "S1", "name": "Plant",
                                                     "industry": "x", "timezone": "UTC", "settings": {}}])
    with psycopg.connect(libpq_dsn(eng.url)) as conn:
        write_readings(conn, np.array([1, 1]), np.array([_us(2026, 5, 1), _us(2026, 6, 1)]), np.array([1.5, 2.5]))
        conn.commit()
    dump = tmp_path / "qhse.dump"
    r = _cli("db", "backup", str(dump), url=fresh_db_url)
    assert r.returncode == 0, r.stderr
    with eng.begin() as conn:
        conn.execute(sa.text("DELETE FROM site"))
        conn.execute(sa.text("DELETE FROM sensor_reading"))
    # A wrong file is refused before anything is touched.
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    r = _cli("db", "restore", str(bad), "--yes", url=fresh_db_url)
    assert r.returncode == 2 and "not a pg_dump" in r.stderr
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == len(heads())
    r = _cli("db", "restore", str(dump), "--yes", url=fresh_db_url)
    assert r.returncode == 0, r.stderr
    eng.dispose()
    eng = sa.create_engine(fresh_db_url)
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM site")).scalar() == "Plant"
        assert conn.execute(sa.text("SELECT sum(value) FROM sensor_reading")).scalar() == 4.0
        parts = conn.execute(sa.text(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'sensor_reading'::regclass")).scalar()
    eng.dispose()
    assert parts >= 2


def _table_count(eng) -> int:
    with eng.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()


def test_restore_of_truncated_archive_leaves_database_untouched(fresh_db_url, tmp_path):
    eng = sa.create_engine(fresh_db_url)
    with eng.begin() as conn:
        conn.execute(sa.insert(m.Enterprise.__table__), [{"id": 1, "name": "Before"}])
    tables = _table_count(eng)
    dump = tmp_path / "qhse.dump"
    assert _cli("db", "backup", str(dump), url=fresh_db_url).returncode == 0
    data = dump.read_bytes()
    cut = tmp_path / "cut.dump"
    cut.write_bytes(data[: len(data) - 64])  # the table of contents survives, the data does not
    from db.backup import validate_dump

    assert validate_dump(cut) > 0  # the header check alone cannot see the damage
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE enterprise SET name = 'Current'"))
    r = _cli("db", "restore", str(cut), "--yes", url=fresh_db_url)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "nothing was changed" in r.stderr or "left unchanged" in r.stderr
    eng.dispose()
    eng = sa.create_engine(fresh_db_url)
    assert _table_count(eng) == tables
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM enterprise")).scalar() == "Current"
    eng.dispose()


def test_restore_failing_midway_rolls_back_everything(fresh_db_url, tmp_path):
    """An archive whose SQL fails part-way (a GRANT to a role that no longer exists)."""
    role = f"qhse_gone_{uuid.uuid4().hex[:8]}"
    eng = sa.create_engine(_owner(fresh_db_url))  # creating roles is the owner's business
    with eng.begin() as conn:
        conn.execute(sa.insert(m.Enterprise.__table__), [{"id": 1, "name": "Archived"}])
        conn.execute(sa.text(f'CREATE ROLE "{role}"'))
        conn.execute(sa.text(f'GRANT SELECT ON enterprise TO "{role}"'))
    dump = tmp_path / "qhse.dump"
    assert _cli("db", "backup", str(dump), url=fresh_db_url).returncode == 0
    with eng.begin() as conn:
        conn.execute(sa.text(f'REVOKE ALL ON enterprise FROM "{role}"'))
        conn.execute(sa.text(f'DROP ROLE "{role}"'))
        conn.execute(sa.text("UPDATE enterprise SET name = 'Current'"))
    tables = _table_count(eng)
    eng.dispose()
    r = _cli("db", "restore", str(dump), "--yes", url=fresh_db_url)
    assert r.returncode == 2 and "left unchanged" in r.stderr, r.stdout + r.stderr
    eng = sa.create_engine(fresh_db_url)
    assert _table_count(eng) == tables
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM enterprise")).scalar() == "Current"
    eng.dispose()
