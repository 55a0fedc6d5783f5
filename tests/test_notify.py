"""Notifications: retries with back-off against a local SMTP sink, a local HTTP receiver and the
real MQTT broker; routing per role and site; nothing lost silently."""

from __future__ import annotations

import datetime as dt
import email
import json
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.notify import NotifyError
from qhse.services import notify
from qhse.services import workflow as wf
from qhse.services.notify import MqttNotifier, SmtpNotifier, WebhookNotifier, deliver_pending, enqueue
from qhse.services.sla import escalate_overdue

from .actor_fixtures import act
from .loop_org import make_org

UTC = dt.UTC
T0 = dt.datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlakySink:
    """An SMTP server that answers 451 (try again later) to the first ``fail`` messages."""

    def __init__(self, fail: int):
        self.fail, self.attempts, self.messages = fail, 0, []

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.attempts <= self.fail:
            return "451 4.3.0 mailbox busy, try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture()
def smtp_sink():
    started = []

    def start(fail: int = 0):
        sink = FlakySink(fail)
        port = _free_port()
        c = Controller(sink, hostname="127.0.0.1", port=port)
        c.start()
        started.append(c)
        return sink, f"smtp://127.0.0.1:{port}"

    yield start
    for c in started:
        c.stop()


class Receiver:
    def __init__(self, fail: int):
        self.fail, self.hits, self.bodies = fail, 0, []


@pytest.fixture()
def http_receiver():
    servers = []

    def start(fail: int = 0):
        rec = Receiver(fail)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                rec.hits += 1
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if rec.hits <= rec.fail:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                rec.bodies.append((self.path, self.headers.get("Content-Type"), json.loads(data)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return rec, f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture(scope="module")
def _module_eng(db_factory):
    e = sa.create_engine(db_factory.create(prefix="qhse_notify"))
    yield e
    e.dispose()


@pytest.fixture()
def eng(_module_eng):
    """The module's database with an empty outbox (delivery sends every due row)."""
    with _module_eng.begin() as c:
        c.execute(sa.text("DELETE FROM notification"))
    return _module_eng


def _queue(eng, channel, recipient, subject="Overdue action #7", ref="action:7:level:1") -> int:
    with Session(eng) as s, s.begin():
        n = enqueue(s, channel, recipient, subject, "Body text", ref=ref, now=T0)
        s.flush()
        return n.id


def _row(eng, nid) -> m.Notification:
    with Session(eng) as s:
        return s.get(m.Notification, nid)


def test_smtp_retries_with_backoff_then_delivers(eng, smtp_sink):
    sink, url = smtp_sink(fail=2)
    nid = _queue(eng, "email", "area.manager@plant.example")
    tx = {"email": SmtpNotifier(url, "qhse@plant.example")}
    st = deliver_pending(eng, now=T0, notifiers=tx)
    r = _row(eng, nid)
    assert (st.sent, st.retried, r.status, r.attempts) == (0, 1, "pending", 1)
    assert "451" in r.last_error and r.next_attempt_at == T0 + dt.timedelta(seconds=30)
    # Not due yet: nothing is tried.
    assert deliver_pending(eng, now=T0 + dt.timedelta(seconds=29), notifiers=tx).retried == 0 and sink.attempts == 1
    deliver_pending(eng, now=T0 + dt.timedelta(seconds=30), notifiers=tx)
    r = _row(eng, nid)
    assert r.attempts == 2 and r.next_attempt_at == T0 + dt.timedelta(seconds=90)  # back-off doubled
    st = deliver_pending(eng, now=T0 + dt.timedelta(seconds=90), notifiers=tx)
    r = _row(eng, nid)
    assert (st.sent, r.status, r.attempts, r.sent_at, r.last_error) == (
        1, "sent", 3, T0 + dt.timedelta(seconds=90), None)
    assert sink.attempts == 3 and len(sink.messages) == 1
    msg = sink.messages[0]
    assert msg["Subject"] == "Overdue action #7" and msg["To"] == "area.manager@plant.example"
    assert msg["X-QHSE-Ref"] == "action:7:level:1" and msg.get_payload().strip() == "Body text"


def test_gives_up_after_max_attempts_but_keeps_the_row(eng, smtp_sink, caplog):
    sink, url = smtp_sink(fail=100)
    nid = _queue(eng, "email", "pm@plant.example")
    tx = {"email": SmtpNotifier(url, "qhse@plant.example")}
    t = T0
    with caplog.at_level(logging.WARNING, logger="qhse.services.notify"):
        for _ in range(3):
            deliver_pending(eng, now=t, notifiers=tx, max_attempts=3)
            t += dt.timedelta(hours=2)
    r = _row(eng, nid)
    assert (r.status, r.attempts, r.next_attempt_at) == ("failed", 3, None)
    assert "451" in r.last_error and sink.attempts == 3 and not sink.messages
    assert any(rec.levelno == logging.ERROR and f"#{nid}" in rec.getMessage() for rec in caplog.records)
    # A failed row is not retried by itself; an operator can queue it again.
    assert deliver_pending(eng, now=t + dt.timedelta(days=1), notifiers=tx).retried == 0
    with Session(eng) as s, s.begin():
        assert notify.retry_failed(s, [nid], now=t) == 1
    assert _row(eng, nid).status == "pending"


def test_unreachable_smtp_server_is_retried(eng):
    nid = _queue(eng, "email", "x@plant.example")
    deliver_pending(eng, now=T0, notifiers={"email": SmtpNotifier(f"smtp://127.0.0.1:{_free_port()}", "q@p")})
    r = _row(eng, nid)
    assert r.status == "pending" and r.attempts == 1 and r.last_error.startswith("SMTP 127.0.0.1:")


def test_webhook_retries_then_delivers(eng, http_receiver):
    rec, base = http_receiver(fail=2)
    nid = _queue(eng, "webhook", base + "/hooks/hse")
    tx = {"webhook": WebhookNotifier(timeout=5)}
    for k, secs in enumerate((0, 30, 90)):
        deliver_pending(eng, now=T0 + dt.timedelta(seconds=secs), notifiers=tx)
        r = _row(eng, nid)
        if k < 2:
            assert r.status == "pending" and "HTTP 500" in r.last_error
    assert (r.status, r.attempts) == ("sent", 3)
    assert rec.hits == 3
    path, ctype, payload = rec.bodies[0]
    assert path == "/hooks/hse" and ctype == "application/json"
    assert payload["subject"] == "Overdue action #7" and payload["ref"] == "action:7:level:1"
    assert payload["body"] == "Body text"


def test_mqtt_notifier_against_real_broker(eng, mqtt_url):
    import paho.mqtt.client as mqtt

    topic = f"qhse/test/{uuid.uuid4().hex[:8]}/notifications/plant_manager"
    got, subscribed = [], threading.Event()
    u = urlsplit(mqtt_url)
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_subscribe = lambda c, ud, mid, rc, props: subscribed.set()
    sub.on_message = lambda c, ud, msg: got.append((msg.topic, msg.qos, json.loads(msg.payload)))
    sub.on_connect = lambda c, ud, flags, rc, props: c.subscribe(topic, qos=1)
    sub.connect(u.hostname, u.port or 1883)
    sub.loop_start()
    try:
        assert subscribed.wait(10)
        nid = _queue(eng, "mqtt", topic, subject="Escalated to plant manager")
        # First an unreachable broker: the attempt fails and is kept for a retry.
        deliver_pending(eng, now=T0, notifiers={"mqtt": MqttNotifier(f"mqtt://127.0.0.1:{_free_port()}", timeout=3)})
        r = _row(eng, nid)
        assert r.status == "pending" and r.attempts == 1 and r.last_error.startswith("MQTT 127.0.0.1:")
        st = deliver_pending(eng, now=T0 + dt.timedelta(seconds=30), notifiers={"mqtt": MqttNotifier(mqtt_url)})
        assert st.sent == 1 and _row(eng, nid).status == "sent"
        deadline = time.time() + 10
        while not got and time.time() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert len(got) == 1
    t, qos, payload = got[0]
    assert t == topic and payload["subject"] == "Escalated to plant manager" and payload["ref"] == "action:7:level:1"


def test_mail_spool_is_the_embedded_default(eng, tmp_path, monkeypatch):
    from qhse.settings import reset_settings_cache

    for k in ("QHSE_SMTP_URL",):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("QHSE_DATA_DIR", str(tmp_path))
    reset_settings_cache()
    tx = notify.default_notifiers()
    assert isinstance(tx["email"], notify.SpoolMailer)
    nid = _queue(eng, "email", "owner@plant.example")
    deliver_pending(eng, now=T0, notifiers=tx)
    assert _row(eng, nid).status == "sent"
    (f,) = list((tmp_path / "mail").glob("*.eml"))
    msg = email.message_from_bytes(f.read_bytes())
    assert msg["To"] == "owner@plant.example" and msg["X-QHSE-Ref"] == "action:7:level:1"


def test_routing_per_role_and_site(eng):
    org = make_org(eng, settings={"notifications": {
        "plant_manager": [{"channel": "webhook", "url": "http://hooks.example/pm"},
                          {"channel": "email", "to": "pm@plant.example"}],
        "group": [{"channel": "mqtt", "topic": "qhse/group/escalations"}]}})
    plain = make_org(eng)
    with Session(eng) as s, s.begin():
        h = wf.report_hazard(s, site_id=org.site_id, area_id=org.area["A"], category="fire", title="x",
                             actor=act(s, "t"), reported_at=T0)
        out = {}
        for site, role in ((org, "area_manager"), (org, "plant_manager"), (org, "group"), (plain, "plant_manager")):
            before = s.scalar(sa.select(sa.func.max(m.Notification.id))) or 0
            notify.notify_role(s, site_id=site.site_id, role=role, subject="s", body="b", hazard=h,
                               area_id=site.area["A"], ref=f"test:{role}")
            out[(site.site_id, role)] = sorted(s.execute(sa.select(m.Notification.channel, m.Notification.recipient)
                                                       .where(m.Notification.id > before)).all())
    assert out[(org.site_id, "area_manager")] == [("email", f"sup.prod.{org.n}@plant.example")]
    assert out[(org.site_id, "plant_manager")] == [("email", "pm@plant.example"), ("webhook", "http://hooks.example/pm")]
    assert out[(org.site_id, "group")] == [("mqtt", "qhse/group/escalations")]
    # No configuration and nobody holding the role: the site's MQTT topic, not silence.
    assert out[(plain.site_id, "plant_manager")] == [("mqtt", f"qhse/{plain.site_code}/notifications/plant_manager")]


@pytest.mark.parametrize("cfg,match", [
    ({"group": {"channel": "email"}}, "must be a list"),
    ({"group": [{"channel": "sms", "to": "123"}]}, "each target needs channel"),
    ({"group": [{"channel": "webhook"}]}, "needs 'url'"),
    ({"group": [{"channel": "mqtt", "topic": "a", "qos": 2}]}, "unknown key"),
])
def test_bad_routing_config_refused(eng, cfg, match):
    org = make_org(eng, settings={"notifications": cfg})
    with Session(eng) as s, pytest.raises(NotifyError, match=match):
        notify.notify_role(s, site_id=org.site_id, role="group", subject="s", body="b")


def test_escalation_reaches_smtp_and_webhook_end_to_end(eng, smtp_sink, http_receiver):
    sink, smtp_url = smtp_sink(fail=1)
    rec, base = http_receiver(fail=1)
    org = make_org(eng, settings={"notifications": {"plant_manager": [{"channel": "webhook", "url": base + "/pm"}]}})
    due = T0
    with Session(eng) as s, s.begin():
        h = wf.report_hazard(s, site_id=org.site_id, area_id=org.area["A"], category="chemical", title="Leaking drum",
                             severity="severe", actor=act(s, "t"), reported_at=due - dt.timedelta(days=2))
        wf.transition(s, h.id, "assigned", actor=act(s, "hse"), at=due - dt.timedelta(days=1), due_at=due)
    with Session(eng) as s, s.begin():
        r = escalate_overdue(s, due + dt.timedelta(hours=8, minutes=5))
        assert r.by_level == {1: 1, 2: 1}
    tx = {"email": SmtpNotifier(smtp_url, "qhse@plant.example"), "webhook": WebhookNotifier(timeout=5)}
    now = due + dt.timedelta(hours=9)
    for k in range(3):
        deliver_pending(eng, now=now + dt.timedelta(minutes=5 * k), notifiers=tx)
    with Session(eng) as s:
        pending = s.scalars(sa.select(m.Notification).where(m.Notification.status != "sent")).all()
    assert pending == []
    subjects = sorted(msg["Subject"] for msg in sink.messages)
    assert any(sj.startswith("[area manager] overdue action") and "Leaking drum" in sj for sj in subjects)
    assert [b[0] for b in rec.bodies] == ["/pm"] and rec.bodies[0][2]["subject"].startswith("[plant manager]")
