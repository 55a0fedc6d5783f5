"""Ingestion over a real MQTT broker into a real PostgreSQL: validation, dead letters, exactly-once, rollups."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from ingestion.decode import Decoder
from ingestion.registry import SensorInfo, SensorRegistry
from ingestion.topics import parse_topic, subscriptions, telemetry_topic

from .ingest_fixtures import (
    Publisher,
    consumer_config,
    count_readings,
    make_plant,
    mqtt_v5,
    now_ms,
    reading,
    start_consumer,
    unique,
    wait_for,
)

# ------------------------------------------------------------------------------------------
# Decoding (pure logic, no services)
# ------------------------------------------------------------------------------------------


def _registry() -> SensorRegistry:
    reg = SensorRegistry()
    infos = [
        SensorInfo(1, "S1", "CHEM", 1, 10, None, "S1-CHEM-voc", "voc", "ppm", 0.0, 2000.0, True),
        SensorInfo(2, "S1", "MILL", 1, 11, "S1-M01", "S1-M01-vibration", "vibration", "mm/s", 0.0, 50.0, True),
        SensorInfo(3, "S1", "CHEM", 1, 10, None, "S1-CHEM-old", "voc", "ppm", 0.0, 2000.0, False),
    ]
    reg.by_key = {(s.site, s.code): s for s in infos}
    reg.by_id = {s.id: s for s in infos}
    reg.loaded_at, reg.version = time.monotonic(), 1
    return reg


def _decode(msgs):
    now_us = time.time_ns() // 1000
    return Decoder(_registry(), "r").decode([(t, p, now_us) for t, p in msgs]), now_us


def test_topics_round_trip():
    t = telemetry_topic("S1", "MILL", "S1-M01", "S1-M01-vibration", "qhse")
    assert t == "qhse/S1/MILL/S1-M01/S1-M01-vibration/telemetry"
    info = parse_topic(t, "qhse")
    assert (info.kind, info.site, info.area, info.asset, info.sensor) == ("single", "S1", "MILL", "S1-M01",
                                                                         "S1-M01-vibration")
    assert parse_topic("qhse/S1/CHEM/-/x/telemetry", "qhse").asset is None
    assert parse_topic("qhse/S1/gateway/telemetry", "qhse").kind == "gateway"
    assert parse_topic("other/S1/gateway/telemetry", "qhse") is None
    assert subscriptions("qhse", "g") == ["$share/g/qhse/+/+/+/+/telemetry", "$share/g/qhse/+/gateway/telemetry"]


def test_decode_good_single_and_gateway_readings():
    ts = now_ms() - 1000
    out, now_us = _decode([
        ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", reading(12.5, "ppm", ts, 1)),
        ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": 13, "unit": "ppm"}'),  # no ts: time of receipt
        ("r/S1/MILL/S1-M01/S1-M01-vibration/telemetry",
         json.dumps({"ts": dt.datetime.now(dt.UTC).isoformat(), "value": 2.2, "unit": "mm/s"}).encode()),
        ("r/S1/gateway/telemetry", json.dumps({
            "S1-CHEM-voc": [{"ts": ts + 1, "value": 14, "unit": "ppm"}, {"ts": ts + 2, "value": 15, "unit": "ppm"}],
            "S1-M01-vibration": [{"ts": ts, "value": 3.0, "unit": "mm/s"}]}).encode()),
    ])
    assert out.dead == []
    assert sorted(out.sensor_id) == [1, 1, 1, 1, 2, 2]
    assert out.ts_us[0] == ts * 1000 and out.quality[0] == 1
    assert out.ts_us[1] == now_us and out.quality[1] == 0
    assert abs(out.ts_us[2] - now_us) < 5_000_000


@pytest.mark.parametrize("topic,payload,reason", [
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": 1, "unit": "ppm"', "bad_json"),
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": "high", "unit": "ppm"}', "invalid_payload"),
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": 1, "unit": "ppm", "vaule": 2}', "invalid_payload"),
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": 1, "unit": "ppm", "ts": "2026-01-01T00:00:00"}',
     "invalid_payload"),
    ("r/S1/CHEM/-/S1-CHEM-nope/telemetry", b'{"value": 1, "unit": "ppm"}', "unknown_sensor"),
    ("r/S1/MILL/-/S1-CHEM-voc/telemetry", b'{"value": 1, "unit": "ppm"}', "topic_mismatch"),
    ("r/S1/CHEM/-/S1-CHEM-voc/status", b'{"value": 1, "unit": "ppm"}', "unknown_topic"),
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": 1, "unit": "mg/m3"}', "wrong_unit"),
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": 1, "unit": "ppm", "ts": 1767225600}', "ts_out_of_range"),
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": 1, "unit": "ppm", "ts": 4102444800000}', "ts_out_of_range"),
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": -5, "unit": "ppm"}', "value_out_of_range"),
    ("r/S1/CHEM/-/S1-CHEM-old/telemetry", b'{"value": 1, "unit": "ppm"}', "inactive_sensor"),
    ("r/S1/CHEM/-/S1-CHEM-voc/telemetry", b'{"value": 1, "unit": "ppm", "pad": "' + b"x" * (1 << 20) + b'"}',
     "too_large"),
    ("r/S1/gateway/telemetry", b'[1, 2]', "invalid_payload"),
])
def test_decode_dead_letters_carry_reason_and_raw_payload(topic, payload, reason):
    out, _ = _decode([(topic, payload)])
    assert len(out) == 0
    assert [d.reason for d in out.dead] == [reason]
    d = out.dead[0]
    assert d.topic == topic and d.detail
    assert d.payload == payload[:65536]


def test_decode_gateway_keeps_good_readings_and_dead_letters_each_bad_one():
    ts = now_ms()
    payload = json.dumps({
        "S1-CHEM-voc": [{"ts": ts, "value": 10, "unit": "ppm"}, {"ts": ts + 1, "value": "x", "unit": "ppm"},
                        {"ts": ts + 2, "value": 11, "unit": "degC"}, {"ts": ts + 3, "value": 12, "unit": "ppm"}],
        "S1-UNKNOWN": [{"value": 1, "unit": "ppm"}],
    }).encode()
    out, _ = _decode([("r/S1/gateway/telemetry", payload)])
    assert list(out.value) == [10.0, 12.0]
    reasons = sorted(d.reason for d in out.dead)
    assert reasons == ["invalid_payload", "unknown_sensor", "wrong_unit"]
    bad = next(d for d in out.dead if d.reason == "wrong_unit")
    assert json.loads(bad.payload) == {"S1-CHEM-voc": [{"ts": ts + 2, "value": 11, "unit": "degC"}]}


# ------------------------------------------------------------------------------------------
# End to end: broker -> consumer -> PostgreSQL
# ------------------------------------------------------------------------------------------


@pytest.fixture()
def plant(engine):
    return make_plant(engine)


def test_every_reading_lands_exactly_once_single_and_gateway(engine, db_url, mqtt_url, plant, tmp_path):
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    try:
        t0 = now_ms() - 600_000
        kinds = ["voc", "temperature", "humidity", "o2"]
        expected = 0
        msgs = []
        for i in range(400):
            k = kinds[i % 4]
            s = plant.sensors[k]
            msgs.append((plant.topic(k), reading({"voc": 12.0, "temperature": 24.0, "humidity": 60.0,
                                                   "o2": 20.9}[k] + (i % 5) * 0.01, s.unit, t0 + i * 100)))
        gw = {}
        for j in range(600):
            s = plant.sensors["m_" + ["air_temp", "rpm", "torque"][j % 3]]
            value = {"K": 298.0, "rpm": 1500.0, "Nm": 40.0}[s.unit]
            gw.setdefault(s.code, []).append({"ts": t0 + j * 50, "value": value, "unit": s.unit})
        batches = [dict(list(gw.items())[k:k + 1]) for k in range(len(gw))]
        for topic, payload in msgs:
            pub.publish(topic, payload)
        for b in batches:
            pub.publish(plant.gateway, json.dumps(b).encode())
        expected = 400 + 600
        # The same messages again (a device re-sending after a reconnect): nothing new may appear.
        for topic, payload in msgs[:100]:
            pub.publish(topic, payload)
        pub.publish(plant.gateway, json.dumps(batches[0]).encode())
        pub.flush()
        ids = [s.id for s in plant.sensors.values()]
        assert wait_for(lambda: count_readings(engine, ids) >= expected, 30)
        assert wait_for(lambda: c.stats()["duplicates"] >= 300, 15)
        time.sleep(0.5)
        with engine.connect() as conn:
            n, distinct = conn.execute(sa.text(
                "SELECT count(*), count(DISTINCT (sensor_id, ts)) FROM sensor_reading WHERE sensor_id = ANY(:s)"),
                {"s": ids}).one()
            dead = conn.execute(sa.text("SELECT count(*) FROM dead_letter WHERE topic LIKE :t"),
                                {"t": plant.root + "/%"}).scalar()
        assert (n, distinct, dead) == (expected, expected, 0)
        st = c.stats()
        assert st["readings"] == expected and st["duplicates"] == 300
    finally:
        pub.close()
        c.stop()


def test_malformed_payloads_land_in_dead_letters_with_reasons(engine, db_url, mqtt_url, plant, tmp_path):
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    voc = plant.sensors["voc"]
    bad = {
        "bad_json": (plant.topic("voc"), b"{'value': 1}"),
        "unknown_sensor": (f"{plant.root}/{plant.site}/CHEM/-/{plant.site}-CHEM-nh3/telemetry", reading(1, "ppm")),
        "wrong_unit": (plant.topic("voc"), reading(12, "mg/m3")),
        "ts_out_of_range": (plant.topic("voc"), reading(12, "ppm", now_ms() // 1000)),
        "value_out_of_range": (plant.topic("voc"), reading(voc.hi + 1, "ppm")),
        "invalid_payload": (plant.topic("voc"), b'{"value": null, "unit": "ppm"}'),
    }
    try:
        for topic, payload in bad.values():
            pub.publish(topic, payload)
        pub.publish(plant.topic("voc"), reading(12.0, "ppm", now_ms()))
        pub.flush()

        def rows():
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT reason, topic, payload, detail, source FROM dead_letter "
                                            "WHERE topic LIKE :t"), {"t": plant.root + "/%"}).fetchall()

        got = wait_for(lambda: (r := rows()) and len(r) >= len(bad) and r, 20)
        by_reason = {r.reason: r for r in got}
        assert set(by_reason) == set(bad)
        for reason, (topic, payload) in bad.items():
            assert by_reason[reason].topic == topic
            assert bytes(by_reason[reason].payload) == payload
            assert by_reason[reason].detail and by_reason[reason].source == "mqtt"
        assert "mm" not in by_reason["wrong_unit"].detail and "'ppm'" in by_reason["wrong_unit"].detail
        assert wait_for(lambda: count_readings(engine, [voc.id]) == 1, 10)
        assert c.stats()["dead_reasons"] == {r: 1 for r in bad}
    finally:
        pub.close()
        c.stop()


def test_rollups_are_fresh_and_match_a_full_recompute(engine, db_url, mqtt_url, plant, tmp_path):
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool", daily_every_s=0.2))
    pub = Publisher(mqtt_url)
    s = plant.sensors["temperature"]
    base = (now_ms() // 3_600_000) * 3_600_000 - 2 * 3_600_000  # two hours ago, on the hour
    try:
        vals = []
        limit = now_ms() - 1000
        for i in range(180):  # every minute from two hours ago until now (three hourly buckets)
            if base + i * 60_000 <= limit:
                vals.append((base + i * 60_000, 20 + (i % 17) * 0.5))
        n = len(vals)
        for chunk in range(0, n, 45):
            pub.publish(plant.gateway, json.dumps({s.code: [{"ts": t, "value": v, "unit": "degC"}
                                                            for t, v in vals[chunk:chunk + 45]]}).encode())
            pub.flush()
            time.sleep(0.2)
        assert wait_for(lambda: count_readings(engine, [s.id]) == n, 20)
        time.sleep(0.8)
        q_h = "SELECT bucket, n, avg, min, max FROM sensor_reading_hourly WHERE sensor_id = :s ORDER BY bucket"
        q_d = "SELECT day, n, avg, min, max FROM sensor_reading_daily WHERE sensor_id = :s ORDER BY day"
        with engine.connect() as conn:
            hourly = conn.execute(sa.text(q_h), {"s": s.id}).fetchall()
            daily = conn.execute(sa.text(q_d), {"s": s.id}).fetchall()
        assert sum(r.n for r in hourly) == n and len(hourly) == len({t // 3_600_000 for t, _ in vals})
        assert sum(r.n for r in daily) == n
        # The foundation's full recompute gives the same numbers.
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT qhse_refresh_rollups(:a, :b)"),
                         {"a": dt.datetime.fromtimestamp(base / 1000, dt.UTC) - dt.timedelta(days=1),
                          "b": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)})
        with engine.connect() as conn:
            hourly2 = conn.execute(sa.text(q_h), {"s": s.id}).fetchall()
            daily2 = conn.execute(sa.text(q_d), {"s": s.id}).fetchall()
        for a, b in zip(hourly + daily, hourly2 + daily2, strict=True):
            assert a[0] == b[0] and a.n == b.n and a.min == b.min and a.max == b.max
            assert a.avg == pytest.approx(b.avg, rel=1e-9)
    finally:
        pub.close()
        c.stop()


def test_shared_subscription_splits_the_load_between_two_consumers(engine, db_url, mqtt_url, plant, tmp_path):
    if not mqtt_v5(mqtt_url):
        pytest.skip("the test broker speaks MQTT 3.1.1 only (no shared subscriptions)")
    group = unique("g")
    a = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "a", share_group=group))
    b = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "b", share_group=group))
    pub = Publisher(mqtt_url)
    try:
        s = plant.sensors["humidity"]
        t0 = now_ms() - 100_000
        for i in range(300):
            pub.publish(plant.topic("humidity"), reading(55.0, "%RH", t0 + i * 10))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 300, 20)
        time.sleep(0.3)
        ra, rb = a.stats()["received"], b.stats()["received"]
        assert ra + rb == 300 and ra > 0 and rb > 0
    finally:
        pub.close()
        a.stop()
        b.stop()


def test_embedded_broker_carries_readings_with_mqtt_311(engine, db_url, plant, tmp_path):
    from ingestion.broker import start_embedded_broker, stop_embedded_broker

    from .ingest_fixtures import free_port

    port = free_port()
    url = start_embedded_broker(port)
    try:
        assert not mqtt_v5(url)
        c = start_consumer(consumer_config(db_url, url, plant, tmp_path / "spool"))
        pub = Publisher(url)
        try:
            t0 = now_ms() - 10_000
            for i in range(50):
                pub.publish(plant.topic("o2"), reading(20.9, "%vol", t0 + i))
            pub.flush()
            assert wait_for(lambda: count_readings(engine, [plant.sensors["o2"].id]) == 50, 20)
        finally:
            pub.close()
            c.stop()
    finally:
        stop_embedded_broker(port)


def test_simulator_readings_and_malformed_messages_all_accounted_for(engine, db_url, mqtt_url, plant, tmp_path):
    from ingestion.simulator import Simulator, connect_publisher, load_sensors

    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool"))
    sensors = [s for s in load_sensors(db_url, [plant.site])]
    assert len(sensors) == len(plant.sensors)
    client = connect_publisher(mqtt_url, mqtt_v5=mqtt_v5(mqtt_url))
    try:
        total = malformed = 0
        for gateway in (False, True):
            sim = Simulator(sensors, client, root=plant.root, malformed_ratio=0.2, gateway=gateway, batch=20,
                            excursion_every_s=1.0, seed=7 if gateway else 3)
            summary = sim.run(count=500)
            total += summary.readings
            malformed += summary.malformed
        assert total == 1000 and 100 < malformed < 300
        ids = [s.id for s in plant.sensors.values()]

        def accounted():
            with engine.connect() as conn:
                dead = conn.execute(sa.text("SELECT count(*) FROM dead_letter WHERE topic LIKE :t"),
                                    {"t": plant.root + "/%"}).scalar()
            return count_readings(engine, ids), dead

        # Every good reading is stored; every faulty one ends in a dead letter (in a gateway
        # message, the readings of one unknown sensor share one dead letter).
        assert wait_for(lambda: accounted()[0] >= total - malformed, 30)
        time.sleep(1.0)
        stored, dead = accounted()
        st = c.stats()
        assert stored == total - malformed == st["readings"]
        assert dead == st["dead_letters"] and malformed * 0.7 <= dead <= malformed
        assert set(st["dead_reasons"]) == {"bad_json", "unknown_sensor", "wrong_unit", "ts_out_of_range",
                                           "value_out_of_range"}
    finally:
        client.disconnect()
        client.loop_stop()
        c.stop()


def test_live_stream_runs_in_background_and_stops_cleanly(engine, db_url, plant, tmp_path):
    """The demo's background stream on the embedded broker: readings arrive, everything stops."""
    import threading

    from ingestion.live import start_live_stream
    from qhse.settings import load_settings

    from .ingest_fixtures import free_port

    settings = load_settings(data_dir=tmp_path, embedded_mqtt_port=free_port(), mqtt_url=None)
    before = {t.ident for t in threading.enumerate()}
    stream = start_live_stream(db_url, settings, demo_seconds=3.0, period_s=0.2, root=plant.root,
                               client_id=unique("qhse-test-live-"))
    st = stream.stats()
    assert st["published"] > 20 and st["readings"] == st["published"]
    assert {t.ident for t in threading.enumerate() if t.is_alive()} <= before
    from ingestion.broker import port_open

    assert not port_open("127.0.0.1", settings.embedded_mqtt_port)


def test_ingest_command_with_two_workers_fed_by_the_simulate_command(engine, db_url, mqtt_url, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from .ingest_fixtures import ROOT, start_ingest

    if not mqtt_v5(mqtt_url):
        pytest.skip("the test broker speaks MQTT 3.1.1 only (no shared subscriptions)")
    plant = make_plant(engine, rules=False)
    log = tmp_path / "ingest.log"
    proc = start_ingest(db_url, mqtt_url, plant.root, unique("qhse-test-workers-"), tmp_path, "--workers", "2",
                        "--group", unique("g"), log_path=log)
    try:
        assert wait_for(lambda: log.exists() and log.read_text().count("subscribed to") >= 2, 60), log.read_text()
        env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
        env.update(QHSE_DATABASE_URL=db_url, QHSE_MQTT_URL=mqtt_url)
        r = subprocess.run([sys.executable, "-m", "qhse.cli", "simulate", "--count", "600", "--site", plant.site,
                            "--topic-root", plant.root, "--seed", "1"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "published 600 readings in 600 messages" in r.stdout
        ids = [s.id for s in plant.sensors.values()]
        assert wait_for(lambda: count_readings(engine, ids) == 600, 30), log.read_text()[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    text = log.read_text()
    assert text.count("subscribed to") == 2 and "Traceback" not in text
