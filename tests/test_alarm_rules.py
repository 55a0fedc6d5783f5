"""Alarm rules on the live stream: raise once, update, clear with hysteresis, duration, rate; ack and clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa

from db.engine import libpq_dsn
from ingestion.alarms import CHANNEL, AlarmEngine
from ingestion.registry import SensorRegistry

from .actor_fixtures import act
from .ingest_fixtures import (
    ROOT,
    Publisher,
    consumer_config,
    count_readings,
    make_plant,
    now_ms,
    reading,
    start_consumer,
    unique,
    wait_for,
)

VOC_HIGH = [("Solvent vapour high", "voc", "threshold", ">", 100.0, 80.0, 0, "critical")]
STORE_TEMP = [("Chemical store over-temperature", "temperature", "threshold", ">", 35.0, 33.0, 300, "warning")]
VIB_RATE = [("Machine vibration rising fast", "vibration", "rate", ">", 1.0, None, 0, "warning")]
O2_LOW = [("Oxygen deficiency", "o2", "threshold", "<", 19.5, 20.0, 0, "critical")]


def _alarms(engine, sensor_id: int):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT id, status, severity, raised_at, updated_at, cleared_at, first_value, last_value, peak_value, "
            "update_count, message FROM alarm WHERE sensor_id = :s ORDER BY id"), {"s": sensor_id}).fetchall()


class _Listener:
    """LISTEN qhse_alarms on its own connection; collects the notifications."""

    def __init__(self, db_url: str):
        self.conn = psycopg.connect(libpq_dsn(db_url), autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")
        self.events: list[dict] = []
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()

    def _run(self):
        while not self._stop.is_set():
            for n in self.conn.notifies(timeout=0.2, stop_after=50):
                self.events.append(json.loads(n.payload))

    def close(self):
        self._stop.set()
        self._th.join(5)
        self.conn.close()


class _AlertSubscriber:
    def __init__(self, mqtt_url: str, topic: str):
        import paho.mqtt.client as mqtt

        from ingestion.mqtt import parse_mqtt_url

        a = parse_mqtt_url(mqtt_url)
        self.got: list[tuple[float, dict]] = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("alerts-"), protocol=mqtt.MQTTv311)
        done = threading.Event()
        self.c.on_message = lambda c, u, m: self.got.append((time.time(), json.loads(m.payload)))
        self.c.on_subscribe = lambda *a: done.set()
        self.c.connect(a.host, a.port)
        self.c.loop_start()
        self.c.subscribe(topic, qos=1)
        assert done.wait(10)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_threshold_alarm_raises_once_updates_and_clears_with_hysteresis(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine, rule_overrides=VOC_HIGH)
    s = plant.sensors["voc"]
    listener = _Listener(db_url)
    alerts = _AlertSubscriber(mqtt_url, f"{plant.root}/{plant.site}/alarms")
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 120_000
    seq = [(0, 12.0), (1000, 150.0), (2000, 120.0), (3000, 90.0), (4000, 160.0), (5000, 70.0),  # raise .. clear
           (10_000, 130.0), (11_000, 60.0)]  # a second excursion: a new alarm
    try:
        for dt_ms, v in seq[:2]:
            pub.publish(plant.topic("voc"), reading(v, "ppm", t0 + dt_ms))
        pub.publish(plant.topic("voc"), reading(150.0, "ppm", t0 + 1000))  # the same reading again
        pub.flush()
        assert wait_for(lambda: len(_alarms(engine, s.id)) == 1, 15)
        time.sleep(0.3)
        for dt_ms, v in seq[2:]:
            pub.publish(plant.topic("voc"), reading(v, "ppm", t0 + dt_ms))
            pub.flush()
            time.sleep(0.15)  # one batch each: the state carries over between batches
        assert wait_for(lambda: (a := _alarms(engine, s.id)) and len(a) == 2 and a[1].status == "cleared", 15)
        first, second = _alarms(engine, s.id)
        assert first.status == "cleared" and first.severity == "critical"
        assert (first.first_value, first.peak_value, first.last_value) == (150.0, 160.0, 70.0)
        assert first.update_count == 5  # raised, 3 updates (120, 90 inside the hysteresis band, 160), cleared
        assert first.raised_at.timestamp() * 1000 == pytest.approx(t0 + 1000)
        assert first.cleared_at.timestamp() * 1000 == pytest.approx(t0 + 5000)
        assert (second.first_value, second.last_value, second.status) == (130.0, 60.0, "cleared")
        assert "Solvent vapour high" in first.message and s.code in first.message

        assert wait_for(lambda: len(alerts.got) >= 4, 10)
        got = [(m["event"], m["alarm_id"]) for _, m in alerts.got]
        assert got == [("raised", first.id), ("cleared", first.id), ("raised", second.id), ("cleared", second.id)]
        m0 = alerts.got[0][1]
        assert (m0["site"], m0["sensor"], m0["severity"], m0["value"], m0["unit"]) == (plant.site, s.code, "critical",
                                                                                     150.0, "ppm")
        assert wait_for(lambda: sum(e["event"] == "cleared" and e["alarm_id"] in (first.id, second.id)
                                    for e in listener.events) == 2, 10)
        ev = [(e["event"], e["alarm_id"]) for e in listener.events if e["alarm_id"] in (first.id, second.id)]
        assert ev[0] == ("raised", first.id) and ("updated", first.id) in ev
        assert ev.count(("raised", first.id)) == 1
    finally:
        pub.close()
        c.stop()
        alerts.close()
        listener.close()


def test_duration_rule_needs_the_condition_held_continuously(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine, rule_overrides=STORE_TEMP)
    s = plant.sensors["temperature"]
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 3_600_000
    try:
        def send(sec: int, v: float):
            pub.publish(plant.topic("temperature"), reading(v, "degC", t0 + sec * 1000))
            pub.flush()
            time.sleep(0.15)

        send(0, 36.0)
        send(100, 37.0)
        send(200, 34.0)  # below the threshold: the hold restarts
        send(250, 36.0)
        send(400, 36.0)  # held 150 s only
        time.sleep(0.3)
        assert _alarms(engine, s.id) == []
        send(560, 36.5)  # held 310 s since 250
        assert wait_for(lambda: len(_alarms(engine, s.id)) == 1, 10)
        a = _alarms(engine, s.id)[0]
        assert a.raised_at.timestamp() * 1000 == pytest.approx(t0 + 560_000) and a.first_value == 36.5
        send(600, 34.0)  # between clear (33) and threshold (35): still open
        assert _alarms(engine, s.id)[0].status == "open"
        send(620, 32.5)
        assert wait_for(lambda: _alarms(engine, s.id)[0].status == "cleared", 10)
        assert _alarms(engine, s.id)[0].cleared_at.timestamp() * 1000 == pytest.approx(t0 + 620_000)
    finally:
        pub.close()
        c.stop()


def test_duration_rule_raises_after_a_consumer_restart(engine, db_url, mqtt_url, tmp_path):
    """The hold is verified on the stored readings, so a restart (or another worker) does not reset it."""
    plant = make_plant(engine, rule_overrides=STORE_TEMP)
    s = plant.sensors["temperature"]
    t0 = now_ms() - 3_600_000
    pub = Publisher(mqtt_url)
    try:
        c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "a"))
        for sec in (0, 100, 200):
            pub.publish(plant.topic("temperature"), reading(36.0, "degC", t0 + sec * 1000))
        pub.flush()
        assert wait_for(lambda: c.stats()["readings"] == 3, 10)
        c.stop()
        c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "b"))
        pub.publish(plant.topic("temperature"), reading(36.0, "degC", t0 + 320_000))
        pub.flush()
        assert wait_for(lambda: len(_alarms(engine, s.id)) == 1, 10)
        assert _alarms(engine, s.id)[0].raised_at.timestamp() * 1000 == pytest.approx(t0 + 320_000)
        c.stop()
    finally:
        pub.close()


def test_rate_of_change_rule(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine, rule_overrides=VIB_RATE)
    s = plant.sensors["m_vibration"]
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 3_600_000
    try:
        vals = [2.0] * 13 + [2.0 + 0.5 * k for k in range(1, 9)] + [6.0] * 13  # flat, +3 mm/s per min, flat
        for i, v in enumerate(vals):
            pub.publish(plant.topic("m_vibration"), reading(v, "mm/s", t0 + i * 10_000))
            if i % 4 == 3:
                pub.flush()
                time.sleep(0.1)
        pub.flush()
        assert wait_for(lambda: (a := _alarms(engine, s.id)) and a[-1].status == "cleared", 15), _alarms(engine, s.id)
        alarms = _alarms(engine, s.id)
        assert len(alarms) == 1
        a = alarms[0]
        assert a.first_value > 1.0 and a.peak_value == pytest.approx(3.0, abs=0.6)
        raised_i = round((a.raised_at.timestamp() * 1000 - t0) / 10_000)
        assert 13 <= raised_i <= 16  # soon after the rise began
        assert "/min" in a.message
    finally:
        pub.close()
        c.stop()


def test_rate_rule_ignores_sensor_noise(engine, db_url, mqtt_url, tmp_path):
    """A flat but noisy signal sampled every 5 s raises no rate alarm (the slope is fitted over the window)."""
    import numpy as np

    plant = make_plant(engine, rule_overrides=VIB_RATE)
    s = plant.sensors["m_vibration"]
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 3_600_000
    noise = np.random.default_rng(3).normal(0, 0.25, 120)  # the demo machines' vibration noise
    try:
        for i, v in enumerate(2.2 + noise):
            pub.publish(plant.topic("m_vibration"), reading(round(float(v), 3), "mm/s", t0 + i * 5_000))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 120, 15)
        time.sleep(0.5)
        assert _alarms(engine, s.id) == []
        # Two consecutive readings alone differ by several "mm/s per minute": the naive rate would fire.
        assert max(abs(np.diff(noise))) * 12 > 1.0
    finally:
        pub.close()
        c.stop()


def test_below_threshold_rule_and_hysteresis(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine, rule_overrides=O2_LOW)
    s = plant.sensors["o2"]
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool"))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 60_000
    try:
        for i, v in enumerate([20.9, 18.0, 19.8, 17.5, 20.5, 20.9]):
            pub.publish(plant.topic("o2"), reading(v, "%vol", t0 + i * 1000))
        pub.flush()
        assert wait_for(lambda: (a := _alarms(engine, s.id)) and a[0].status == "cleared", 10)
        (a,) = _alarms(engine, s.id)
        assert (a.first_value, a.peak_value, a.last_value, a.update_count) == (18.0, 17.5, 20.5, 4)
    finally:
        pub.close()
        c.stop()


def test_one_open_alarm_per_rule_and_sensor_when_two_evaluators_race(engine, db_url):
    """Two consumers that both think no alarm is open: the database keeps one and updates it."""
    plant = make_plant(engine, rule_overrides=VOC_HIGH)
    s = plant.sensors["voc"]
    t = now_ms() * 1000
    conns = [psycopg.connect(libpq_dsn(db_url), autocommit=True) for _ in range(2)]
    try:
        engines = []
        for conn in conns:
            reg = SensorRegistry()
            reg.load(conn)
            e = AlarmEngine(reg)
            e.refresh(conn, force=True)
            engines.append(e)
        events = []
        for k, (conn, e) in enumerate(zip(conns, engines, strict=True)):
            with conn.transaction():
                events += e.evaluate(conn, np.array([s.id]), np.array([t + k]), np.array([150.0 + 20 * k]))
        assert [ev.event for ev in events if ev.event != "updated"] == ["raised"]
        (a,) = _alarms(engine, s.id)
        assert (a.status, a.update_count, a.peak_value, a.last_value) == ("open", 2, 170.0, 170.0)
    finally:
        for conn in conns:
            conn.close()


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "qhse.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_acknowledge_and_clear_from_the_command_line(engine, db_url):
    plant = make_plant(engine, rule_overrides=VOC_HIGH)
    s = plant.sensors["voc"]
    conn = psycopg.connect(libpq_dsn(db_url), autocommit=True)
    try:
        reg = SensorRegistry()
        reg.load(conn)
        e = AlarmEngine(reg)
        e.refresh(conn, force=True)
        with conn.transaction():
            (ev,) = e.evaluate(conn, np.array([s.id]), np.array([now_ms() * 1000]), np.array([250.0]))
    finally:
        conn.close()
    aid = ev.alarm_id
    duty = act(engine, "hse.duty", "security")
    manager = act(engine, "hse.manager", "plant_manager")
    act(engine, "alarm.inspector", "inspector")
    act(engine, "alarm.disabled", "security", active=False)
    listener = _Listener(db_url)
    try:
        r = _cli(db_url, "alarm", "list", "--site", plant.site, "--json")
        assert r.returncode == 0, r.stderr
        rows = [json.loads(ln) for ln in r.stdout.splitlines()]
        assert [(x["id"], x["status"], x["sensor"]) for x in rows] == [(aid, "open", s.code)]

        # Free text is not accepted; --as names a platform user holding ack_alarms.
        r = _cli(db_url, "alarm", "ack", str(aid), "--by", "Mallory (forged name)")
        assert r.returncode == 2 and "--by" in r.stderr, r.stderr
        r = _cli(db_url, "alarm", "ack", str(aid), "--as", "mallory")
        assert r.returncode == 2 and "unknown user 'mallory'" in r.stderr, r.stderr
        r = _cli(db_url, "alarm", "ack", str(aid), "--as", "alarm.inspector")
        assert r.returncode == 2 and "may not ack alarms" in r.stderr, r.stderr
        r = _cli(db_url, "alarm", "clear", str(aid), "--as", "alarm.inspector")
        assert r.returncode == 2 and "may not ack alarms" in r.stderr, r.stderr
        r = _cli(db_url, "alarm", "ack", str(aid), "--as", "alarm.disabled")
        assert r.returncode == 2 and "disabled" in r.stderr, r.stderr

        r = _cli(db_url, "alarm", "ack", str(aid), "--as", "hse.duty", "--note", "evacuated the store")
        assert r.returncode == 0, r.stderr
        r = _cli(db_url, "alarm", "ack", str(aid), "--as", "hse.manager")
        assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "already acknowledged" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1

        r = _cli(db_url, "alarm", "clear", str(aid), "--as", "hse.manager", "--note", "detector replaced")
        assert r.returncode == 0, r.stderr
        r = _cli(db_url, "alarm", "clear", str(aid), "--as", "hse.manager")
        assert r.returncode == 2 and "already cleared" in r.stderr
        r = _cli(db_url, "alarm", "ack", "987654321", "--as", "hse.duty")
        assert r.returncode == 2 and "no alarm" in r.stderr

        with engine.connect() as c:
            a = c.execute(sa.text("SELECT status, acknowledged_by, cleared_at, message FROM alarm WHERE id = :i"),
                          {"i": aid}).one()
            audit = c.execute(sa.text("SELECT action, user_id, username FROM audit_log WHERE entity = 'alarm' "
                                      "AND entity_id = :i ORDER BY id"), {"i": str(aid)}).fetchall()
        assert a.status == "cleared" and a.acknowledged_by == "hse.duty" and a.cleared_at is not None
        assert "cleared by hand by hse.manager" in a.message
        assert [tuple(x) for x in audit] == [("acknowledge_alarm", duty.user_id, "hse.duty"),
                                             ("clear_alarm", manager.user_id, "hse.manager")]
        assert wait_for(lambda: [x["event"] for x in listener.events if x["alarm_id"] == aid]
                        == ["acknowledged", "cleared"], 5)
        r = _cli(db_url, "alarm", "list", "--site", plant.site)
        assert r.returncode == 0 and "0 alarm(s)" in r.stdout
    finally:
        listener.close()


def _raise_voc_alarm(engine, db_url) -> tuple:
    plant = make_plant(engine, rule_overrides=VOC_HIGH)
    s = plant.sensors["voc"]
    conn = psycopg.connect(libpq_dsn(db_url), autocommit=True)
    try:
        reg = SensorRegistry()
        reg.load(conn)
        e = AlarmEngine(reg)
        e.refresh(conn, force=True)
        with conn.transaction():
            (ev,) = e.evaluate(conn, np.array([s.id]), np.array([now_ms() * 1000]), np.array([250.0]))
    finally:
        conn.close()
    return plant, ev.alarm_id


def test_acknowledge_and_clear_go_through_one_checked_audited_function(engine, db_url):
    """The dashboard and the CLI: permission and site checked, audit row with the user id, NOTIFY, one transaction."""
    from qhse.domain import access
    from qhse.services import alarms as A

    plant, aid = _raise_voc_alarm(engine, db_url)
    other_site = make_plant(engine).site_id
    local = act(engine, "alarm.local", "security", site_ids=(plant.site_id,))
    elsewhere = act(engine, "alarm.elsewhere", "security", site_ids=(other_site,))
    head = act(engine, "alarm.head", "plant_head")
    listener = _Listener(db_url)
    try:
        with pytest.raises(A.AlarmError, match="not free text"):
            A.clear(engine, "Mallory (forged name)", aid)
        with pytest.raises(access.AccessDenied, match="may not clear alarms"):
            A.clear(engine, head, aid)  # plant heads read alarms; clearing needs ack_alarms too
        with pytest.raises(A.AlarmError, match=f"no alarm #{aid}"):
            A.clear(engine, elsewhere, aid)  # another plant's alarm looks like no alarm at all
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT status FROM alarm WHERE id = :i"), {"i": aid}).scalar() == "open"
        A.acknowledge(engine, local, aid, note="fans on")
        A.clear(engine, local, aid, note="sensor replaced")
        with pytest.raises(A.AlarmError, match="already cleared"):
            A.clear(engine, local, aid)
        with engine.connect() as c:
            a = c.execute(sa.text("SELECT status, acknowledged_by FROM alarm WHERE id = :i"), {"i": aid}).one()
            audit = c.execute(sa.text("SELECT action, user_id, username, detail->>'note', (detail->>'site_id')::int "
                                      "FROM audit_log WHERE entity = 'alarm' AND entity_id = :i ORDER BY id"),
                              {"i": str(aid)}).fetchall()
        assert tuple(a) == ("cleared", "alarm.local")
        assert [tuple(x) for x in audit] == [
            ("acknowledge_alarm", local.user_id, "alarm.local", "fans on", plant.site_id),
            ("clear_alarm", local.user_id, "alarm.local", "sensor replaced", plant.site_id)]
        assert wait_for(lambda: [(x["event"], x["by"]) for x in listener.events if x["alarm_id"] == aid]
                        == [("acknowledged", "alarm.local"), ("cleared", "alarm.local")], 5)
    finally:
        listener.close()
