"""Adaptive batching: the flush rule alone (no clock), and the consumer against the real broker
and PostgreSQL writing a reading on a quiet line at once, whatever the batch window."""

from __future__ import annotations

import bisect
import time

import sqlalchemy as sa

from ingestion.batching import (
    FULL,
    IDLE,
    STOP,
    WINDOW,
    BatchStats,
    flush_reason,
    size_bucket,
)

from .ingest_fixtures import (
    Publisher,
    consumer_config,
    count_readings,
    make_plant,
    now_ms,
    reading,
    start_consumer,
    wait_for,
)

CAPS = {"max_messages": 100, "max_bytes": 10_000, "window_s": 0.2}


def rule(n, nbytes=None, *, inbox_empty=True, ahead=0, elapsed_s=0.0, stopping=False):
    return flush_reason(n, 50 * n if nbytes is None else nbytes, inbox_empty=inbox_empty, ahead=ahead,
                        elapsed_s=elapsed_s, stopping=stopping, **CAPS)


def test_one_message_on_a_quiet_line_flushes_at_once():
    assert rule(1) == IDLE
    assert rule(1, elapsed_s=0.0) == IDLE  # no waiting at all, not even a linger


def test_keeps_collecting_only_while_messages_keep_arriving_or_a_batch_waits_for_the_writer():
    assert rule(5, inbox_empty=False) is None
    assert rule(5, inbox_empty=True, ahead=1) is None
    # ... up to the window, counted from the batch's first message
    assert rule(5, inbox_empty=False, elapsed_s=0.199) is None
    assert rule(5, inbox_empty=False, elapsed_s=0.2) == WINDOW
    assert rule(5, inbox_empty=True, ahead=2, elapsed_s=0.25) == WINDOW
    # the writer took the waiting batch: this one goes at once
    assert rule(5, inbox_empty=True, ahead=0, elapsed_s=0.01) == IDLE


def test_full_batches_close_at_once_by_count_or_bytes_and_stop_flushes():
    assert rule(100, inbox_empty=False, ahead=2) == FULL
    assert rule(3, 10_000, inbox_empty=False, ahead=2) == FULL
    assert rule(3, inbox_empty=False, ahead=2, stopping=True) == STOP
    assert rule(0) is None
    assert rule(0, stopping=True) is None


def _simulate(gap_ms: float, n: int, cost_ms=lambda k: 2.0 + 0.01 * k, window_ms: float = 200.0):
    """A virtual-time model of the consumer: messages every ``gap_ms``, a writer that takes
    ``cost_ms(batch)`` per transaction and at most 2 batches waiting for it (the queue).
    Returns (batch sizes, reasons, latency of every message in virtual ms)."""
    arrivals = [i * gap_ms for i in range(n)]
    step = 0.05
    t = 0.0
    nxt = 0
    batch: list[float] = []
    first = 0.0
    queue: list[list[float]] = []
    writer_free_at = 0.0
    writing: list[float] | None = None
    sizes, reasons, latency = [], [], []
    while len(latency) < n:
        if writing is not None and t >= writer_free_at:
            latency += [t - a for a in writing]
            writing = None
        if writing is None and queue:
            writing = queue.pop(0)
            writer_free_at = t + cost_ms(len(writing))
        upto = bisect.bisect_right(arrivals, t)
        take = arrivals[nxt:min(upto, nxt + CAPS["max_messages"] - len(batch))]
        if take and not batch:
            first = t
        batch += take
        nxt += len(take)
        inbox_empty = nxt >= n or arrivals[nxt] > t
        reason = flush_reason(len(batch), 50 * len(batch), inbox_empty=inbox_empty, ahead=len(queue),
                              elapsed_s=(t - first) / 1000.0, max_messages=CAPS["max_messages"],
                              max_bytes=CAPS["max_bytes"], window_s=window_ms / 1000.0)
        if reason is not None and len(queue) < 2:
            queue.append(batch)
            sizes.append(len(batch))
            reasons.append(reason)
            batch = []
        t = round(t + step, 6)
    return sizes, reasons, latency


def test_low_rate_is_one_message_per_transaction_high_rate_grows_the_batches():
    # 1,000 msg/s against a 2 ms transaction: no message waits for the window.
    sizes, reasons, latency = _simulate(1.0, 300)
    assert WINDOW not in reasons and FULL not in reasons
    assert max(latency) < 10.0  # virtual ms: a couple of transactions, never the 200 ms window
    # 100,000 msg/s: batches grow to what accumulates while the writer is busy, up to the cap.
    sizes, reasons, latency = _simulate(0.01, 5000)
    assert max(sizes) == CAPS["max_messages"] and FULL in reasons
    assert len(sizes) < 5000 / 20


def test_batch_stats_report_reasons_and_sizes():
    st = BatchStats()
    for n, why in [(1, IDLE), (1, IDLE), (40, WINDOW), (20_000, FULL)]:
        st.record(n, why)
    d = st.as_dict()
    assert d["flushes"] == {FULL: 1, STOP: 0, IDLE: 2, WINDOW: 1}
    assert d["sizes"] == {"1": 2, "10-99": 1, "10000+": 1}
    assert (d["batches"], d["largest"], d["last_size"], d["last_reason"]) == (4, 20_000, 20_000, FULL)
    assert [size_bucket(k) for k in (1, 9, 10, 999, 1000, 10_000)] == ["1", "2-9", "10-99", "100-999",
                                                                        "1000-9999", "10000+"]


# ------------------------------------------------------------------------------------------
# The consumer against the real broker and PostgreSQL
# ------------------------------------------------------------------------------------------


def test_a_single_reading_at_a_low_rate_is_committed_without_waiting_for_the_batch_window(
        engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine, rules=False)
    s = plant.sensors["voc"]
    # A window far longer than the test waits: a reading that waited for it would never be seen.
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool", batch_ms=600_000.0))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 60_000
    try:
        for i in range(5):
            pub.publish(plant.topic("voc"), reading(12.0 + i, "ppm", t0 + i))
            pub.flush()
            assert wait_for(lambda i=i: count_readings(engine, [s.id]) == i + 1, 30), f"reading {i} not committed"
            b = c.stats()["batching"]
            assert (b["last_size"], b["last_reason"]) == (1, IDLE)
        # A thin stream (messages keep coming, a few ms apart): still never held for the window.
        for i in range(5, 205):
            pub.publish(plant.topic("voc"), reading(12.0, "ppm", t0 + i))
            time.sleep(0.004)
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 205, 30)
        b = c.stats()["batching"]
        assert b["flushes"][WINDOW] == 0 and b["flushes"][FULL] == 0
        assert b["flushes"][IDLE] == b["batches"] >= 6
        assert b["largest"] < 200  # the stream was written while it was still arriving
        st = c.stats()
        assert (st["readings"], st["duplicates"], st["dead_letters"]) == (205, 0, 0)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(DISTINCT ts) FROM sensor_reading WHERE sensor_id = :s"),
                                {"s": s.id}).scalar() == 205
    finally:
        pub.close()
        c.stop()


def test_a_burst_is_batched_and_every_reading_lands_once(engine, db_url, mqtt_url, tmp_path):
    plant = make_plant(engine, rules=False)
    s = plant.sensors["voc"]
    c = start_consumer(consumer_config(db_url, mqtt_url, plant, tmp_path / "spool", batch_ms=200.0))
    pub = Publisher(mqtt_url)
    t0 = now_ms() - 60_000
    try:
        for i in range(3000):
            pub.publish(plant.topic("voc"), reading(12.0, "ppm", t0 + i))
        pub.flush()
        assert wait_for(lambda: count_readings(engine, [s.id]) == 3000, 60)
        b = c.stats()["batching"]
        assert b["largest"] > 1 and b["batches"] < 3000  # the burst shared transactions
        assert c.stats()["duplicates"] == 0
    finally:
        pub.close()
        c.stop()


def test_small_batches_take_one_statement_with_exact_times_and_skip_repeats(engine, db_url):
    import numpy as np
    import psycopg

    from db.engine import libpq_dsn
    from ingestion.store import SMALL_BATCH, PartitionCache, write_readings

    plant = make_plant(engine, rules=False)
    a, b = plant.sensors["voc"].id, plant.sensors["temperature"].id
    t0 = (now_ms() - 3_600_000) * 1000 + 7  # µs with an odd fraction
    big = t0 + np.arange(SMALL_BATCH + 36, dtype=np.int64) * 1_000_001
    with psycopg.connect(libpq_dsn(db_url), autocommit=True) as conn:
        PartitionCache().ensure(conn, int(big.min()), int(big.max()))
        with conn.transaction():  # COPY path for sensor a
            n = len(write_readings(conn, np.full(len(big), a, np.int32), big, np.linspace(1, 2, len(big)),
                                   np.zeros(len(big), np.int16)))
        assert n == len(big)
        vals = np.linspace(1, 2, len(big))
        for i in range(0, len(big), 3):  # the same times for sensor b, three at a time: the one-statement path
            ts = big[i:i + 3]
            with conn.transaction():
                new = write_readings(conn, np.full(len(ts), b, np.int32), ts, vals[i:i + 3],
                                     np.zeros(len(ts), np.int16))
            assert new.ts_us.tolist() == ts.tolist()
        # Repeats (of stored readings and within the batch) are skipped; only the new reading is returned.
        with conn.transaction():
            new = write_readings(conn, np.array([b, b, b], np.int32), np.array([big[0], t0 + 5, t0 + 5]),
                                 np.array([9.0, 3.5, 3.5]), np.zeros(3, np.int16))
        assert (new.sensor_id.tolist(), new.ts_us.tolist(), new.value.tolist()) == ([b], [t0 + 5], [3.5])
        times = {sid: [r[0] for r in conn.execute(
            "SELECT (extract(epoch FROM ts) * 1000000)::bigint FROM sensor_reading WHERE sensor_id = %s "
            "AND ts <> to_timestamp(0) + %s * interval '1 microsecond' ORDER BY ts", (sid, t0 + 5))]
            for sid in (a, b)}
        assert times[a] == times[b] == big.tolist()  # microsecond for microsecond what COPY stores
        assert conn.execute("SELECT value FROM sensor_reading WHERE sensor_id = %s AND ts = to_timestamp(0) + "
                            "%s * interval '1 microsecond'", (b, int(big[0]))).fetchone()[0] == 1.0
