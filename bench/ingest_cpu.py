"""Consumer CPU per reading, thread by thread, with the consumer in this process.

    python bench/ingest_cpu.py                        # 100,000 single readings as fast as possible
    python bench/ingest_cpu.py --readings 10000 --rate 1000

A scratch database on ``QHSE_TEST_DATABASE_URL`` with one plant of 500 sensors, a private
Mosquitto with deploy/mosquitto.conf (anonymous on loopback, as bench/ingest_throughput.py
--broker-conf), a ``Consumer`` started in this process, the load from bench/_loadgen.py.
The CPU time (user and system, from /proc) of the consumer's own threads (network, decoder,
writer) is counted, not the publisher's: steadier than timing a whole process on a busy
machine.  Also printed: the batches (count, mean size, flush reasons).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._loadgen import LoadGenerator  # noqa: E402
from bench.ingest_throughput import (  # noqa: E402
    build_messages,
    drop_database,
    make_database,
    make_sensors,
    server_url,
    start_broker,
)

_TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(tid: int) -> tuple[float, float]:
    raw = Path(f"/proc/self/task/{tid}/stat").read_text()
    f = raw[raw.rindex(")") + 2:].split()
    return int(f[11]) / _TICK, int(f[12]) / _TICK


def main() -> None:
    from ingestion.consumer import Consumer, ConsumerConfig
    from ingestion.mqtt import parse_mqtt_url

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readings", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=0.0, help="msg/s; 0 = as fast as the broker acknowledges")
    ap.add_argument("--mode", choices=["single", "gateway"], default="single")
    ap.add_argument("--broker-conf", type=Path, default=ROOT / "deploy" / "mosquitto.conf")
    a = ap.parse_args()
    server = server_url()
    tmp = tempfile.TemporaryDirectory(prefix="qhse-cpu-")
    broker, mqtt_url = start_broker(a.broker_conf, Path(tmp.name))
    url = make_database(server)
    try:
        site, sensors = make_sensors(url, 500)
        root = f"qhse-cpu-{uuid.uuid4().hex[:6]}"
        msgs = build_messages(root, site, sensors, a.readings, a.mode, 100)
        addr = parse_mqtt_url(mqtt_url)
        c = Consumer(ConsumerConfig(mqtt_url=mqtt_url, database_url=url, spool_dir=Path(tmp.name) / "spool",
                                    root=root, share_group=None, client_id=f"qhse-cpu-{uuid.uuid4().hex[:6]}",
                                    session_expiry_s=60))
        c.start()
        if not c.wait_subscribed(20):
            raise SystemExit("the consumer did not subscribe")
        time.sleep(1.0)
        threads = {"network": c.client._thread.native_id, "decoder": c._decoder_thread.native_id,
                   "writer": c._writer.native_id}
        gen = LoadGenerator(addr.host, addr.port, connections=16)
        before = {k: thread_cpu(t) for k, t in threads.items()}
        t0 = time.time()
        gen.run(msgs, rate=(a.rate / (100 if a.mode == "gateway" else 1)) or None)
        while c.stats()["readings"] < a.readings and time.time() - t0 < 300:
            time.sleep(0.01)
        t1 = time.time()
        after = {k: thread_cpu(t) for k, t in threads.items()}
        st = c.stats()
        gen.close()
        c.stop()
        n = max(1, st["readings"])
        total = sum(sum(after[k]) - sum(before[k]) for k in threads)
        print(f"{st['readings']:,}/{a.readings:,} {a.mode} readings in {t1 - t0:.2f} s "
              f"({st['readings'] / (t1 - t0):,.0f}/s, offered {a.rate or 'as fast as possible'}); "
              f"consumer threads CPU {total:.2f} s = {total / n * 1e6:.1f} us/reading; load average "
              f"{os.getloadavg()[0]:.2f}")
        for k in threads:
            u, s = after[k][0] - before[k][0], after[k][1] - before[k][1]
            print(f"  {k:<8} user {u:.2f} s, system {s:.2f} s ({(u + s) / n * 1e6:.1f} us/reading)")
        b = st["batching"]
        print(f"  batches {b['batches']:,}, mean {b['mean_size']} messages, largest {b['largest']:,}, "
              f"flushes {b['flushes']}")
    finally:
        drop_database(server, url)
        broker.terminate()
        broker.wait(30)
        tmp.cleanup()


if __name__ == "__main__":
    main()
