"""Broker security against a real Mosquitto running the shipped deploy/mosquitto.conf and ACL.

A second mosquitto process is started by the tests on a free port (TLS listener, password
file made with mosquitto_passwd, deploy/mosquitto.acl); nothing here touches the test
broker of QHSE_TEST_MQTT_URL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from .ingest_fixtures import (
    ROOT,
    count_readings,
    make_plant,
    now_ms,
    reading,
    unique,
    wait_for,
)
from .secure_broker import (
    PLATFORM_PASSWORD,
    PLATFORM_USER,
    READER_USER,
    client,
    start_secure_broker,
)

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/mosquitto") and not os.path.exists("/usr/bin/mosquitto"),
                                reason="needs the mosquitto binary")

SITE_A, SITE_B = "SECA", "SECB"


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    b = start_secure_broker(tmp_path_factory.mktemp("mosq"), {SITE_A: "site-a-pass-91", SITE_B: "site-b-pass-42"})
    yield b
    b.stop()


class Listener:
    """A platform subscriber on qhse/#: what actually reached the broker's subscribers."""

    def __init__(self, broker):
        self.got: list[tuple[str, bytes]] = []
        self.c, rc = client(broker, PLATFORM_USER)
        assert rc is not None and not rc.is_failure, rc
        ready = threading.Event()
        self.c.on_subscribe = lambda *a, **k: ready.set()
        self.c.on_message = lambda cl, ud, msg: self.got.append((msg.topic, msg.payload))
        self.c.subscribe("qhse/#", qos=1)
        assert ready.wait(10)

    def topics(self) -> list[str]:
        return [t for t, _ in self.got]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _publish_all(c, items, barrier_topic):
    """Publish ``items`` then a barrier message the sender may publish; wait for the barrier's PUBACK."""
    for t, p in items:
        c.publish(t, p, qos=1)
    info = c.publish(barrier_topic, b'{"value": 1, "unit": "ppm"}', qos=1)
    info.wait_for_publish(10)
    assert info.is_published()


def test_anonymous_client_is_refused_and_forges_nothing(secure):
    listen = Listener(secure)
    try:
        for v5 in (True, False):
            c, rc = client(secure, None, v5=v5)
            assert rc is not None and rc.is_failure, f"anonymous {'v5' if v5 else '3.1.1'} client accepted"
            c.publish(f"qhse/{SITE_A}/CHEM/-/{SITE_A}-CHEM-voc/telemetry", reading(850.0, "ppm"), qos=1)
            c.publish(f"qhse/{SITE_A}/alarms", b'{"message": "evacuate"}', qos=1)
            c.loop_stop()
        c, rc = client(secure, PLATFORM_USER, "wrong-password")
        assert rc is not None and rc.is_failure
        c.loop_stop()
        time.sleep(0.5)
        assert listen.got == []
    finally:
        listen.close()


def test_site_user_publishes_only_its_own_sites_telemetry(secure):
    listen = Listener(secure)
    own = f"qhse/{SITE_A}/CHEM/-/{SITE_A}-CHEM-voc/telemetry"
    gw = f"qhse/{SITE_A}/gateway/telemetry"
    try:
        c, rc = client(secure, SITE_A)
        assert rc is not None and not rc.is_failure, rc
        forged = [
            (f"qhse/{SITE_B}/CHEM/-/{SITE_B}-CHEM-voc/telemetry", reading(850.0, "ppm")),  # another site
            (f"qhse/{SITE_B}/gateway/telemetry", b"{}"),
            (f"qhse/{SITE_A}/alarms", b'{"message": "evacuate"}'),  # only the platform raises alarms
            (f"qhse/{SITE_A}/vision/events", b"{}"),
            (f"qhse/{SITE_A}/notifications/plant_manager", b"{}"),
        ]
        _publish_all(c, [(gw, b"{}")] + forged, own)
        assert wait_for(lambda: own in listen.topics(), 10)
        time.sleep(0.3)
        assert sorted(set(listen.topics())) == sorted({own, gw}), listen.topics()
        # ... and reads nothing (Mosquitto grants the subscription but delivers no message it may not read).
        seen = []
        ev = threading.Event()
        c.on_subscribe = lambda *a, **k: ev.set()
        c.on_message = lambda cl, ud, msg: seen.append(msg.topic)
        c.subscribe("qhse/#", qos=1)
        assert ev.wait(10)
        listen.c.publish(f"qhse/{SITE_A}/alarms", b'{"message": "real"}', qos=1).wait_for_publish(10)
        listen.c.publish(f"qhse/{SITE_B}/gateway/telemetry", b"{}", qos=1).wait_for_publish(10)
        assert wait_for(lambda: f"qhse/{SITE_B}/gateway/telemetry" in listen.topics(), 10)
        time.sleep(0.5)
        assert seen == []
        c.disconnect()
        c.loop_stop()
    finally:
        listen.close()


def test_reader_reads_but_publishes_nothing_and_platform_publishes_alarms(secure):
    listen = Listener(secure)
    try:
        r, rc = client(secure, READER_USER)
        assert rc is not None and not rc.is_failure
        got = []
        ev = threading.Event()
        r.on_message = lambda cl, ud, msg: got.append(msg.topic)
        r.on_subscribe = lambda *a, **k: ev.set()
        r.subscribe("qhse/#", qos=1)
        assert ev.wait(10)
        r.publish(f"qhse/{SITE_A}/alarms", b'{"message": "evacuate"}', qos=1)
        r.publish(f"qhse/{SITE_A}/CHEM/-/{SITE_A}-CHEM-voc/telemetry", reading(1.0, "ppm"), qos=1)
        info = listen.c.publish(f"qhse/{SITE_A}/alarms", b'{"message": "real alarm"}', qos=1)
        info.wait_for_publish(10)
        assert wait_for(lambda: f"qhse/{SITE_A}/alarms" in got, 10)
        time.sleep(0.3)
        assert [p for t, p in listen.got] == [b'{"message": "real alarm"}']
        r.disconnect()
        r.loop_stop()
    finally:
        listen.close()


def test_v5_probe_uses_the_clients_credentials(secure):
    from ingestion.broker import BrokerAuthError, supports_mqtt5

    kw = {"tls": True, "ca_file": str(secure.ca_file)}
    assert supports_mqtt5("127.0.0.1", secure.port, username=PLATFORM_USER, password=PLATFORM_PASSWORD, **kw)
    with pytest.raises(BrokerAuthError, match="anonymous"):
        supports_mqtt5("127.0.0.1", secure.port, **kw)
    with pytest.raises(BrokerAuthError, match="qhse-platform"):
        supports_mqtt5("127.0.0.1", secure.port, username=PLATFORM_USER, password="nope", **kw)


def test_broker_passwd_command_writes_entries_mosquitto_accepts(secure, tmp_path):
    user, pw = unique("SX"), "from-stdin-" + uuid.uuid4().hex[:6]
    r = subprocess.run([sys.executable, "-m", "qhse.cli", "broker", "passwd", str(secure.passwd), user,
                        "--password-stdin"], input=pw + "\n", capture_output=True, text=True, cwd=ROOT,
                       env={k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert pw not in r.stdout + r.stderr and pw not in secure.passwd.read_text()
    secure.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    c, rc = client(secure, user, pw)
    assert rc is not None and not rc.is_failure, rc
    c.disconnect()
    c.loop_stop()
    c, rc = client(secure, user, pw + "x")
    assert rc is not None and rc.is_failure
    c.loop_stop()
    # Generated passwords are printed once and work.
    r = subprocess.run([sys.executable, "-m", "qhse.cli", "broker", "passwd", str(secure.passwd), user + "G"],
                       capture_output=True, text=True, cwd=ROOT,
                       env={k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}, timeout=60)
    assert r.returncode == 0, r.stderr
    name, generated = r.stdout.split()
    secure.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    c, rc = client(secure, name, generated)
    assert rc is not None and not rc.is_failure, rc
    c.disconnect()
    c.loop_stop()


def _ingest_env(db_url: str, data_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env.update(QHSE_DATABASE_URL=db_url, QHSE_DATA_DIR=str(data_dir), QHSE_LOG_LEVEL="DEBUG", **extra)
    return env


def _site_plant(engine, secure):
    """A plant whose site code is a broker user (its gateway's credentials), topic root qhse."""
    plant = make_plant(engine, rules=False)
    plant.root = "qhse"
    pw = "gw-" + uuid.uuid4().hex[:10]
    secure.add_user(plant.site, pw)
    return plant, pw


def _publish_as_site(secure, plant, pw, n: int) -> None:
    c, rc = client(secure, plant.site, pw)
    assert rc is not None and not rc.is_failure, rc
    t0 = now_ms() - 100_000
    infos = [c.publish(plant.topic("humidity"), reading(50.0 + i % 7, "%RH", t0 + i * 10), qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(30)
        assert info.is_published()
    c.disconnect()
    c.loop_stop()


def test_ingest_with_two_workers_and_broker_credentials_over_tls(engine, db_url, secure, tmp_path):
    plant, pw = _site_plant(engine, secure)
    log = tmp_path / "ingest.log"
    cid = unique("qhse-test-sec-")
    env = _ingest_env(db_url, tmp_path, QHSE_MQTT_URL=secure.url, QHSE_MQTT_USERNAME=PLATFORM_USER,
                      QHSE_MQTT_PASSWORD=PLATFORM_PASSWORD, QHSE_MQTT_CA_FILE=str(secure.ca_file),
                      QHSE_MQTT_CLIENT_ID=cid)
    proc = subprocess.Popen([sys.executable, "-m", "qhse.cli", "ingest", "--workers", "2", "--session-expiry", "600",
                             "--stats-every", "1"], cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: log.read_text().count("subscribed to") >= 2 or proc.poll() is not None, 60)
        assert proc.poll() is None, log.read_text()
        text = log.read_text()
        assert "MQTT v5" in text and f"{cid}-1 subscribed to $share/qhse/" in text, text[-3000:]
        _publish_as_site(secure, plant, pw, 400)
        assert wait_for(lambda: count_readings(engine, [plant.sensors["humidity"].id]) == 400, 30), \
            log.read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    text = log.read_text()
    assert text.count("subscribed to") == 2 and "Traceback" not in text
    assert PLATFORM_PASSWORD not in text


def test_single_consumer_with_credentials_in_the_url_keeps_mqtt5_and_hides_the_password(engine, db_url, secure,
                                                                                       tmp_path):
    plant, pw = _site_plant(engine, secure)
    log = tmp_path / "ingest.log"
    url = f"mqtts://{PLATFORM_USER}:{PLATFORM_PASSWORD}@127.0.0.1:{secure.port}"
    env = _ingest_env(db_url, tmp_path, QHSE_MQTT_URL=url, QHSE_MQTT_CA_FILE=str(secure.ca_file))
    proc = subprocess.Popen([sys.executable, "-m", "qhse.cli", "ingest", "--client-id", unique("qhse-test-one-"),
                             "--stats-every", "1"], cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: "subscribed to" in log.read_text() or proc.poll() is not None, 60)
        assert proc.poll() is None, log.read_text()
        _publish_as_site(secure, plant, pw, 50)
        assert wait_for(lambda: count_readings(engine, [plant.sensors["humidity"].id]) == 50, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    text = log.read_text()
    assert "MQTT v5" in text and "3.1.1" not in text, text[-2000:]
    assert PLATFORM_PASSWORD not in text


def test_shared_subscription_needs_a_stable_client_id(db_url, tmp_path):
    env = _ingest_env(db_url, tmp_path, QHSE_MQTT_URL="mqtt://127.0.0.1:1")
    for extra in (["--workers", "2"], ["--group", "g1"]):
        r = subprocess.run([sys.executable, "-m", "qhse.cli", "ingest", *extra], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (extra, r.stdout, r.stderr)
        assert "stable client id" in r.stderr and "QHSE_MQTT_CLIENT_ID" in r.stderr


def test_client_id_setting_is_checked():
    from qhse.settings import SettingsError, load_settings

    assert load_settings(mqtt_client_id="qhse-ingest-1").mqtt_client_id == "qhse-ingest-1"
    with pytest.raises(SettingsError, match="QHSE_MQTT_CLIENT_ID"):
        load_settings(mqtt_client_id="bad/id")
    s = load_settings(mqtt_password="hunter22")
    assert "hunter22" not in repr(s) and "hunter22" not in str(s.model_dump())


def test_redact_url_and_address_repr():
    from ingestion.mqtt import parse_mqtt_url, redact_url

    url = "mqtts://qhse-platform:s3cr%40t@broker:8883"
    assert redact_url(url) == "mqtts://qhse-platform:***@broker:8883"
    a = parse_mqtt_url(url)
    assert a.password == "s3cr@t" and "s3cr" not in repr(a) and "s3cr" not in a.url
    assert json.dumps(a.url)


def test_notifications_and_vision_events_publish_with_the_platform_credentials(secure, monkeypatch):
    from qhse.services.notify import default_notifiers
    from qhse.settings import reset_settings_cache
    from vision.events import MqttPublisher

    for k, v in {"QHSE_MQTT_URL": secure.url, "QHSE_MQTT_USERNAME": PLATFORM_USER,
                 "QHSE_MQTT_PASSWORD": PLATFORM_PASSWORD, "QHSE_MQTT_CA_FILE": str(secure.ca_file)}.items():
        monkeypatch.setenv(k, v)
    reset_settings_cache()
    listen = Listener(secure)
    pub = None
    try:
        notifier = default_notifiers()["mqtt"]
        notifier.send("qhse/platform/notifications/on_call", "consumer stalled", "body")
        notifier.close()
        pub = MqttPublisher(secure.url)
        assert pub.wait_connected(10)
        assert pub.publish(f"qhse/{SITE_A}/vision/events", {"kind": "no_hard_hat"})
        assert wait_for(lambda: len(listen.got) == 2, 10)
        assert listen.topics() == ["qhse/platform/notifications/on_call", f"qhse/{SITE_A}/vision/events"]
    finally:
        if pub is not None:
            pub.client.disconnect()
            pub.client.loop_stop()
        listen.close()
