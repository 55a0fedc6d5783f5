"""Ingest hardening against the real PostgreSQL and broker: poison during outages, damaged and
unwritable spools, bounded memory with a blocked writer, dead-letter retention."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import sqlalchemy as sa

from ingestion.spool import Spool

from .conftest import ROOT
from .ingest_fixtures import (
    Publisher,
    consumer_config,
    count_readings,
    db_proxy,
    make_plant,
    now_ms,
    proxied_url,
    reading,
    start_consumer,
    wait_for,
)

POISON = [b"NaN", b"Infinity", b"-Infinity", b"1e20", b"1e306", b"123456789012345678901234567890",
          b'"0001-01-01T00:00:00+23:00"', b'"9999-12-31T23:59:59-23:00"']


def _dead(engine, root: str) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT reason, count(*) FROM dead_letter WHERE topic LIKE :t "
                                         "OR topic LIKE 'spool:%' AND payload::text LIKE :p GROUP BY reason"),
                                 {"t": root + "/%", "p": "%"}).fetchall())


def test_poison_spooled_during_an_outage_does_not_wedge_the_replay(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine)
    s = plant.sensors["voc"]
    proxy = db_proxy(db_url)
    proxy.start()
    c = start_consumer(consumer_config(proxied_url(db_url, proxy.port), mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 600_000
    try:
        pub.publish(plant.topic("voc"), reading(12.0, "ppm", t0))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 1, 20)
        proxy.stop()
        for i in range(1, 201):
            pub.publish(plant.topic("voc"), reading(12.0, "ppm", t0 + i))
            if i % 25 == 0:
                p = POISON[(i // 25) % len(POISON)]
                pub.publish(plant.topic("voc"), b'{"value": 1, "unit": "ppm", "ts": ' + p + b"}")
                pub.publish(plant.gateway, b'{"%s": [{"value": 1, "unit": "ppm", "ts": %s}]}' % (s.code.encode(), p))
        pub.flush()
        assert wait_for(lambda: c.stats()["spooled"] >= 216, 20), c.stats()
        proxy.start()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 201, 30), c.stats()
        assert wait_for(lambda: c.stats()["spool_segments"] == 0 and c.stats()["dead_letters"] == 16, 10), c.stats()
        # ... and the stream goes on.
        pub.publish(plant.topic("voc"), reading(12.0, "ppm", t0 + 500))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 202, 20)
        assert set(c.stats()["dead_reasons"]) <= {"invalid_payload", "ts_out_of_range"}
    finally:
        pub.close()
        c.stop()
        proxy.stop()


def test_damaged_spool_segment_is_quarantined_and_its_good_records_replayed(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine)
    s = plant.sensors["temperature"]
    cfg = consumer_config(db_url, mqtt_url, plant, tmp_path / "spool")
    from ingestion.consumer import _safe

    d = tmp_path / "spool" / _safe(cfg.client_id)
    d.mkdir(parents=True)
    now_us = time.time_ns() // 1000
    t0 = now_ms() - 60_000
    recs = [(plant.topic("temperature"), reading(24.0, "degC", t0 + i), now_us) for i in range(30)]
    data = Spool.encode(recs)
    (d / "000000000001.spool").write_bytes(data[:-7])  # the last record cut short
    (d / "000000000002.spool").write_bytes(Spool.encode([(plant.topic("temperature"), reading(25.0, "degC", t0 + 99),
                                                          now_us)]))
    c = start_consumer(cfg)
    try:
        assert wait_for(lambda: count_readings(engine, [s.id]) == 30, 20), c.stats()
        assert wait_for(lambda: not list(d.glob("*.spool")), 10)
        assert [p.name for p in d.glob("*.corrupt")] == ["000000000001.corrupt"]
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT reason, detail, length(payload) FROM dead_letter WHERE topic = :t"),
                               {"t": "spool:000000000001.spool"}).one()
        assert row.reason == "spool_corrupt" and "truncated" in row.detail and row[2] > 0
        assert c.stats()["quarantined_segments"] == 1
    finally:
        c.stop()


def test_unwritable_spool_during_an_outage_stops_acknowledging_and_loses_nothing(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine)
    s = plant.sensors["humidity"]
    proxy = db_proxy(db_url)
    proxy.start()
    c = start_consumer(consumer_config(proxied_url(db_url, proxy.port), mqtt_url, plant, tmp_path / "spool",
                                       batch_max=200))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 600_000
    try:
        pub.publish(plant.topic("humidity"), reading(60.0, "%RH", t0))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 1, 20)
        # The spool directory becomes unusable (a file where it should be; root ignores modes).
        shutil.rmtree(c.spool.dir)
        c.spool.dir.write_text("not a directory")
        proxy.stop()
        for i in range(1, 2001):
            pub.publish(plant.topic("humidity"), reading(60.0, "%RH", t0 + i))
        pub.flush()
        assert wait_for(lambda: c.stats()["spool_error"], 20), c.stats()
        time.sleep(1.0)
        st = c.stats()
        assert st["spooled"] == 0 and "not writable" in st["spool_error"]
        assert count_readings(engine, [s.id]) == 1
        proxy.start()  # the database comes back while the spool is still broken
        assert wait_for(lambda: count_readings(engine, [s.id]) == 2001, 40), c.stats()
        assert wait_for(lambda: c.stats()["spool_error"] is None, 10)
        c.spool.dir.unlink()
        proxy.stop()  # another outage: the spool works again
        for i in range(2001, 2101):
            pub.publish(plant.topic("humidity"), reading(60.0, "%RH", t0 + i))
        pub.flush()
        assert wait_for(lambda: c.stats()["spooled"] >= 100, 20), c.stats()
        proxy.start()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 2101, 30), c.stats()
    finally:
        pub.close()
        c.stop()
        proxy.stop()


def test_unwritable_spool_at_start_is_a_one_line_error(tmp_path, db_url, mqtt_url):
    data = tmp_path / "data"
    data.mkdir()
    (data / "spool").write_text("a file where the spool directory should be")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env.update(QHSE_DATABASE_URL=db_url, QHSE_MQTT_URL=mqtt_url, QHSE_DATA_DIR=str(data))
    p = subprocess.run([sys.executable, "-m", "qhse.cli", "ingest", "--client-id", "qhse-test-badspool"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: QHSE_DATA_DIR: spool directory ") and "not writable" in lines[-1]
    assert "Traceback" not in p.stderr


def test_inbox_is_bounded_while_the_writer_is_blocked(engine, db_url, mqtt_url, tmp_path):
    """2 MB messages with the writer stuck behind a table lock: memory stays at the inbox bound."""
    plant = make_plant(engine)
    cap = 16 << 20
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool", inbox_max_bytes=cap,
                                       batch_bytes=4 << 20))
    pub = Publisher(mqtt_url)
    big = b'{"value": 1, "unit": "ppm", "pad": "' + b"x" * (2 << 20) + b'"}'
    locker = engine.connect()
    tx = locker.begin()
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], sum(len(m[1]) for m in list(c._inbox)))
            time.sleep(0.02)

    th = threading.Thread(target=sample, daemon=True)
    try:
        locker.execute(sa.text("LOCK TABLE dead_letter IN ACCESS EXCLUSIVE MODE"))
        th.start()
        for i in range(100):
            pub.publish(plant.topic("voc"), big)
            if i % 10 == 9:
                pub.flush()
        pub.flush()
        time.sleep(3.0)
        assert peak[0] <= cap + len(big), f"inbox reached {peak[0]:,} bytes (bound {cap:,})"
        tx.rollback()  # the writer goes on
        assert wait_for(lambda: c.stats()["dead_reasons"].get("too_large", 0) == 100, 60), c.stats()
        assert peak[0] <= cap + len(big)
    finally:
        stop.set()
        if tx.is_active:
            tx.rollback()
        locker.close()
        pub.close()
        c.stop()


def test_dead_letter_retention_job_deletes_only_old_rows(engine, monkeypatch):
    from qhse.jobs import runner as w
    from qhse.jobs.schedule import JOBS_BY_NAME
    from qhse.settings import reset_settings_cache

    topic = f"retention-{time.time_ns()}"
    with engine.begin() as conn:
        for age_days in (40, 11, 9, 0):
            conn.execute(sa.text("INSERT INTO dead_letter (received_at, source, topic, payload, reason, detail) "
                                 "VALUES (now() - make_interval(days => :d), 'mqtt', :t, '\\x00'::bytea, 'bad_json', "
                                 ":detail)"), {"d": age_days, "t": topic, "detail": f"{age_days} days old"})
    monkeypatch.setenv("QHSE_DEAD_LETTER_RETENTION_DAYS", "10")
    reset_settings_cache()
    try:
        out = w.run_job(engine, JOBS_BY_NAME["dead_letter_purge"], force=True)
        assert out.status == "ok", out
        with engine.connect() as conn:
            left = conn.execute(sa.text("SELECT detail FROM dead_letter WHERE topic = :t ORDER BY received_at"),
                                {"t": topic}).scalars().all()
        assert left == ["9 days old", "0 days old"]
        monkeypatch.setenv("QHSE_DEAD_LETTER_RETENTION_DAYS", "0")
        reset_settings_cache()
        assert w.run_job(engine, JOBS_BY_NAME["dead_letter_purge"], force=True).status == "skipped"
    finally:
        monkeypatch.delenv("QHSE_DEAD_LETTER_RETENTION_DAYS")
        reset_settings_cache()


def test_fuzz_500_bad_300_good_all_accounted_for(db_url, mqtt_url, tmp_path):
    """bench/ingest_fuzz.py, short: every valid reading stored once, every bad message one dead letter."""
    from bench.ingest_fuzz import run_fuzz, table

    r = run_fuzz(db_url, mqtt_url, 500, 300, tmp_path, timeout=90)
    report = table(r)
    assert r["stored"] == 300 and r["duplicates"] == 0 and r["missing"] == 0, report
    assert r["dead_letters"] == 500 and r["dead_without_reason"] == 0, report
    assert "decode_error" not in r["reasons"], report
