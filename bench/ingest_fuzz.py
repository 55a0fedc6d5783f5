"""Fuzz the ingestion pipeline end to end: malformed payloads interleaved with numbered valid readings.

Publishes ``--bad`` malformed messages (every poison timestamp form, lax types, bad JSON,
wrong units, unknown sensors, out-of-range values, huge payloads, random bytes, ...)
interleaved with ``--good`` numbered valid readings (single and gateway topics) to the real
broker, through a real ``qhse ingest`` process, into a fresh database on the real
PostgreSQL.  Then checks that every valid reading is stored exactly once and every bad
message is one dead letter with a reason, and prints a table (stored, duplicates, dead
letters by reason, consumer RSS at start / middle / end).

    QHSE_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
    QHSE_TEST_MQTT_URL=mqtt://127.0.0.1:1883 .venv/bin/python bench/ingest_fuzz.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

POISON_TS = ["NaN", "Infinity", "-Infinity", "1e20", "-1e20", "1e306", "1e400", "123456789012345678901234567890",
             '"0000-01-01T00:00:00Z"', '"10000-01-01T00:00:00Z"', '"0001-01-01T00:00:00+23:00"',
             '"9999-12-31T23:59:59-23:00"', "true", "false", '"1767225600000"', '"2026-01-01T00:00:00"']


def bad_messages(plant, n: int, seed: int = 7) -> list[tuple[str, bytes, str]]:
    """(topic, payload, kind) of ``n`` malformed messages, each worth exactly one dead letter."""
    rnd = random.Random(seed)
    voc, vib = plant.sensors["voc"], plant.sensors["m_vibration"]
    t_voc, gw = plant.topic("voc"), plant.gateway
    now = int(time.time() * 1000)

    def single(body: str) -> bytes:
        return ('{"unit": "ppm", ' + body + "}").encode()

    def gw_one(reading: str) -> bytes:
        return ('{"' + vib.code + '": [' + reading + "]}").encode()

    makers = []
    for p in POISON_TS:
        makers.append(("poison_ts", lambda p=p: (t_voc, single(f'"value": 1, "ts": {p}'))))
        makers.append(("poison_ts_gw", lambda p=p: (gw, gw_one(f'{{"value": 1, "unit": "mm/s", "ts": {p}}}'))))
    for v in ('"5.5"', "true", "false", "null", '"high"', "[1]"):
        makers.append(("lax_value", lambda v=v: (t_voc, single(f'"value": {v}'))))
        makers.append(("lax_value_gw", lambda v=v: (gw, gw_one(f'{{"value": {v}, "unit": "mm/s"}}'))))
    for q in ("true", '"1"', "1.0", "7", "-1"):
        makers.append(("lax_quality", lambda q=q: (t_voc, single(f'"value": 1, "quality": {q}'))))
    makers += [
        ("bad_json", lambda: (t_voc, b"{'value': 1}")),
        ("bad_json", lambda: (t_voc, single('"value": 1')[:-3])),
        ("bad_json", lambda: (gw, b'{"' + vib.code.encode() + b'": [{"value": 1,')),
        ("bad_json", lambda: (t_voc, b"\xff\xfe\x00garbage")),
        ("not_object", lambda: (t_voc, b"[1, 2, 3]")),
        ("not_object", lambda: (gw, b'"x"')),
        ("not_object", lambda: (gw, b"null")),
        ("empty_gateway", lambda: (gw, b"{}")),
        ("wrong_unit", lambda: (t_voc, b'{"value": 1, "unit": "mg/m3"}')),
        ("wrong_unit_gw", lambda: (gw, gw_one('{"value": 1, "unit": "in/s"}'))),
        ("unknown_sensor", lambda: (f"{plant.root}/{plant.site}/CHEM/-/{plant.site}-CHEM-nope/telemetry",
                                    b'{"value": 1, "unit": "ppm"}')),
        ("unknown_sensor_gw", lambda: (gw, b'{"NOPE-1": [{"value": 1, "unit": "ppm"}]}')),
        ("value_out_of_range", lambda: (t_voc, single(f'"value": {voc.hi * 10 + 1}'))),
        ("ts_too_old", lambda: (t_voc, single(f'"value": 1, "ts": {now // 1000}'))),  # seconds, not ms
        ("extra_key", lambda: (t_voc, single('"value": 1, "vaule": 2'))),
        ("missing_unit", lambda: (t_voc, b'{"value": 1}')),
        ("topic_mismatch", lambda: (f"{plant.root}/{plant.site}/MILL/-/{voc.code}/telemetry",
                                    b'{"value": 1, "unit": "ppm"}')),
        ("deep_json", lambda: (t_voc, b"[" * 5000 + b"]" * 5000)),
        ("huge_int", lambda: (t_voc, single('"value": 1, "ts": ' + "9" * 5000))),
        ("random_bytes", lambda: (t_voc, rnd.randbytes(rnd.randint(0, 300)))),
        ("random_bytes_gw", lambda: (gw, rnd.randbytes(rnd.randint(1, 300)))),
    ]
    huge = ("huge", lambda: (t_voc, b'{"value": 1, "unit": "ppm", "pad": "' + b"x" * (1 << 20) + b'"}'))
    out = []
    for i in range(n):
        kind, make = huge if i % 500 == 250 else makers[i % len(makers)]
        topic, payload = make()
        out.append((topic, payload, kind))
    rnd.shuffle(out)
    return out


def good_messages(plant, n: int, t0_ms: int) -> list[tuple[str, bytes, int]]:
    """(topic, payload, number) of ``n`` valid readings; reading k has ts t0 + k ms (single or gateway)."""
    voc, vib = plant.sensors["voc"], plant.sensors["m_vibration"]
    out = []
    for k in range(n):
        if k % 2:
            out.append((plant.topic("voc"), json.dumps({"ts": t0_ms + k, "value": 12.0, "unit": voc.unit}).encode(), k))
        else:
            out.append((plant.gateway, json.dumps({vib.code: [{"ts": t0_ms + k, "value": 2.0, "unit": vib.unit,
                                                                "quality": k % 3}]}).encode(), k))
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_fuzz(db_url: str, mqtt_url: str, n_bad: int, n_good: int, work: Path, seed: int = 7,
             timeout: float = 300.0) -> dict:
    from tests.ingest_fixtures import (
        Publisher,
        make_plant,
        start_ingest,
        unique,
        wait_for,
    )

    engine = sa.create_engine(db_url)
    plant = make_plant(engine)
    ids = [plant.sensors["voc"].id, plant.sensors["m_vibration"].id]
    t0 = int(time.time() * 1000) - 3_600_000
    bad = bad_messages(plant, n_bad, seed)
    good = good_messages(plant, n_good, t0)
    stream: list[tuple[str, bytes]] = []
    gi = bi = 0
    rnd = random.Random(seed)
    while gi < len(good) or bi < len(bad):  # interleaved in proportion
        if bi >= len(bad) or (gi < len(good) and rnd.random() < len(good) / (len(good) + len(bad))):
            stream.append(good[gi][:2])
            gi += 1
        else:
            stream.append(bad[bi][:2])
            bi += 1
    log = work / "ingest.log"
    proc = start_ingest(db_url, mqtt_url, plant.root, unique("qhse-fuzz-"), work, log_path=log)
    pub = Publisher(mqtt_url)
    rss: dict[str, float] = {}
    try:
        if not wait_for(lambda: log.exists() and "subscribed to" in log.read_text(errors="replace"), 60):
            raise RuntimeError("consumer did not subscribe: " + log.read_text(errors="replace")[-2000:])
        rss["start"] = rss_mb(proc.pid)
        t_start = time.perf_counter()
        for i, (topic, payload) in enumerate(stream):
            pub.publish(topic, payload)
            if i % 200 == 199:
                pub.flush()
            if i == len(stream) // 2:
                pub.flush()
                rss["middle"] = rss_mb(proc.pid)
        pub.flush()

        def counts():
            with engine.connect() as conn:
                n, distinct = conn.execute(sa.text("SELECT count(*), count(DISTINCT (sensor_id, ts)) "
                                                   "FROM sensor_reading WHERE sensor_id = ANY(:s)"), {"s": ids}).one()
                dead = conn.execute(sa.text("SELECT count(*) FROM dead_letter WHERE topic LIKE :t"),
                                    {"t": plant.root + "/%"}).scalar()
            return n, distinct, dead

        wait_for(lambda: (c := counts())[0] >= n_good and c[2] >= n_bad, timeout, every=0.5)
        time.sleep(1.5)  # anything late (a duplicate, an extra dead letter) shows up now
        seconds = time.perf_counter() - t_start
        rss["end"] = rss_mb(proc.pid)
        n, distinct, dead = counts()
        with engine.connect() as conn:
            reasons = dict(conn.execute(sa.text("SELECT reason, count(*) FROM dead_letter WHERE topic LIKE :t "
                                                "GROUP BY reason ORDER BY 2 DESC"),
                                        {"t": plant.root + "/%"}).fetchall())
            empty = conn.execute(sa.text("SELECT count(*) FROM dead_letter WHERE topic LIKE :t AND "
                                         "(coalesce(reason, '') = '' OR coalesce(detail, '') = '')"),
                                 {"t": plant.root + "/%"}).scalar()
            stored = set(conn.execute(sa.text("SELECT (extract(epoch FROM ts) * 1000)::bigint - :t0 "
                                              "FROM sensor_reading WHERE sensor_id = ANY(:s)"),
                                      {"s": ids, "t0": t0}).scalars())
    finally:
        pub.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        engine.dispose()
    return {"good": n_good, "bad": n_bad, "stored": n, "distinct": distinct, "duplicates": n - distinct,
            "missing": n_good - len(stored & set(range(n_good))), "dead_letters": dead, "dead_without_reason": empty,
            "reasons": reasons, "bad_kinds": dict(Counter(k for _, _, k in bad)), "rss_mb": rss,
            "seconds": seconds, "consumer_exit": proc.returncode, "log": str(log)}


def table(r: dict) -> str:
    lines = [f"{'figure':<34}{'value':>12}", "-" * 46]
    for k in ("good", "bad", "stored", "duplicates", "missing", "dead_letters", "dead_without_reason"):
        lines.append(f"{k:<34}{r[k]:>12,}")
    lines.append(f"{'seconds (publish to all stored)':<34}{r['seconds']:>12.1f}")
    for k, v in r["rss_mb"].items():
        lines.append(f"{'consumer RSS MB, ' + k:<34}{v:>12.1f}")
    lines.append("dead letters by reason:")
    for k, v in r["reasons"].items():
        lines.append(f"  {k:<32}{v:>12,}")
    ok = r["stored"] == r["good"] and r["duplicates"] == 0 and r["missing"] == 0 and r["dead_letters"] == r["bad"] \
        and r["dead_without_reason"] == 0
    lines.append(f"result: {'OK' if ok else 'FAILED'}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bad", type=int, default=10_000)
    ap.add_argument("--good", type=int, default=3_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    server = os.environ.get("QHSE_TEST_DATABASE_URL") or sys.exit("set QHSE_TEST_DATABASE_URL")
    mqtt_url = os.environ.get("QHSE_TEST_MQTT_URL") or sys.exit("set QHSE_TEST_MQTT_URL")
    if server.startswith("postgresql://"):
        server = "postgresql+psycopg://" + server[len("postgresql://"):]
    from tests.conftest import DatabaseFactory

    factory = DatabaseFactory(server)
    db_url = factory.create(prefix="qhse_bench")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            r = run_fuzz(db_url, mqtt_url, a.bad, a.good, Path(tmp), a.seed)
    finally:
        factory.drop_all()
    print(table(r))
    sys.exit(0 if r["stored"] == r["good"] and r["duplicates"] == 0 and r["dead_letters"] == r["bad"] else 1)


if __name__ == "__main__":
    main()
