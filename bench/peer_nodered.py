"""QHSE ingestion side by side with Node-RED, the flow plants often run instead, in one run.

    python bench/peer_nodered.py                                  # short run (about 2 minutes)
    python bench/peer_nodered.py --single 100000 --gateway 20000 --latency-s 30 --rounds 2   # the full sizes

Node-RED 4 and the ``pg`` module are installed from the npm registry into a scratch folder
(``--nodered-dir``, default /tmp/qhse-bench-nodered; reused when already there): a bench
tool only, never a dependency of the product.  Two flows are written there:

* **per message**: MQTT-in (QoS 1) -> a function node that does one ``INSERT`` per message
  (a gateway message: one multi-row ``INSERT``) through a ``pg`` pool of 10;
* **batched**: the same, but rows are buffered and written with one multi-row ``INSERT``
  per 100 rows or per second, whichever comes first.

Node-RED writes into a plain table (no unique key, no rollup, no alarm rules): less work
than ``qhse ingest`` does per reading (idempotent COPY, hourly rollup, alarm rules in the
same transaction), and nothing there makes a duplicate visible except counting.

Every case runs QHSE and the Node-RED flows against the same private Mosquitto (the
product's deploy/mosquitto.conf: persistence, queue limits, in-flight window; anonymous,
plain MQTT, loopback only) and the same PostgreSQL server (``QHSE_TEST_DATABASE_URL``, a
scratch database per run) with the same pre-encoded load from bench/_loadgen.py:

* throughput: single-reading messages and gateway batches of 100, as fast as the broker
  acknowledges; first publish to last reading committed;
* latency at ``--rate`` msg/s (one publisher connection, so messages leave in order): the
  payload's ``ts`` is the planned send time, a poller reads newly committed rows every
  millisecond or so; latency = seen committed - planned send (an upper bound: it includes
  the poll period and any publisher lag);
* consumer CPU (user + system, all threads, from /proc) per 100,000 single readings.

Every row reports readings lost (acknowledged by the broker, never stored) and duplicates.
The machine's load average is printed with the table: the figures depend on what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench._loadgen import LoadGenerator, encode_publish  # noqa: E402
from bench.ingest_throughput import (  # noqa: E402
    build_messages,
    cpu_seconds,
    drop_database,
    make_database,
    make_sensors,
    process_tree,
    server_url,
    start_broker,
    start_consumers,
    stop_consumers,
)
from db.engine import libpq_dsn  # noqa: E402

NODERED_TABLE = """
CREATE TABLE nodered_reading (sensor_id integer NOT NULL, ts timestamptz NOT NULL, value double precision,
                              quality smallint);
CREATE INDEX ON nodered_reading (ts);
"""

# --- Node-RED flows ------------------------------------------------------------------------------------

_INIT = r"""
const pg = global.get('pg');
const pool = new pg.Pool({ connectionString: __DSN__, max: 10 });
pool.on('error', (e) => node.error('pool: ' + e.message));
context.set('pool', pool);
context.set('ids', __IDS__);
context.set('buf', []);
const flush = () => {
    const buf = context.get('buf');
    if (!buf.length) return;
    context.set('buf', []);
    const vals = [], args = [];
    for (const r of buf) {
        args.push(r[0], r[1], r[2], r[3]);
        const n = args.length;
        vals.push('($' + (n - 3) + ', to_timestamp($' + (n - 2) + '::float8 / 1000), $' + (n - 1) + ', $' + n + ')');
    }
    pool.query('INSERT INTO nodered_reading (sensor_id, ts, value, quality) VALUES ' + vals.join(','), args)
        .catch((e) => node.error('insert: ' + e.message));
};
context.set('flush', flush);
if (__BATCHED__) context.set('timer', setInterval(flush, 1000));
"""

_FUNC = r"""
const ids = context.get('ids');
const parts = msg.topic.split('/');
let data;
try { data = JSON.parse(msg.payload); } catch (e) { node.warn('bad JSON on ' + msg.topic); return null; }
const rows = [];
if (parts[2] === 'gateway') {
    for (const code in data) {
        const sid = ids[parts[1] + '/' + code];
        if (sid === undefined) continue;
        for (const r of data[code]) rows.push([sid, r.ts, r.value, r.quality || 0]);
    }
} else {
    const sid = ids[parts[1] + '/' + parts[4]];
    if (sid !== undefined) rows.push([sid, data.ts, data.value, data.quality || 0]);
}
if (!rows.length) return null;
if (__BATCHED__) {
    const buf = context.get('buf');
    for (const r of rows) buf.push(r);
    if (buf.length >= 100) context.get('flush')();
    return null;
}
const pool = context.get('pool');
if (rows.length === 1) {
    const r = rows[0];
    pool.query('INSERT INTO nodered_reading (sensor_id, ts, value, quality) '
               + 'VALUES ($1, to_timestamp($2::float8 / 1000), $3, $4)', r)
        .catch((e) => node.error('insert: ' + e.message));
    return null;
}
const vals = [], args = [];
for (const r of rows) {
    args.push(r[0], r[1], r[2], r[3]);
    const n = args.length;
    vals.push('($' + (n - 3) + ', to_timestamp($' + (n - 2) + '::float8 / 1000), $' + (n - 1) + ', $' + n + ')');
}
pool.query('INSERT INTO nodered_reading (sensor_id, ts, value, quality) VALUES ' + vals.join(','), args)
    .catch((e) => node.error('insert: ' + e.message));
return null;
"""

_FINAL = r"""
const t = context.get('timer');
if (t) clearInterval(t);
const f = context.get('flush');
if (f) f();
const p = context.get('pool');
if (p) p.end();
"""


def nodered_flows(broker_port: int, root: str, dsn: str, ids: dict[str, int], batched: bool) -> list[dict]:
    def sub(js: str) -> str:
        return (js.replace("__DSN__", json.dumps(dsn)).replace("__IDS__", json.dumps(ids))
                .replace("__BATCHED__", "true" if batched else "false"))

    return [
        {"id": "tab1", "type": "tab", "label": "qhse bench"},
        {"id": "broker1", "type": "mqtt-broker", "name": "bench", "broker": "127.0.0.1", "port": str(broker_port),
         "clientid": f"nodered-bench-{uuid.uuid4().hex[:6]}", "autoConnect": True, "usetls": False,
         "protocolVersion": "4", "keepalive": "60", "cleansession": True, "autoUnsubscribe": True,
         "birthTopic": "", "closeTopic": "", "willTopic": ""},
        {"id": "in1", "type": "mqtt in", "z": "tab1", "name": "telemetry", "topic": f"{root}/#", "qos": "1",
         "datatype": "utf8", "broker": "broker1", "nl": False, "rap": True, "rh": 0, "inputs": 0,
         "x": 120, "y": 80, "wires": [["fn1"]]},
        {"id": "fn1", "type": "function", "z": "tab1", "name": "batched insert" if batched else "insert",
         "func": sub(_FUNC), "outputs": 0, "timeout": 0, "noerr": 0, "initialize": sub(_INIT),
         "finalize": _FINAL, "libs": [], "x": 340, "y": 80, "wires": []},
    ]


_SETTINGS = """
module.exports = {
    uiPort: __PORT__,
    uiHost: "127.0.0.1",
    httpAdminRoot: false,
    httpNodeRoot: false,
    flowFile: "flows.json",
    credentialSecret: false,
    functionGlobalContext: { pg: require(__PG__) },
    logging: { console: { level: "info", metrics: false, audit: false } },
};
"""


def install_nodered(folder: Path) -> Path:
    """node-red@4 and pg@8 from the npm registry into ``folder`` (kept for the next run); red.js."""
    red = folder / "node_modules" / "node-red" / "red.js"
    if red.exists() and (folder / "node_modules" / "pg").exists():
        return red
    npm = shutil.which("npm")
    if not npm:
        raise SystemExit("npm not found: install Node.js 18+ (Node-RED 4 needs it) to run this bench")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"installing node-red@4 and pg@8 into {folder} (npm)", flush=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(folder),
                    "node-red@4", "pg@8"], check=True)
    return red


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeRed:
    """One Node-RED process running one flow, its own user folder under ``base``."""

    def __init__(self, red: Path, base: Path, broker_port: int, root: str, db_url: str, ids: dict[str, int],
                 batched: bool):
        self.user = Path(tempfile.mkdtemp(prefix="user-", dir=base))
        pg_mod = red.parent.parent / "pg"
        (self.user / "settings.js").write_text(_SETTINGS.replace("__PORT__", str(_free_port()))
                                               .replace("__PG__", json.dumps(str(pg_mod))))
        dsn = sa.engine.make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        (self.user / "flows.json").write_text(json.dumps(nodered_flows(broker_port, root, dsn, ids, batched)))
        node = shutil.which("node") or "node"
        self.proc = subprocess.Popen([node, str(red), "--userDir", str(self.user), "--settings",
                                      str(self.user / "settings.js")], cwd=self.user, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + 90
        while not any("Connected to broker" in ln for ln in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("Node-RED did not start:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.1)
        time.sleep(1.0)  # the subscription follows the connection

    def _pump(self) -> None:
        for ln in self.proc.stdout:
            self.lines.append(ln.rstrip())

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)

    def errors(self) -> list[str]:
        quiet = ("Projects disabled", "unencrypted credentials")
        return [ln for ln in self.lines if ("[error]" in ln or "[warn]" in ln) and not any(q in ln for q in quiet)][-3:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.user, ignore_errors=True)


# --- one run ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    system: str
    case: str
    readings: int
    stored: int = 0
    distinct: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    complete: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.readings - self.distinct

    @property
    def duplicates(self) -> int:
        return self.stored - self.distinct


class CommitPoller(threading.Thread):
    """Notes when each planned ``ts`` (µs) is first seen committed in ``table`` (polls about every ms)."""

    def __init__(self, dsn: str, table: str, planned_us: list[int], sensor_ids: list[int]):
        super().__init__(daemon=True)
        self.dsn, self.planned = dsn, sorted(planned_us)
        self.pending = set(self.planned)
        self.seen: dict[int, float] = {}
        self.sql = (f"SELECT (extract(epoch FROM ts) * 1000000)::bigint FROM {table} "
                    "WHERE sensor_id = ANY(%s) AND ts >= to_timestamp(%s::float8 / 1000000)")
        self.ids = sensor_ids
        self.done = threading.Event()

    def run(self) -> None:
        ptr = 0
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cur = conn.cursor()
            while not self.done.is_set() and ptr < len(self.planned):
                t = time.time()
                cur.execute(self.sql, (self.ids, self.planned[ptr] - 2), prepare=True)
                for (us,) in cur.fetchall():
                    for k in (us, us - 1, us + 1):  # float rounding of a ms timestamp with a µs fraction
                        if k in self.pending:
                            self.pending.discard(k)
                            self.seen[k] = t
                            break
                while ptr < len(self.planned) and self.planned[ptr] not in self.pending:
                    ptr += 1
                time.sleep(0.001)


def latency_messages(root: str, site: str, sensors: list[dict], n: int, rate: float, t0: float):
    """n single readings whose ts is the planned send time (t0 + i / rate), over at most 20 sensors."""
    use = sensors[:20]
    msgs, planned = [], []
    for i in range(n):
        s = use[i % len(use)]
        us = round(t0 * 1e6 + i * 1e6 / rate)
        planned.append(us)
        payload = b'{"ts":%.3f,"value":%.3f,"unit":"%s"}' % (us / 1000.0, s["typical"], s["unit"].encode())
        msgs.append(encode_publish(f"{root}/{site}/HALL/-/{s['code']}/telemetry", payload))
    return msgs, planned, use


def sensor_ids(url: str, site: str) -> dict[str, int]:
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        rows = conn.execute(sa.text("SELECT s.code, s.id FROM sensor s JOIN site ON site.id = s.site_id "
                                    "WHERE site.code = :c"), {"c": site}).all()
    eng.dispose()
    return {f"{site}/{code}": sid for code, sid in rows}


def run_one(a, server: str, mqtt_url: str, red: Path | None, system: str, case: str) -> Result:
    """system: qhse | nodered | nodered-batched; case: single | gateway | latency."""
    from ingestion.mqtt import parse_mqtt_url

    addr = parse_mqtt_url(mqtt_url)
    url = make_database(server)
    root = f"qhse-peer-{uuid.uuid4().hex[:8]}"
    table = "sensor_reading" if system == "qhse" else "nodered_reading"
    try:
        site, sensors = make_sensors(url, a.sensors)
        ids = sensor_ids(url, site)
        dsn = libpq_dsn(url)
        if system != "qhse":
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(NODERED_TABLE)
        planned: list[int] = []
        if case == "latency":
            k = int(a.rate * a.latency_s)
            t0 = time.time() + 60.0  # replaced below, once the consumer is up
            msgs = None
        else:
            k = a.single if case == "single" else a.gateway * 100
            msgs = build_messages(root, site, sensors, k, case, 100)
        res = Result(system, case, k)
        with tempfile.TemporaryDirectory(prefix="qhse-peer-") as data_dir:
            if system == "qhse":
                proc, lines = start_consumers(url, mqtt_url, root, 1, data_dir, f"peer{uuid.uuid4().hex[:6]}",
                                              a.ingest_args)
                pids = process_tree(proc.pid)
            else:
                nr = NodeRed(red, Path(a.nodered_dir), addr.port, root, url, ids, system == "nodered-batched")
                pids = nr.pids()
            try:
                gen = LoadGenerator(addr.host, addr.port, connections=1 if case == "latency" else a.connections)
                poller = None
                if case == "latency":
                    t0 = time.time() + 0.5
                    msgs, planned, used = latency_messages(root, site, sensors, k, a.rate, t0)
                    poller = CommitPoller(dsn, table, planned, [ids[f"{site}/{s['code']}"] for s in used])
                    poller.start()
                    time.sleep(max(0.0, t0 - time.time()))
                load: dict = {}
                th = threading.Thread(target=lambda: load.setdefault(
                    "r", gen.run(msgs, rate=a.rate if case == "latency" else None)))
                cpu0 = cpu_seconds(pids)
                th.start()
                landed, last_n, last_change, t_done = 0, -1, time.monotonic(), None
                with psycopg.connect(dsn, autocommit=True) as conn:
                    while True:
                        time.sleep(0.05)
                        landed = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                        now = time.monotonic()
                        if landed != last_n:
                            last_n, last_change = landed, now
                        if landed >= k:
                            t_done = time.time()
                            break
                        if not th.is_alive() and now - last_change > a.quiet:
                            break
                cpu1 = cpu_seconds(pids)
                th.join()
                lr = load["r"]
                gen.close()
                if poller is not None:
                    poller.join(5)
                    poller.done.set()
                    res.latencies_ms = sorted((poller.seen[us] - us / 1e6) * 1000.0 for us in planned
                                              if us in poller.seen)
                time.sleep(0.5)  # anything still on its way (a duplicate would land now)
                with psycopg.connect(dsn, autocommit=True) as conn:
                    res.stored, res.distinct = conn.execute(
                        f"SELECT count(*), count(DISTINCT (sensor_id, ts)) FROM {table}").fetchone()
                res.complete = t_done is not None
                res.seconds = (t_done or time.time()) - lr.first_send
                res.cpu_s = cpu1 - cpu0
                if lr.refused:
                    res.notes.append(f"broker refused {lr.refused}")
                if system != "qhse":
                    res.notes += nr.errors()
                else:
                    res.notes += [ln for ln in lines if "error" in ln.lower()][-3:]
            finally:
                if system == "qhse":
                    stop_consumers(proc)
                else:
                    nr.stop()
        return res
    finally:
        drop_database(server, url)


# --- the table ----------------------------------------------------------------------------------------------


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, round(p / 100.0 * (len(xs) - 1)))]


def _slower(q: float, other: float) -> str:
    """Node-RED's throughput relative to QHSE's."""
    if not (q > 0 and other > 0):
        return ""
    f = q / other
    return f"{f:.1f}x slower" if f >= 1 else f"{1 / f:.1f}x faster"


def _lost(rs: list[Result]) -> str:
    return f"lost {sum(r.lost for r in rs):,}, dup {sum(r.duplicates for r in rs):,}" + (
        "" if all(r.complete for r in rs) else " INCOMPLETE")


def table(results: dict[tuple[str, str], list[Result]], a) -> str:
    systems = ["qhse", "nodered", "nodered-batched"]

    def get(s, c):
        return results.get((s, c), [])

    def rng(vals: list[float], fmt: str) -> str:
        if not vals:
            return "—"
        lo, hi = min(vals), max(vals)
        return fmt.format(lo) if abs(hi - lo) < 1e-9 else fmt.format(lo) + "-" + fmt.format(hi)

    def mean(vals):
        return sum(vals) / len(vals) if vals else float("nan")

    rows = []
    # throughput
    for case, unit, div in (("single", "msg/s", 1), ("gateway", "readings/s", 1)):
        cells = []
        q = [r.distinct / r.seconds / div for r in get("qhse", case) if r.seconds > 0]
        for s in systems:
            rs = get(s, case)
            if not rs:
                cells.append("—")
                continue
            v = [r.distinct / r.seconds / div for r in rs if r.seconds > 0]
            text = f"{rng([x / 1000 for x in v], '{:.1f}')}k {unit}"
            if s != "qhse":
                text += f" ({_slower(mean(q), mean(v))})"
            cells.append(f"{text}; {_lost(rs)}")
        label = ("single, as fast as possible" if case == "single"
                 else "gateway x100, as fast as possible")
        rows.append([label] + cells)
    # latency
    cells = []
    q99 = mean([_pct(r.latencies_ms, 99) for r in get("qhse", "latency")])
    for s in systems:
        rs = get(s, "latency")
        if not rs:
            cells.append("—")
            continue
        p50 = [_pct(r.latencies_ms, 50) for r in rs]
        p99 = [_pct(r.latencies_ms, 99) for r in rs]
        text = f"{rng(p50, '{:.1f}')} / {rng(p99, '{:.1f}')} ms"
        if s != "qhse":
            text += f" (p99 {mean(p99) / q99:.1f}x QHSE's)" if q99 > 0 else ""
        cells.append(f"{text}; {_lost(rs)}")
    rows.append([f"latency p50 / p99 at {a.rate:,.0f} msg/s"] + cells)
    # CPU: as fast as possible, and at the latency runs' rate (one transaction per few readings)
    for case, label in (("single", "consumer CPU per 100k single readings"),
                        ("latency", f"consumer CPU per 100k single readings at {a.rate:,.0f} msg/s")):
        cells = []
        qc = mean([r.cpu_s * 1e5 / max(1, r.distinct) for r in get("qhse", case)])
        for s in systems:
            rs = get(s, case)
            if not rs:
                cells.append("—")
                continue
            v = [r.cpu_s * 1e5 / max(1, r.distinct) for r in rs]
            text = f"{rng(v, '{:.2f}')} s"
            if s != "qhse":
                text += f" ({mean(v) / qc:.1f}x QHSE)" if qc > 0 else ""
            cells.append(text)
        rows.append([label] + cells)
    head = ["case", "QHSE (qhse ingest)", "Node-RED one INSERT per message", "Node-RED batched (100 or 1 s)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--single", type=int, default=30_000, help="single-reading messages per throughput run")
    ap.add_argument("--gateway", type=int, default=3_000, help="gateway batches of 100 per throughput run")
    ap.add_argument("--rate", type=float, default=1000.0, help="msg/s of the latency runs")
    ap.add_argument("--latency-s", type=float, default=10.0, help="seconds of each latency run")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds of every case")
    ap.add_argument("--cases", nargs="+", default=["single", "gateway", "latency"],
                    choices=["single", "gateway", "latency"])
    ap.add_argument("--systems", nargs="+", default=["qhse", "nodered", "nodered-batched"],
                    choices=["qhse", "nodered", "nodered-batched"])
    ap.add_argument("--sensors", type=int, default=500)
    ap.add_argument("--connections", type=int, default=16, help="publisher connections of the throughput runs")
    ap.add_argument("--broker-conf", type=Path, default=ROOT / "deploy" / "mosquitto.conf")
    ap.add_argument("--nodered-dir", default="/tmp/qhse-bench-nodered",
                    help="scratch folder for the Node-RED install and its flows (never part of the product)")
    ap.add_argument("--quiet", type=float, default=15.0, help="stop waiting after this many seconds without progress")
    ap.add_argument("--json", action="store_true", help="also print every run as JSON")
    ap.add_argument("ingest_args", nargs="*", help="extra arguments for qhse ingest (after --)")
    a = ap.parse_args()
    server = server_url()
    red = install_nodered(Path(a.nodered_dir)) if any(s != "qhse" for s in a.systems) else None
    version = ""
    if red is not None:
        version = json.loads((red.parent / "package.json").read_text())["version"]
    tmp = tempfile.TemporaryDirectory(prefix="qhse-peer-broker-")
    broker, mqtt_url = start_broker(a.broker_conf, Path(tmp.name))
    load0 = os.getloadavg()
    print(f"mosquitto ({a.broker_conf.name}, anonymous on loopback) {mqtt_url}; PostgreSQL "
          f"{sa.engine.make_url(server).render_as_string(hide_password=True)}; Node-RED {version or '-'}; "
          f"{os.cpu_count()} CPUs; load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}", flush=True)
    results: dict[tuple[str, str], list[Result]] = {}
    try:
        for rnd in range(a.rounds):
            for case in a.cases:
                order = a.systems if rnd % 2 == 0 else list(reversed(a.systems))
                for system in order:
                    r = run_one(a, server, mqtt_url, red, system, case)
                    results.setdefault((system, case), []).append(r)
                    extra = ""
                    if r.latencies_ms:
                        extra = (f", p50 {_pct(r.latencies_ms, 50):.1f} ms, p99 {_pct(r.latencies_ms, 99):.1f} ms, "
                                 f"max {r.latencies_ms[-1]:.1f} ms")
                    print(f"  round {rnd + 1} {case:<8} {system:<16} {r.distinct:,}/{r.readings:,} readings in "
                          f"{r.seconds:.2f} s ({r.distinct / max(1e-9, r.seconds):,.0f}/s){extra}; "
                          f"CPU {r.cpu_s:.2f} s; "
                          f"lost {r.lost:,}, duplicates {r.duplicates:,}"
                          + ("" if r.complete else " [INCOMPLETE]")
                          + (f"; load {os.getloadavg()[0]:.2f}"), flush=True)
                    for n in r.notes:
                        print("     ", n[:200], flush=True)
                    if a.json:
                        print(json.dumps({"system": system, "case": case, "readings": r.readings, "stored": r.stored,
                                          "distinct": r.distinct, "seconds": r.seconds, "cpu_s": r.cpu_s,
                                          "p50_ms": _pct(r.latencies_ms, 50), "p99_ms": _pct(r.latencies_ms, 99)}))
    finally:
        broker.terminate()
        broker.wait(30)
        tmp.cleanup()
    load1 = os.getloadavg()
    print()
    print(f"single: {a.single:,} messages, gateway: {a.gateway:,} x 100 readings, latency: {a.latency_s:g} s at "
          f"{a.rate:,.0f} msg/s; {a.rounds} round(s); {os.cpu_count()} CPUs, load average {load0[0]:.2f} at start, "
          f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} at end")
    print(table(results, a), flush=True)


if __name__ == "__main__":
    main()
