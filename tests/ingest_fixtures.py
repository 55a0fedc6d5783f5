"""Small plants for the ingestion tests: one site with a chemical store and a machine.

Every test makes its own site (unique code) with site-scoped copies of the default alarm
rules, and uses its own MQTT topic root, so tests can share one database and one broker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from db import models as m
from qhse.domain.sensor_catalog import DEFAULT_ALARM_RULES, ENV_SENSORS, MACHINE_SENSORS

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SensorRef:
    id: int
    code: str
    kind: str
    unit: str
    area: str
    asset: str | None
    lo: float
    hi: float


@dataclass
class Plant:
    site_id: int
    site: str
    root: str
    sensors: dict[str, SensorRef] = field(default_factory=dict)  # by kind (machine sensors prefixed "m_")
    asset_id: int = 0
    asset: str = ""

    def topic(self, kind: str) -> str:
        s = self.sensors[kind]
        return f"{self.root}/{self.site}/{s.area}/{s.asset or '-'}/{s.code}/telemetry"

    @property
    def gateway(self) -> str:
        return f"{self.root}/{self.site}/gateway/telemetry"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}"


def make_plant(engine: sa.Engine, *, rules: bool = True, rule_overrides: list[tuple] | None = None) -> Plant:
    code = unique("T")
    root = f"qhse-test-{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        ent = conn.execute(sa.select(m.Enterprise.id).where(m.Enterprise.name == "Test Group")).scalar()
        if ent is None:
            ent = conn.execute(sa.insert(m.Enterprise).values(name="Test Group").returning(m.Enterprise.id)).scalar()
        reg = conn.execute(sa.insert(m.Region).values(enterprise_id=ent, code=f"R-{code}", name=f"Region {code}")
                           .returning(m.Region.id)).scalar()
        site = conn.execute(sa.insert(m.Site).values(region_id=reg, code=code, name=f"Plant {code}",
                                                     industry="machining", timezone="Asia/Shanghai", settings={})
                            .returning(m.Site.id)).scalar()
        chem = conn.execute(sa.insert(m.Area).values(site_id=site, code="CHEM", name="Chemical store",
                                                     kind="chemical_store", risk_class="A", is_gas_area=True)
                            .returning(m.Area.id)).scalar()
        mill = conn.execute(sa.insert(m.Area).values(site_id=site, code="MILL", name="Milling", kind="machining",
                                                     risk_class="B").returning(m.Area.id)).scalar()
        asset_code = f"{code}-MILL-M01"
        asset = conn.execute(sa.insert(m.Asset).values(site_id=site, area_id=mill, code=asset_code, name="Mill 1",
                                                       kind="cnc_mill", product_type="M")
                             .returning(m.Asset.id)).scalar()
        plant = Plant(site_id=site, site=code, root=root, asset_id=asset, asset=asset_code)
        for kind, unit, lo, hi, wl, wh, al, ah in ENV_SENSORS["chemical_store"]:
            scode = f"{code}-CHEM-{kind}"
            sid = conn.execute(sa.insert(m.Sensor).values(
                site_id=site, area_id=chem, asset_id=None, code=scode, kind=kind, unit=unit, min_valid=lo,
                max_valid=hi, warn_low=wl, warn_high=wh, alarm_low=al, alarm_high=ah, sample_period_s=10,
            ).returning(m.Sensor.id)).scalar()
            plant.sensors[kind] = SensorRef(sid, scode, kind, unit, "CHEM", None, lo, hi)
        for kind, unit, lo, hi, wh, ah in MACHINE_SENSORS:
            scode = f"{asset_code}-{kind}"
            sid = conn.execute(sa.insert(m.Sensor).values(
                site_id=site, area_id=mill, asset_id=asset, code=scode, kind=kind, unit=unit, min_valid=lo,
                max_valid=hi, warn_high=wh, alarm_high=ah, sample_period_s=10,
            ).returning(m.Sensor.id)).scalar()
            plant.sensors["m_" + kind] = SensorRef(sid, scode, kind, unit, "MILL", asset_code, lo, hi)
        if rules:
            for name, skind, kind, op, thr, clr, dur, sev in (rule_overrides or DEFAULT_ALARM_RULES):
                conn.execute(sa.insert(m.AlarmRule).values(name=name, sensor_kind=skind, site_id=site, kind=kind, op=op,
                                                           threshold=thr, clear_threshold=clr, duration_s=dur,
                                                           severity=sev, enabled=True))
    return plant


def reading(value: float, unit: str, ts_ms: int | None = None, quality: int | None = None) -> bytes:
    d: dict = {"value": value, "unit": unit}
    if ts_ms is not None:
        d["ts"] = ts_ms
    if quality is not None:
        d["quality"] = quality
    return json.dumps(d).encode()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def count_readings(engine: sa.Engine, sensor_ids) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM sensor_reading WHERE sensor_id = ANY(:s)"),
                                {"s": list(sensor_ids)}).scalar())


def wait_for(pred, timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(every)
    return last


class Publisher:
    """A paho publisher (QoS 1) that waits until the broker has every message."""

    def __init__(self, mqtt_url: str):
        import paho.mqtt.client as mqtt

        from ingestion.mqtt import parse_mqtt_url

        a = parse_mqtt_url(mqtt_url)
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("pub-"), protocol=mqtt.MQTTv311)
        self.c.max_inflight_messages_set(200)
        self.c.connect(a.host, a.port)
        self.c.loop_start()
        self.infos = []

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.infos.append(self.c.publish(topic, payload, qos=qos))

    def flush(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for info in self.infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a test message"
        self.infos.clear()

    def close(self) -> None:
        self.flush()
        self.c.disconnect()
        self.c.loop_stop()


def free_port() -> int:
    """A free port below the ephemeral range: a client retrying a closed port there can never
    end up connected to itself (TCP self-connect) and hold the port."""
    import random

    lo = 32768
    try:
        lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    for _ in range(200):
        port = random.randint(max(1024, lo - 12000), lo - 1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class TcpProxy:
    """A TCP forwarder we can cut: stands between the consumer and PostgreSQL in outage tests."""

    def __init__(self, target_host: str, target_port: int):
        # A host that is a directory is a Unix socket directory (the embedded PostgreSQL).
        self.target = (target_host, target_port)
        self.unix_path = f"{target_host}/.s.PGSQL.{target_port}" if target_host.startswith("/") else None
        self.port = free_port()
        self._srv: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._srv = srv
        self._thread = threading.Thread(target=self._accept, args=(srv,), daemon=True)
        self._thread.start()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                if self.unix_path:
                    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    upstream.settimeout(5)
                    upstream.connect(self.unix_path)
                    upstream.settimeout(None)
                else:
                    upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        """Refuse new connections and cut the open ones (the database 'goes down')."""
        if self._srv is not None:
            try:
                self._srv.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            self._srv.close()
            self._srv = None
            if self._thread is not None:
                self._thread.join(5)
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def start_ingest(db_url: str, mqtt_url: str, root: str, client_id: str, spool_dir: Path, *extra: str,
                 log_path: Path | None = None) -> subprocess.Popen:
    """``qhse ingest`` in its own process (so a test can kill -9 it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env.update(QHSE_DATABASE_URL=db_url, QHSE_MQTT_URL=mqtt_url, QHSE_DATA_DIR=str(spool_dir))
    cmd = [sys.executable, "-m", "qhse.cli", "ingest", "--topic-root", root, "--client-id", client_id,
           "--session-expiry", "600", "--stats-every", "2", *extra]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def mqtt_v5(mqtt_url: str) -> bool:
    from ingestion.broker import supports_mqtt5
    from ingestion.mqtt import parse_mqtt_url

    a = parse_mqtt_url(mqtt_url)
    return supports_mqtt5(a.host, a.port)


def consumer_config(db_url: str, mqtt_url: str, plant: Plant, spool_dir: Path, **kw):
    from ingestion.consumer import ConsumerConfig

    v5 = mqtt_v5(mqtt_url)
    opts = dict(mqtt_url=mqtt_url, database_url=db_url, spool_dir=spool_dir, root=plant.root, share_group=None,
                client_id=unique("qhse-test-ingest-"), mqtt_v5=v5, session_expiry_s=120, batch_ms=50.0,
                db_retry_s=0.2)
    opts.update(kw)
    return ConsumerConfig(**opts)


def db_proxy(db_url: str) -> TcpProxy:
    """A cuttable TCP proxy in front of the database of ``db_url`` (TCP or Unix socket)."""
    from sqlalchemy.engine import make_url

    u = make_url(db_url)
    host = u.host or u.query.get("host") or "127.0.0.1"
    return TcpProxy(str(host), u.port or 5432)


def proxied_url(db_url: str, port: int) -> str:
    """``db_url`` rewritten to go through a proxy listening on 127.0.0.1:``port``."""
    from sqlalchemy.engine import make_url

    u = make_url(db_url)
    return u.set(host="127.0.0.1", port=port, query={k: v for k, v in u.query.items() if k != "host"}).render_as_string(
        hide_password=False)


def start_consumer(cfg):
    from ingestion.consumer import Consumer

    c = Consumer(cfg)
    c.start()
    assert c.wait_subscribed(15), "consumer did not subscribe"
    return c
