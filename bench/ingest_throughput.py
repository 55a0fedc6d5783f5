"""Ingestion throughput: publish K readings over a real MQTT broker, time until all are in PostgreSQL.

    python bench/ingest_throughput.py                       # both modes, 1 and 2 consumers
    python bench/ingest_throughput.py --mode single --consumers 1 --readings 300000 --rate 20000

For each run the benchmark creates a scratch database on the PostgreSQL server
(``QHSE_TEST_DATABASE_URL``, else ``QHSE_DATABASE_URL``) with one plant of ``--sensors``
sensors and the default alarm rules, starts ``qhse ingest --workers N`` as its own
process(es), publishes with the load generator in ``bench/_loadgen.py`` (QoS 1, many
device connections, paced at ``--rate``), and polls the hourly rollup (written in the same
transaction as the readings) until every reading has landed.  At the end it counts the
readings themselves: loss = published and acknowledged by the broker but not stored.

Figures printed: readings/s and messages/s end to end (first publish to last reading
committed), the publisher's achieved rate, loss, duplicates.  Run it by hand; the figures
depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench._loadgen import LoadGenerator, encode_publish  # noqa: E402


def server_url() -> str:
    url = os.environ.get("QHSE_TEST_DATABASE_URL") or os.environ.get("QHSE_DATABASE_URL")
    if not url:
        sys.exit("set QHSE_TEST_DATABASE_URL (or QHSE_DATABASE_URL) to a PostgreSQL server URL")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_database(server: str) -> str:
    from tests.conftest import DatabaseFactory

    return DatabaseFactory(server).create(prefix="qhse_bench", migrate=False, migrate_in_place=True)


def drop_database(server: str, url: str) -> None:
    from tests.conftest import DatabaseFactory

    DatabaseFactory(server).drop(url)


def make_sensors(url: str, n: int) -> tuple[str, list[dict]]:
    """One plant with n sensors (gas, climate, machine kinds in turn) and the default alarm rules."""
    from db import models as m
    from qhse.domain.sensor_catalog import DEFAULT_ALARM_RULES, ENV_SENSORS, MACHINE_SENSORS

    kinds = [(k, u, lo, hi) for k, u, lo, hi, *_ in ENV_SENSORS["chemical_store"]] + \
            [(k, u, lo, hi) for k, u, lo, hi, *_ in MACHINE_SENSORS]
    typical = {"voc": 12.0, "temperature": 24.0, "humidity": 60.0, "o2": 20.9, "air_temp": 298.0,
               "process_temp": 308.0, "rpm": 1540.0, "torque": 40.0, "tool_wear": 100.0, "vibration": 2.2}
    eng = sa.create_engine(url)
    site = "BENCH"
    sensors = []
    with eng.begin() as conn:
        ent = conn.execute(sa.insert(m.Enterprise).values(name="Bench").returning(m.Enterprise.id)).scalar()
        reg = conn.execute(sa.insert(m.Region).values(enterprise_id=ent, code="R", name="R")
                           .returning(m.Region.id)).scalar()
        sid = conn.execute(sa.insert(m.Site).values(region_id=reg, code=site, name="Bench plant", industry="machining",
                                                    settings={}).returning(m.Site.id)).scalar()
        area = conn.execute(sa.insert(m.Area).values(site_id=sid, code="HALL", name="Hall", kind="machining",
                                                     risk_class="B").returning(m.Area.id)).scalar()
        rows = []
        for i in range(n):
            k, u, lo, hi = kinds[i % len(kinds)]
            rows.append(dict(site_id=sid, area_id=area, asset_id=None, code=f"S{i:05d}-{k}", kind=k, unit=u,
                             min_valid=lo, max_valid=hi, sample_period_s=1))
            sensors.append({"code": f"S{i:05d}-{k}", "unit": u, "typical": typical[k]})
        conn.execute(sa.insert(m.Sensor), rows)
        for name, skind, kind, op, thr, clr, dur, sev in DEFAULT_ALARM_RULES:
            conn.execute(sa.insert(m.AlarmRule).values(name=name, sensor_kind=skind, kind=kind, op=op, threshold=thr,
                                                       clear_threshold=clr, duration_s=dur, severity=sev))
    eng.dispose()
    return site, sensors


def build_messages(root: str, site: str, sensors: list[dict], k: int, mode: str, batch: int) -> list:
    """K readings as pre-encoded PUBLISH packets; per sensor the timestamps are distinct (ms with µs fraction)."""
    now_ms = time.time() * 1000.0 - 60_000.0
    per = -(-k // len(sensors))
    msgs = []
    if mode == "single":
        for j in range(k):
            s = sensors[j % len(sensors)]
            ts = now_ms - (per - j // len(sensors)) * 0.5
            payload = b'{"ts":%.3f,"value":%.3f,"unit":"%s"}' % (ts, s["typical"] + (j % 7) * 0.01, s["unit"].encode())
            msgs.append(encode_publish(f"{root}/{site}/HALL/-/{s['code']}/telemetry", payload))
        return msgs
    topic = f"{root}/{site}/gateway/telemetry"
    sensors_per_msg = min(batch, 25)
    j = 0
    g = 0
    while j < k:
        n = min(batch, k - j)
        group = [sensors[(g * sensors_per_msg + x) % len(sensors)] for x in range(sensors_per_msg)]
        body: dict[str, list] = {}
        for x in range(n):
            s = group[x % sensors_per_msg]
            idx = j + x
            ts = now_ms - (per - idx // len(sensors)) * 0.5 - (idx % len(sensors)) * 1e-3
            body.setdefault(s["code"], []).append({"ts": round(ts, 3),
                                                   "value": round(s["typical"] + (idx % 7) * 0.01, 3),
                                                   "unit": s["unit"]})
        msgs.append(encode_publish(topic, json.dumps(body, separators=(",", ":")).encode()))
        j += n
        g += 1
    return msgs


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def cpu_seconds(pids) -> float:
    """User + system CPU time of these processes (from /proc)."""
    total = 0.0
    for pid in pids:
        st = _stat(pid)
        if st:
            total += (int(st[11]) + int(st[12])) / _TICK
    return total


def process_tree(root_pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st:
                parents[int(d.name)] = int(st[1])
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(c for c, pp in parents.items() if pp == p)
    return out


def pids_named(name: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == name:
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def start_consumers(db_url: str, mqtt_url: str, root: str, workers: int, data_dir: str, group: str,
                    extra: list[str]) -> tuple[subprocess.Popen, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env.update(QHSE_DATABASE_URL=db_url, QHSE_MQTT_URL=mqtt_url, QHSE_DATA_DIR=data_dir, QHSE_LOG_LEVEL="INFO")
    cmd = [sys.executable, "-m", "qhse.cli", "ingest", "--workers", str(workers), "--topic-root", root,
           "--group", group, "--client-id", f"bench-{uuid.uuid4().hex[:6]}", "--session-expiry", "60",
           "--stats-every", "5", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []

    def pump():
        for ln in proc.stdout:
            lines.append(ln.rstrip())

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    while sum("subscribed to" in ln for ln in lines) < workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            print("\n".join(lines[-30:]))
            raise SystemExit("the consumer did not start")
        time.sleep(0.1)
    return proc, lines


def stop_consumers(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_case(server: str, mqtt_url: str, mode: str, consumers: int, k: int, batch: int, rate: float | None,
             sensors_n: int, connections: int, quiet_s: float, extra: list[str]) -> dict:
    from ingestion.mqtt import parse_mqtt_url

    url = make_database(server)
    root = f"qhse-bench-{uuid.uuid4().hex[:8]}"
    try:
        site, sensors = make_sensors(url, sensors_n)
        msgs = build_messages(root, site, sensors, k, mode, batch)
        eng = sa.create_engine(url)
        with tempfile.TemporaryDirectory(prefix="qhse-bench-") as data_dir:
            proc, lines = start_consumers(url, mqtt_url, root, consumers, data_dir, f"bench{uuid.uuid4().hex[:6]}",
                                          extra)
            try:
                addr = parse_mqtt_url(mqtt_url)
                gen = LoadGenerator(addr.host, addr.port, connections=connections)
                result: dict = {}

                def publish():
                    result["load"] = gen.run(msgs, rate=(rate / (batch if mode == "gateway" else 1)) if rate else None)

                consumer_pids = process_tree(proc.pid)
                with eng.connect() as conn:
                    pg_pids = [r[0] for r in conn.execute(sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'bench-%' "
                        "AND datname = current_database()"))]
                broker_pids = pids_named("mosquitto")
                cpu0 = (cpu_seconds(consumer_pids), cpu_seconds(pg_pids), cpu_seconds(broker_pids))
                th = threading.Thread(target=publish)
                th.start()
                landed, t_done, last_change, last_n = 0, None, time.monotonic(), -1
                while True:
                    time.sleep(0.1)
                    with eng.connect() as conn:
                        landed = int(conn.execute(sa.text("SELECT coalesce(sum(n), 0) FROM sensor_reading_hourly"))
                                     .scalar())
                    now = time.monotonic()
                    if landed != last_n:
                        last_n, last_change = landed, now
                    if landed >= k:
                        t_done = time.time()
                        break
                    if not th.is_alive() and now - last_change > quiet_s:
                        break
                cpu1 = (cpu_seconds(consumer_pids), cpu_seconds(pg_pids), cpu_seconds(broker_pids))
                th.join()
                load = result["load"]
                gen.close()
                with eng.connect() as conn:
                    stored = int(conn.execute(sa.text("SELECT count(*) FROM sensor_reading")).scalar())
                    distinct = int(conn.execute(sa.text("SELECT count(DISTINCT (sensor_id, ts)) FROM sensor_reading"))
                                   .scalar())
                    dead = int(conn.execute(sa.text("SELECT count(*) FROM dead_letter")).scalar())
            finally:
                stop_consumers(proc)
        eng.dispose()
        end = t_done or time.time()
        secs = end - load.first_send
        return {"mode": mode, "consumers": consumers, "readings": k, "messages": len(msgs), "stored": stored,
                "lost": k - stored, "duplicates": stored - distinct, "dead_letters": dead,
                "broker_acked": load.acked, "broker_refused": load.refused,
                "seconds": secs, "readings_per_s": stored / secs if secs > 0 else 0.0,
                "messages_per_s": (stored / (batch if mode == "gateway" else 1)) / secs if secs > 0 else 0.0,
                "publish_rate": load.acked / max(1e-9, load.last_ack - load.first_send),
                "complete": t_done is not None,
                "cpu_consumer_s": cpu1[0] - cpu0[0], "cpu_postgres_s": cpu1[1] - cpu0[1],
                "cpu_broker_s": cpu1[2] - cpu0[2],
                "log_tail": ([ln for ln in lines if "error" in ln.lower()][-5:]
                             + [ln for ln in lines if "received" in ln][-1:])}
    finally:
        drop_database(server, url)


# Authentication and TLS of the product configuration; the bench broker listens on loopback only,
# in plain MQTT, and lets anonymous clients in (the queueing and in-flight settings stay).
_AUTH_TLS_KEYS = {"allow_anonymous", "password_file", "acl_file", "cafile", "capath", "certfile", "keyfile",
                  "tls_version", "require_certificate", "use_identity_as_username", "crlfile", "ciphers"}


def bench_broker_conf(text: str, port: int, data: Path) -> str:
    """The product's Mosquitto configuration for a bench broker on 127.0.0.1:``port``."""
    lines = []
    for ln in text.splitlines():
        key = ln.split(None, 1)[0] if ln.strip() and not ln.lstrip().startswith("#") else ""
        if key == "listener":
            lines += [f"listener {port} 127.0.0.1", "allow_anonymous true"]
            continue
        if key == "persistence_location":
            ln = f"persistence_location {data}/"
        elif key in _AUTH_TLS_KEYS or key in ("log_dest", "log_type", "connection_messages"):
            continue
        lines.append(ln)
    lines += ["log_dest stderr", "log_type error", "log_type warning"]
    return "\n".join(lines) + "\n"


def start_broker(conf: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    """Mosquitto with the product configuration (deploy/mosquitto.conf) on a free local port:
    the same queueing, persistence and in-flight settings, anonymous on loopback (see bench_broker_conf)."""
    import random
    import shutil
    import socket
    import stat

    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    for _ in range(100):
        port = random.randint(20000, 30000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
    data = workdir / "mosquitto-data"
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)  # the broker drops to its own user
    path = workdir / "mosquitto.conf"
    path.write_text(bench_broker_conf(conf.read_text(), port, data))
    proc = subprocess.Popen([exe, "-c", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"mqtt://127.0.0.1:{port}"
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"mosquitto did not start with {conf}: {proc.stderr.read().decode()[-500:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["single", "gateway", "both"], default="both")
    ap.add_argument("--consumers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--readings", type=int, default=None,
                    help="K per run [default: 300,000 single, 1,500,000 gateway]")
    ap.add_argument("--batch", type=int, default=100, help="readings per gateway message")
    ap.add_argument("--rate", type=float, default=None,
                    help="offered readings/s [default: single 20,000, gateway 200,000]; 0 = as fast as the broker acks")
    ap.add_argument("--sensors", type=int, default=500)
    ap.add_argument("--connections", type=int, default=16, help="publisher connections (devices)")
    ap.add_argument("--mqtt-url", default=os.environ.get("QHSE_TEST_MQTT_URL") or os.environ.get("QHSE_MQTT_URL")
                    or "mqtt://127.0.0.1:1883")
    ap.add_argument("--broker-conf", type=Path, default=None,
                    help="start a Mosquitto with this configuration (e.g. deploy/mosquitto.conf) instead of --mqtt-url")
    ap.add_argument("--quiet", type=float, default=15.0, help="stop waiting after this many seconds without progress")
    ap.add_argument("--json", action="store_true", help="print one JSON object per run")
    ap.add_argument("ingest_args", nargs="*", help="extra arguments for qhse ingest (after --)")
    a = ap.parse_args()
    server = server_url()
    modes = ["single", "gateway"] if a.mode == "both" else [a.mode]
    broker = None
    tmp = None
    if a.broker_conf:
        tmp = tempfile.TemporaryDirectory(prefix="qhse-bench-broker-")
        broker, a.mqtt_url = start_broker(a.broker_conf, Path(tmp.name))
        print(f"started mosquitto with {a.broker_conf} on {a.mqtt_url}", flush=True)
    try:
        _run_all(a, server, modes)
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(30)
            tmp.cleanup()


def _run_all(a, server: str, modes: list[str]) -> None:
    print(f"broker {a.mqtt_url}, PostgreSQL {sa.engine.make_url(server).render_as_string(hide_password=True)}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    for mode in modes:
        k = a.readings or (300_000 if mode == "single" else 1_500_000)
        rate = a.rate if a.rate is not None else (20_000 if mode == "single" else 200_000)
        for n in a.consumers:
            r = run_case(server, a.mqtt_url, mode, n, k, a.batch, rate or None, a.sensors, a.connections, a.quiet,
                         a.ingest_args)
            if a.json:
                print(json.dumps(r), flush=True)
                continue
            what = "single-reading messages" if mode == "single" else f"gateway batches of {a.batch}"
            print(f"{what:<28} consumers {n}: {r['stored']:,}/{k:,} readings in {r['seconds']:.2f} s = "
                  f"{r['readings_per_s']:,.0f} readings/s ({r['messages_per_s']:,.0f} msg/s); offered "
                  f"{rate:,.0f}/s, publisher achieved {r['publish_rate'] * (a.batch if mode == 'gateway' else 1):,.0f} "
                  f"readings/s; lost {r['lost']:,}, duplicates {r['duplicates']:,}, dead letters {r['dead_letters']:,}"
                  + ("" if r["complete"] else "  [INCOMPLETE]"), flush=True)
            per = 1e6 / max(1, r["stored"])
            print(f"{'':<28} CPU: consumer {r['cpu_consumer_s']:.1f} s ({r['cpu_consumer_s'] * per:.1f} us/reading), "
                  f"PostgreSQL backends {r['cpu_postgres_s']:.1f} s ({r['cpu_postgres_s'] * per:.1f} us/reading), "
                  f"broker {r['cpu_broker_s']:.1f} s; load average {os.getloadavg()[0]:.1f}", flush=True)
            for ln in r["log_tail"]:
                print("   consumer:", ln)


if __name__ == "__main__":
    main()
