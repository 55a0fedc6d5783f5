"""Nothing lost, nothing duplicated: consumer killed with SIGKILL, PostgreSQL unreachable mid-stream."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingestion.spool import Spool

from .ingest_fixtures import (
    Publisher,
    consumer_config,
    count_readings,
    db_proxy,
    make_plant,
    mqtt_v5,
    now_ms,
    proxied_url,
    reading,
    start_consumer,
    start_ingest,
    unique,
    wait_for,
)


def _counts(engine, ids):
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT (sensor_id, ts)) FROM sensor_reading WHERE sensor_id = ANY(:s)"),
            {"s": list(ids)}).one())


def _gateway_messages(plant, n_msgs: int, per_msg: int, t0: int) -> list[bytes]:
    kinds = ["m_air_temp", "m_process_temp", "m_rpm", "m_torque", "m_vibration"]
    typical = {"K": 300.0, "rpm": 1500.0, "Nm": 40.0, "mm/s": 2.0}
    out, k = [], 0
    for _ in range(n_msgs):
        body: dict[str, list] = {}
        for _ in range(per_msg):
            s = plant.sensors[kinds[k % len(kinds)]]
            body.setdefault(s.code, []).append({"ts": t0 + k, "value": typical[s.unit], "unit": s.unit})
            k += 1
        out.append(json.dumps(body).encode())
    return out


def _wait_log(path: Path, text: str, count: int = 1, timeout: float = 60) -> bool:
    return bool(wait_for(lambda: path.exists() and path.read_text(errors="replace").count(text) >= count, timeout))


def _proxied(db_url: str, port: int) -> str:
    return proxied_url(db_url, port)


# ------------------------------------------------------------------------------------------


def test_spool_is_durable_bounded_and_skips_corrupt_segments(tmp_path):
    sp = Spool(tmp_path / "s", max_bytes=4096)
    msgs = [("a/b", b'{"value": 1}', 1), ("a/c", b"\x00\xff", 2)]
    p1 = sp.append(msgs)
    assert p1 is not None and p1.suffix == ".spool" and not list((tmp_path / "s").glob("*.tmp"))
    assert Spool.read(p1) == msgs
    while sp.append(msgs) is not None:
        pass
    assert sp.bytes <= 4096 and not sp.has_room(len(Spool.encode(msgs)))
    # A new instance (restart) sees the same segments, in order; one of them got damaged.
    segs = sp.segments()
    assert segs[0] == p1 and len(segs) > 1
    segs[1].write_bytes(segs[1].read_bytes()[:-3])
    sp2 = Spool(tmp_path / "s", max_bytes=4096)
    assert sp2.segments() == segs and sp2.bytes == sp.bytes - 3
    from ingestion.spool import SpoolCorrupt

    with pytest.raises(SpoolCorrupt):
        Spool.read(segs[1])
    bad = sp2.quarantine(segs[1])
    assert bad.exists() and segs[1] not in sp2.segments()
    for p in sp2.segments():
        sp2.remove(p)
    assert sp2.is_empty() and sp2.bytes == 0


def test_consumer_killed_with_sigkill_and_restarted_mid_stream(engine, db_url, mqtt_url, tmp_path):
    if not mqtt_v5(mqtt_url):
        pytest.skip("the embedded amqtt broker does not keep QoS 1 messages of a disconnected persistent "
                    "session; this runs against Mosquitto (QHSE_TEST_MQTT_URL)")
    plant = make_plant(engine)
    ids = [s.id for s in plant.sensors.values()]
    cid = unique("qhse-test-kill-")
    log = tmp_path / "ingest.log"
    proc = start_ingest(db_url, mqtt_url, plant.root, cid, tmp_path, log_path=log)
    pub = Publisher(mqtt_url)
    msgs = _gateway_messages(plant, 300, 20, now_ms() - 3_600_000)
    try:
        assert _wait_log(log, "subscribed to"), log.read_text()

        def publish():
            for i, m in enumerate(msgs):
                pub.publish(plant.gateway, m)
                if i % 10 == 9:
                    time.sleep(0.1)  # 100 messages (2,000 readings) per second

        th = threading.Thread(target=publish)
        th.start()
        assert wait_for(lambda: count_readings(engine, ids) >= 1000, 30)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        landed_at_kill = count_readings(engine, ids)
        assert landed_at_kill < 6000, "the stream must still be running when the consumer dies"
        time.sleep(0.5)
        proc = start_ingest(db_url, mqtt_url, plant.root, cid, tmp_path, log_path=log)
        th.join()
        pub.flush()
        assert wait_for(lambda: count_readings(engine, ids) >= 6000, 60), log.read_text()[-3000:]
        time.sleep(1.0)
        assert _counts(engine, ids) == (6000, 6000)
    finally:
        pub.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def test_postgres_outage_mid_stream_spools_then_replays(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine)
    s = plant.sensors["voc"]
    proxy = db_proxy(db_url)
    proxy.start()
    c = start_consumer(consumer_config(_proxied(db_url, proxy.port), mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 600_000
    try:
        for i in range(100):
            pub.publish(plant.topic("voc"), reading(12.0, "ppm", t0 + i))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 100, 20)

        proxy.stop()  # PostgreSQL "goes down" for the consumer
        for i in range(100, 400):
            pub.publish(plant.topic("voc"), reading(12.0, "ppm", t0 + i))
        # An excursion while the database is away: its alarm must come with the replay.
        pub.publish(plant.topic("voc"), reading(150.0, "ppm", t0 + 400))
        pub.flush()
        assert wait_for(lambda: c.stats()["spooled"] >= 301, 20), c.stats()
        st = c.stats()
        assert st["db"] == "down" and st["spool_segments"] >= 1
        assert count_readings(engine, [s.id]) == 100  # nothing reached the database meanwhile

        proxy.start()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 401, 30), c.stats()
        assert wait_for(lambda: c.stats()["spool_segments"] == 0, 10)
        assert _counts(engine, [s.id]) == (401, 401)
        assert c.stats()["db"] == "up" and c.stats()["replayed"] >= 301
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alarm WHERE sensor_id = :s"), {"s": s.id}).scalar() == 1
    finally:
        pub.close()
        c.stop()
        proxy.stop()


def test_spool_survives_sigkill_during_an_outage(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine)
    s = plant.sensors["humidity"]
    proxy = db_proxy(db_url)
    proxy.start()
    cid = unique("qhse-test-spool-")
    log = tmp_path / "ingest.log"
    proc = start_ingest(_proxied(db_url, proxy.port), mqtt_url, plant.root, cid, tmp_path, log_path=log)
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 600_000
    spool_dir = tmp_path / "spool" / cid
    try:
        assert _wait_log(log, "subscribed to"), log.read_text()
        for i in range(50):
            pub.publish(plant.topic("humidity"), reading(60.0, "%RH", t0 + i))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 50, 20)
        proxy.stop()
        for i in range(50, 250):
            pub.publish(plant.topic("humidity"), reading(60.0, "%RH", t0 + i))
        pub.flush()

        def spooled() -> int:
            return sum(len(Spool.read(p)) for p in spool_dir.glob("*.spool"))

        assert wait_for(lambda: spooled() == 200, 30), log.read_text()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)  # acknowledged to the broker, only on disk now
        proc.wait(10)
        proxy.start()
        proc = start_ingest(_proxied(db_url, proxy.port), mqtt_url, plant.root, cid, tmp_path, log_path=log)
        assert wait_for(lambda: count_readings(engine, [s.id]) == 250, 40), log.read_text()[-2000:]
        assert wait_for(lambda: not list(spool_dir.glob("*.spool")), 10)
        assert _counts(engine, [s.id]) == (250, 250)
    finally:
        pub.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        proxy.stop()


def test_backend_terminated_mid_stream(engine, db_url, mqtt_url, tmp_path):
    """pg_terminate_backend on the consumer's connection: the batch is spooled and replayed."""
    plant = make_plant(engine)
    s = plant.sensors["temperature"]
    cfg = consumer_config(db_url, mqtt_url, plant, tmp_path / "spool")
    c = start_consumer(cfg)
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 600_000
    stop = threading.Event()

    def publish():
        i = 0
        while not stop.is_set() and i < 3000:
            pub.publish(plant.topic("temperature"), reading(24.0, "degC", t0 + i))
            i += 1
            if i % 50 == 0:
                time.sleep(0.02)

    th = threading.Thread(target=publish)
    th.start()
    try:
        assert wait_for(lambda: count_readings(engine, [s.id]) >= 300, 20)
        killed = 0
        for _ in range(3):
            with engine.begin() as conn:
                killed += conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name LIKE :a"), {"a": cfg.client_id + "%"}).scalar()
            time.sleep(0.3)
        assert killed >= 1
        th.join()
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 3000, 30), c.stats()
        time.sleep(0.5)
        assert _counts(engine, [s.id]) == (3000, 3000)
        assert c.stats()["spooled"] > 0 and c.stats()["replayed"] == c.stats()["spooled"]
    finally:
        stop.set()
        th.join()
        pub.close()
        c.stop()


def test_consumer_started_while_postgres_is_down(engine, db_url, mqtt_url, tmp_path):
    """No sensor list yet: messages are spooled raw and validated once the database is back."""
    plant = make_plant(engine)
    s = plant.sensors["o2"]
    proxy = db_proxy(db_url)  # not started: the database is "down"
    c = start_consumer(consumer_config(_proxied(db_url, proxy.port), mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 60_000
    try:
        for i in range(120):
            pub.publish(plant.topic("o2"), reading(20.9, "%vol", t0 + i))
        pub.publish(plant.topic("o2"), reading(20.9, "ppm", t0 + 500))  # one bad reading
        pub.flush()
        assert wait_for(lambda: c.stats()["spooled"] == 121, 20), c.stats()
        time.sleep(1.5)
        assert c.stats()["spooled"] == 121 and count_readings(engine, [s.id]) == 0
        proxy.start()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 120, 30), c.stats()
        assert wait_for(lambda: c.stats()["dead_letters"] == 1, 10)
        assert c.stats()["dead_reasons"] == {"wrong_unit": 1}
    finally:
        pub.close()
        c.stop()
        proxy.stop()


def test_partition_dropped_under_a_running_consumer_is_recreated(fresh_db_url, mqtt_url, tmp_path, db_factory):
    eng = sa.create_engine(fresh_db_url)
    try:
        plant = make_plant(eng)
        s = plant.sensors["voc"]
        c = start_consumer(consumer_config(fresh_db_url, mqtt_url, plant, tmp_path / "spool"))
        pub = Publisher(mqtt_url)
        try:
            t = now_ms() - 1000
            pub.publish(plant.topic("voc"), reading(12.0, "ppm", t))
            pub.flush()
            assert wait_for(lambda: count_readings(eng, [s.id]) == 1, 20)
            name = time.strftime("sensor_reading_y%Ym%m", time.gmtime(t / 1000))
            owner = sa.create_engine(db_factory.owner_url(fresh_db_url))  # only the owner may drop tables
            with owner.begin() as conn:
                conn.execute(sa.text(f'DROP TABLE "{name}"'))  # retention job, operator, ...
            owner.dispose()
            assert count_readings(eng, [s.id]) == 0
            pub.publish(plant.topic("voc"), reading(13.0, "ppm", t + 1))
            pub.flush()
            assert wait_for(lambda: count_readings(eng, [s.id]) == 1, 20)
            with eng.connect() as conn:
                assert conn.execute(sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar()
                assert conn.execute(sa.text("SELECT value FROM sensor_reading WHERE sensor_id = :s"),
                                    {"s": s.id}).scalar() == 13.0
            assert c.stats()["dead_letters"] == 0
        finally:
            pub.close()
            c.stop()
    finally:
        eng.dispose()
