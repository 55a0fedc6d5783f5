"""``qhse simulate``: realistic live readings for the sensors in the database.

The signal models are those of the demo data (``qhse.demo.seed``): solvent vapour (VOC) as a
log-normal background with decaying spikes, oxygen near 20.9 %vol with dips, H2S near zero
with bursts, chemical-store temperature with a daily cycle, humidity, and machines whose
air/process temperature, speed, torque, tool wear and vibration move together.  Excursions
(gas leaks, cooling failures, a bearing going) arrive as a Poisson process so that the
default alarm rules fire now and then; ``--malformed-ratio`` mixes in faulty messages of
every kind the consumer must dead-letter.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .mqtt import make_client
from .registry import SensorInfo, SensorRegistry
from .topics import check_root, gateway_topic, telemetry_topic

log = logging.getLogger(__name__)

MALFORMED_KINDS = ("bad_json", "unknown_sensor", "wrong_unit", "ts_out_of_range", "value_out_of_range")
EXCURSION_KINDS = {"voc", "o2", "h2s", "temperature", "humidity", "vibration", "process_temp"}


class SimulatorError(Exception):
    pass


@dataclass
class SimSummary:
    readings: int = 0
    messages: int = 0
    malformed: int = 0
    excursions: int = 0
    seconds: float = 0.0
    by_fault: dict[str, int] = field(default_factory=dict)


@dataclass
class _Excursion:
    start: float
    length: float
    amplitude: float


class SensorModel:
    """One sensor's signal: value(t) with noise, slow drift and optional excursion."""

    def __init__(self, info: SensorInfo, rng: np.random.Generator, machine: dict | None = None):
        self.info = info
        self.rng = rng
        self.machine = machine  # shared state of the sensors of one machine
        self.exc: _Excursion | None = None
        self.last_us = 0
        self.phase = float(rng.uniform(0, 2 * math.pi))

    def start_excursion(self, now: float) -> None:
        r, k = self.rng, self.info.kind
        if k == "voc":
            self.exc = _Excursion(now, float(r.uniform(60, 600)), float(r.uniform(60, 260)))
        elif k == "o2":
            self.exc = _Excursion(now, float(r.uniform(30, 180)), float(r.uniform(1.2, 2.5)))
        elif k == "h2s":
            self.exc = _Excursion(now, float(r.uniform(30, 180)), float(r.uniform(8, 25)))
        elif k == "temperature":
            self.exc = _Excursion(now, float(r.uniform(420, 900)), float(r.uniform(12, 16)))
        elif k == "humidity":
            self.exc = _Excursion(now, float(r.uniform(700, 1200)), float(r.uniform(20, 30)))
        elif k == "vibration":
            self.exc = _Excursion(now, float(r.uniform(240, 480)), float(r.uniform(5.5, 8.0)))
        elif k == "process_temp":
            self.exc = _Excursion(now, float(r.uniform(420, 900)), float(r.uniform(7, 10)))

    def _shape(self, now: float) -> float:
        """0..1 excursion profile: rise (a fifth of the length, at most 3 s), plateau, fall."""
        e = self.exc
        if e is None:
            return 0.0
        t = now - e.start
        if t >= e.length:
            self.exc = None
            return 0.0
        ramp = min(0.2 * e.length, 3.0)
        if t < ramp:
            return t / ramp
        return 1.0 if t < e.length - ramp else (e.length - t) / ramp

    def value(self, now: float) -> float:
        r, k, s = self.rng, self.info.kind, self._shape(now)
        amp = self.exc.amplitude if self.exc else 0.0
        day = math.sin(2 * math.pi * ((now / 86400.0) % 1.0) + self.phase)
        m = self.machine or {}
        if k == "voc":
            v = float(r.lognormal(math.log(12), 0.25)) + amp * s
        elif k == "o2":
            v = 20.9 + float(r.normal(0, 0.05)) - amp * s
        elif k == "h2s":
            v = abs(float(r.normal(0.6, 0.3))) + amp * s
        elif k == "temperature":
            v = 24 + 2.5 * day + float(r.normal(0, 0.3)) + amp * s
        elif k == "humidity":
            v = 62 + 6 * day + float(r.normal(0, 1.5)) + amp * s
        elif k == "air_temp":
            v = m.get("air", 298.0) + float(r.normal(0, 0.2))
        elif k == "process_temp":
            v = m.get("air", 298.0) + 10.0 + float(r.normal(0, 0.25)) + amp * s
        elif k == "rpm":
            v = m.get("rpm", 1540.0) + float(r.normal(0, 25)) - (m.get("torque", 40.0) - 40.0) * 9.0
        elif k == "torque":
            v = m.get("torque", 40.0) + float(r.normal(0, 2.0)) + m.get("wear", 0.0) * 0.01
        elif k == "tool_wear":
            v = m.get("wear", 0.0)
        elif k == "vibration":
            v = 2.2 + float(r.normal(0, 0.2)) + amp * s
        else:
            v = float(r.normal(0, 1))
        return float(min(max(v, self.info.min_valid), self.info.max_valid))


class Simulator:
    def __init__(self, sensors: list[SensorInfo], client, *, root: str = "qhse", rate: float | None = None,
                 period_s: float = 5.0, malformed_ratio: float = 0.0, gateway: bool = False, batch: int = 100,
                 excursion_every_s: float = 120.0, seed: int | None = None, max_outstanding: int = 5000):
        if not sensors:
            raise SimulatorError("no sensors to simulate (seed the database: qhse db seed)")
        check_root(root)
        self.rng = np.random.default_rng(seed)
        self.client = client
        self.root = root
        self.rate = rate
        self.period_s = period_s
        self.malformed_ratio = malformed_ratio
        self.gateway = gateway
        self.batch = batch
        self.excursion_every_s = excursion_every_s
        self.max_outstanding = max_outstanding
        machines: dict[str | None, dict] = {}
        self.models: list[SensorModel] = []
        for s in sorted(sensors, key=lambda x: x.id):
            mstate = None
            if s.asset:
                mstate = machines.setdefault(s.asset, {"air": 298.0 + float(self.rng.normal(0, 1)),
                                                       "rpm": 1540.0, "torque": 40.0,
                                                       "wear": float(self.rng.uniform(0, 150)),
                                                       "change_at": float(self.rng.uniform(180, 230))})
            self.models.append(SensorModel(s, self.rng, mstate))
        self.machines = machines
        self.topics = [telemetry_topic(m.info.site, m.info.area, m.info.asset, m.info.code, root) for m in self.models]
        self.summary = SimSummary()
        self._outstanding: deque = deque()
        self._next_exc = time.time() + float(self.rng.exponential(excursion_every_s))
        self._last_tick = time.time()
        self._pending_gw: dict[str, dict[str, list]] = {}
        self._pending_n: dict[str, int] = {}
        self._pending_since: dict[str, float] = {}
        self.max_batch_age_s = 0.5

    # -- publishing ------------------------------------------------------------------------------
    def _publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        self._outstanding.append(info)
        while len(self._outstanding) > self.max_outstanding:
            self._outstanding.popleft().wait_for_publish(30)
        self.summary.messages += 1

    def flush(self, timeout: float = 60.0) -> None:
        for site in list(self._pending_gw):
            self._flush_site(site)
        deadline = time.monotonic() + timeout
        while self._outstanding:
            info = self._outstanding.popleft()
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))

    def _flush_site(self, site: str) -> None:
        data = self._pending_gw.pop(site, None)
        self._pending_n.pop(site, None)
        self._pending_since.pop(site, None)
        if data:
            self._publish(gateway_topic(site, self.root), json.dumps(data, separators=(",", ":")).encode())

    # -- one reading -------------------------------------------------------------------------------
    def _tick_machines(self, now: float) -> None:
        dt_s = now - self._last_tick
        if dt_s <= 0:
            return
        self._last_tick = now
        for m in self.machines.values():
            m["wear"] += dt_s / 60.0 * 2.0  # ~2 min of tool wear per running minute
            if m["wear"] >= m["change_at"]:
                m["wear"] = 0.0
                m["change_at"] = float(self.rng.uniform(180, 230))

    def _maybe_excursion(self, now: float) -> None:
        while now >= self._next_exc:
            candidates = [m for m in self.models if m.info.kind in EXCURSION_KINDS and m.exc is None]
            if candidates:
                candidates[int(self.rng.integers(0, len(candidates)))].start_excursion(now)
                self.summary.excursions += 1
            self._next_exc += float(self.rng.exponential(self.excursion_every_s))

    def emit(self, i: int, now: float) -> None:
        """Publish one reading of sensor model ``i`` (maybe made faulty on purpose)."""
        m = self.models[i]
        ts_us = max(int(now * 1e6), m.last_us + 1)
        m.last_us = ts_us
        value = round(m.value(now), 4)
        rec = {"ts": ts_us / 1000.0, "value": value, "unit": m.info.unit}
        topic = self.topics[i]
        fault = None
        if self.malformed_ratio and self.rng.random() < self.malformed_ratio:
            fault = MALFORMED_KINDS[int(self.rng.integers(0, len(MALFORMED_KINDS)))]
            self.summary.malformed += 1
            self.summary.by_fault[fault] = self.summary.by_fault.get(fault, 0) + 1
            if fault == "wrong_unit":
                rec["unit"] = "degF" if m.info.unit != "degF" else "K"
            elif fault == "ts_out_of_range":
                rec["ts"] = ts_us // 1_000_000  # seconds where milliseconds are expected: 1970
            elif fault == "value_out_of_range":
                rec["value"] = (m.info.max_valid if math.isfinite(m.info.max_valid) else 1e9) * 10 + 1000
        self.summary.readings += 1
        if self.gateway:
            site = m.info.site
            code = m.info.code + ("-UNKNOWN" if fault == "unknown_sensor" else "")
            if fault == "bad_json":
                self._publish(gateway_topic(site, self.root), b'{"' + code.encode() + b'": [{"value": ')
                return
            self._pending_gw.setdefault(site, {}).setdefault(code, []).append(rec)
            self._pending_since.setdefault(site, now)
            n = self._pending_n[site] = self._pending_n.get(site, 0) + 1
            if n >= self.batch:
                self._flush_site(site)
            return
        if fault == "unknown_sensor":
            topic = telemetry_topic(m.info.site, m.info.area, m.info.asset, m.info.code + "-UNKNOWN", self.root)
        payload = json.dumps(rec, separators=(",", ":")).encode()
        if fault == "bad_json":
            payload = payload[: len(payload) // 2]
        self._publish(topic, payload)

    # -- loops ---------------------------------------------------------------------------------------
    def run(self, *, duration: float | None = None, count: int | None = None, stop: threading.Event | None = None,
            on_progress=None) -> SimSummary:
        stop = stop or threading.Event()
        t0 = time.time()
        n_models = len(self.models)
        end = t0 + duration if duration else None
        paced = self.rate is not None or count is None
        per_s = self.rate if self.rate is not None else n_models / self.period_s
        i = 0
        k = 0
        try:
            while not stop.is_set():
                now = time.time()
                if end is not None and now >= end:
                    break
                if count is not None and k >= count:
                    break
                if paced:
                    due = int((now - t0) * per_s) + 1
                    if k >= due:
                        # Sleep until the next reading is due (at most 100 ms, so stop is noticed).
                        wait = min(0.1, (k + 1) / per_s - (now - t0))
                        for site, since in list(self._pending_since.items()):
                            if now - since >= self.max_batch_age_s:
                                self._flush_site(site)
                        stop.wait(max(0.0005, wait))
                        continue
                    burst = min(due - k, 10_000) if count is None else min(due - k, count - k, 10_000)
                else:
                    burst = min(1000, count - k)
                self._tick_machines(now)
                self._maybe_excursion(now)
                for _ in range(burst):
                    self.emit(i, now)
                    i = (i + 1) % n_models
                k += burst
                if on_progress:
                    on_progress(burst)
        finally:
            self.flush()
            self.summary.seconds = time.time() - t0
        return self.summary


def load_sensors(db_url: str, sites: list[str] | None = None) -> list[SensorInfo]:
    import psycopg

    from db.engine import libpq_dsn

    reg = SensorRegistry()
    with psycopg.connect(libpq_dsn(db_url)) as conn:
        reg.load(conn)
    out = [s for s in reg.by_id.values() if s.active and (not sites or s.site in sites)]
    if sites:
        missing = set(sites) - {s.site for s in out}
        if missing:
            raise SimulatorError(f"no sensors at site(s) {', '.join(sorted(missing))}")
    return out


def connect_publisher(mqtt_url: str, *, mqtt_v5: bool = True, client_prefix: str = "qhse-sim"):
    import paho.mqtt.client as mqtt

    from .mqtt import client_id, settings_address

    addr = settings_address(mqtt_url)  # credentials and CA from QHSE_MQTT_USERNAME / _PASSWORD / _CA_FILE
    c = make_client(client_id(client_prefix), protocol=mqtt.MQTTv5 if mqtt_v5 else mqtt.MQTTv311, addr=addr)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    try:
        c.connect(addr.host, addr.port, keepalive=30)
    except OSError as exc:
        raise SimulatorError(f"cannot connect to MQTT broker {addr.url}: {exc}") from None
    c.loop_start()
    return c


def run_simulator(*, db_url: str, mqtt_url: str, rate: float | None = None, duration: float | None = None,
                  count: int | None = None, malformed_ratio: float = 0.0, gateway: bool = False, batch: int = 100,
                  sites: list[str] | None = None, excursion_every_s: float = 120.0, period_s: float = 5.0,
                  root: str = "qhse", seed: int | None = None, mqtt_v5: bool = True,
                  progress: bool = False) -> SimSummary:
    sensors = load_sensors(db_url, sites)
    try:
        client = connect_publisher(mqtt_url, mqtt_v5=mqtt_v5)
    except SimulatorError:
        raise
    try:
        sim = Simulator(sensors, client, root=root, rate=rate, period_s=period_s, malformed_ratio=malformed_ratio,
                        gateway=gateway, batch=batch, excursion_every_s=excursion_every_s, seed=seed)
    except ValueError as exc:
        raise SimulatorError(str(exc)) from None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=count, unit=" readings", desc="publishing", dynamic_ncols=True, disable=None)
    try:
        return sim.run(duration=duration, count=count, on_progress=bar.update if bar is not None else None)
    except KeyboardInterrupt:
        sim.flush()
        return sim.summary
    finally:
        if bar is not None:
            bar.close()
        client.disconnect()
        client.loop_stop()
