"""Alarm latency: from publishing an excursion to the committed alarm row and to the MQTT alert.

    python bench/alarm_latency.py                        # 200 excursions on an idle stream
    python bench/alarm_latency.py --background 5000      # while 5,000 other readings/s flow

A scratch database (on ``QHSE_TEST_DATABASE_URL``, else ``QHSE_DATABASE_URL``) gets one
plant with the default alarm rules; ``qhse ingest`` runs as its own process on the broker
(``QHSE_TEST_MQTT_URL``, default mqtt://127.0.0.1:1883).  Each round publishes one solvent
vapour reading of 150 ppm (rule "Solvent vapour high", > 100 ppm, no hold time), waits for

* the alarm row: ``NOTIFY qhse_alarms`` is sent in the transaction that inserts the row,
  so its arrival on a listening connection is the moment the row became visible;
* the alert on MQTT ``<root>/<site>/alarms``;

then publishes 10 ppm to clear it.  Prints p50/p90/p99/max of both latencies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench._loadgen import LoadGenerator, encode_publish  # noqa: E402
from bench.ingest_throughput import (  # noqa: E402
    drop_database,
    make_database,
    make_sensors,
    server_url,
    start_consumers,
    stop_consumers,
)


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--background", type=float, default=0.0, help="other readings/s published meanwhile")
    ap.add_argument("--sensors", type=int, default=200)
    ap.add_argument("--mqtt-url", default=os.environ.get("QHSE_TEST_MQTT_URL") or os.environ.get("QHSE_MQTT_URL")
                    or "mqtt://127.0.0.1:1883")
    ap.add_argument("ingest_args", nargs="*", help="extra arguments for qhse ingest (after --)")
    a = ap.parse_args()

    import paho.mqtt.client as mqtt

    from db.engine import libpq_dsn
    from ingestion.mqtt import parse_mqtt_url

    server = server_url()
    url = make_database(server)
    root = f"qhse-bench-{uuid.uuid4().hex[:8]}"
    addr = parse_mqtt_url(a.mqtt_url)
    try:
        site, sensors = make_sensors(url, a.sensors)
        voc = next(s for s in sensors if s["code"].endswith("-voc"))
        others = [s for s in sensors if s is not voc]
        topic = f"{root}/{site}/HALL/-/{voc['code']}/telemetry"

        listen = psycopg.connect(libpq_dsn(url), autocommit=True)
        listen.execute("LISTEN qhse_alarms")
        row_at: dict[int, float] = {}
        row_ev = threading.Condition()
        stop = threading.Event()

        def listener():
            while not stop.is_set():
                for n in listen.notifies(timeout=0.2, stop_after=100):
                    t = time.time()
                    d = json.loads(n.payload)
                    with row_ev:
                        row_at.setdefault(d["alarm_id"] * 10 + (d["event"] == "cleared"), t)
                        row_ev.notify_all()

        mqtt_at: dict[int, float] = {}
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-alerts-{uuid.uuid4().hex[:6]}",
                          protocol=mqtt.MQTTv311)

        def on_message(c, u, msg):
            t = time.time()
            d = json.loads(msg.payload)
            with row_ev:
                mqtt_at.setdefault(d["alarm_id"] * 10 + (d["event"] == "cleared"), t)
                row_ev.notify_all()

        sub.on_message = on_message
        sub.connect(addr.host, addr.port)
        sub.loop_start()
        sub.subscribe(f"{root}/{site}/alarms", qos=1)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}",
                          protocol=mqtt.MQTTv311)
        pub.connect(addr.host, addr.port)
        pub.loop_start()
        th = threading.Thread(target=listener, daemon=True)
        th.start()

        with tempfile.TemporaryDirectory(prefix="qhse-bench-") as data_dir:
            proc, lines = start_consumers(url, a.mqtt_url, root, 1, data_dir, f"bench{uuid.uuid4().hex[:6]}",
                                          a.ingest_args)
            bg_stop = threading.Event()
            bg_thread = None
            if a.background > 0:
                def background():
                    gen = LoadGenerator(addr.host, addr.port, connections=8, prefix="bench-bg")
                    k = 0
                    while not bg_stop.is_set():
                        t0 = time.time() * 1000.0
                        msgs = []
                        for i in range(int(a.background)):
                            s = others[(k + i) % len(others)]
                            msgs.append(encode_publish(
                                f"{root}/{site}/HALL/-/{s['code']}/telemetry",
                                b'{"ts":%.3f,"value":%.3f,"unit":"%s"}' % (t0 + i * 1000.0 / a.background,
                                                                           s["typical"], s["unit"].encode())))
                        k += len(msgs)
                        gen.run(msgs, rate=a.background)
                    gen.close()

                bg_thread = threading.Thread(target=background, daemon=True)
                bg_thread.start()
                time.sleep(2.0)
            to_row, to_mqtt, clear_row = [], [], []
            misses = 0
            eng = sa.create_engine(url)
            try:
                last_ms = 0.0
                done: set[int] = set()

                def wait_for_event(kind: int, t_pub: float) -> int | None:
                    """Key of the new alarm event of this kind (0 raised, 1 cleared), with its MQTT alert for raises."""
                    deadline = time.monotonic() + 10
                    with row_ev:
                        while True:
                            keys = [k for k, t in row_at.items() if k % 10 == kind and k not in done and t >= t_pub]
                            if keys and (kind == 1 or keys[0] in mqtt_at):
                                done.add(keys[0])
                                return keys[0]
                            left = deadline - time.monotonic()
                            if left <= 0:
                                return None
                            row_ev.wait(left)

                for _ in range(a.rounds):
                    for value, kind in ((150.0, 0), (10.0, 1)):
                        ts = max(time.time() * 1000.0, last_ms + 1)
                        last_ms = ts
                        t_pub = time.time()
                        pub.publish(topic, json.dumps({"ts": ts, "value": value, "unit": "ppm"}), qos=1)
                        key = wait_for_event(kind, t_pub)
                        if key is None:
                            misses += 1
                            continue
                        if kind == 0:
                            to_row.append(row_at[key] - t_pub)
                            to_mqtt.append(mqtt_at[key] - t_pub)
                        else:
                            clear_row.append(row_at[key] - t_pub)
                        time.sleep(random.uniform(0.05, 0.25))
                with eng.connect() as conn:
                    n_alarms = conn.execute(sa.text("SELECT count(*) FROM alarm")).scalar()
            finally:
                bg_stop.set()
                if bg_thread is not None:
                    bg_thread.join(30)
                stop_consumers(proc)
                eng.dispose()
        stop.set()
        th.join(5)
        listen.close()
        sub.disconnect()
        pub.disconnect()
        print(f"broker {a.mqtt_url}, {a.rounds} excursions, background {a.background:,.0f} readings/s, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; alarm rows {n_alarms}, misses {misses}")
        for name, xs in (("publish -> alarm row committed", to_row), ("publish -> MQTT alert received", to_mqtt),
                         ("publish -> alarm cleared (row)", clear_row)):
            ms = [x * 1000 for x in xs]
            print(f"  {name:<32} n={len(ms):<4} p50 {pct(ms, 50):7.1f} ms  p90 {pct(ms, 90):7.1f} ms  "
                  f"p99 {pct(ms, 99):7.1f} ms  max {max(ms) if ms else float('nan'):7.1f} ms")
    finally:
        drop_database(server, url)


if __name__ == "__main__":
    main()
