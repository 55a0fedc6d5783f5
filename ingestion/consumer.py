"""``qhse ingest``: the MQTT consumer.

Threads:

* paho's network thread receives; its callback only appends the raw message to an inbox,
  bounded by count and bytes: when it is full the callback waits, paho stops reading, and
  the backlog stays with the broker (memory stays flat whatever the writer is doing);
* the decoder thread takes batches (bounded by count, bytes and time) and validates them;
* the writer thread writes readings, the hourly rollup, dead letters and alarms of a batch
  in one transaction while the next batch is being validated, commits, and only then
  acknowledges the messages (QoS 1, manual acknowledgement, persistent session): a crash
  at any point loses nothing, the broker redelivers what was not acknowledged and the
  idempotent writes drop the repeats;
* when PostgreSQL is unreachable the writer stores raw batches in the on-disk spool
  (fsync'ed, then acknowledged) and replays them, oldest first, once the database is back;
  a segment that cannot be replayed is quarantined, never retried forever;
* when the spool cannot be written either, nothing is acknowledged (the broker keeps the
  messages), ``stats()["spool_error"]`` says why, and the batch is retried until the
  database or the spool is back;
* a batch whose storing raises anything but a database outage is stored message by
  message; a message that still fails becomes a ``store_error`` dead letter.

Several consumers (``--workers N`` or N machines) split the load with an MQTT v5 shared
subscription ``$share/<group>/...``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import psycopg

from db.engine import libpq_dsn

from .alarms import AlarmEngine, AlarmEvent
from .batching import BatchStats, flush_reason
from .decode import KEEP_LARGE, DeadLetter, Decoded, Decoder
from .mqtt import IngestClient, connect_properties, make_client, parse_mqtt_url
from .registry import SensorRegistry
from .spool import Spool
from .store import (
    PartitionCache,
    refresh_daily,
    refresh_recent_daily,
    update_rollups,
    write_dead_letters,
    write_readings,
)
from .topics import DEFAULT_ROOT, DEFAULT_SHARE_GROUP, alarm_topic, check_root, subscriptions

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ConsumerConfig:
    mqtt_url: str
    database_url: str
    spool_dir: Path
    root: str = DEFAULT_ROOT
    share_group: str | None = DEFAULT_SHARE_GROUP
    client_id: str = dataclasses.field(default_factory=lambda: f"qhse-ingest-{socket.gethostname()}")
    mqtt_v5: bool = True
    receive_maximum: int = 65_535
    session_expiry_s: int = 7 * 86400
    batch_max: int = 20_000  # messages per batch
    batch_bytes: int = 8 << 20  # payload bytes per batch
    batch_ms: float = 200.0  # a batch waits at most this long for more messages (only while they keep coming)
    daily_every_s: float = 5.0  # daily rollup refresh of the touched sensor-days
    spool_max_bytes: int = 1 << 30
    max_age_s: float = 7 * 86400
    max_future_s: float = 300.0
    alarms: bool = True
    db_retry_s: float = 1.0
    inbox_max_messages: int = 100_000  # received, not yet batched: paho stops reading beyond this
    inbox_max_bytes: int = 64 << 20
    mqtt_username: str | None = None  # win over a user name in mqtt_url
    mqtt_password: str | None = dataclasses.field(default=None, repr=False)  # never in a repr or a log line
    mqtt_ca_file: str | None = None  # CA of the broker's TLS certificate (mqtts://)
    heartbeat_every_s: float = 5.0  # ingest_heartbeat row written by the writer thread
    heartbeat_stale_s: float = 60.0


class DatabaseDown(Exception):
    pass


class Consumer:
    def __init__(self, cfg: ConsumerConfig):
        check_root(cfg.root)
        self.cfg = cfg
        self.addr = parse_mqtt_url(cfg.mqtt_url).with_auth(cfg.mqtt_username, cfg.mqtt_password, cfg.mqtt_ca_file)
        self.dsn = libpq_dsn(cfg.database_url)
        self.registry = SensorRegistry()
        self.decoder = Decoder(self.registry, cfg.root, max_age_s=cfg.max_age_s, max_future_s=cfg.max_future_s)
        self.alarms = AlarmEngine(self.registry)
        self.partitions = PartitionCache()
        self.spool = Spool(Path(cfg.spool_dir) / _safe(cfg.client_id), cfg.spool_max_bytes)
        self.counts: Counter[str] = Counter()
        self.dead_reasons: Counter[str] = Counter()
        self.timings: Counter[str] = Counter()  # seconds spent per step of the writer
        self._inbox: deque = deque()
        # Bytes in the inbox = added (network thread only) - removed (decoder thread only).
        self._inbox_in = 0
        self._inbox_out = 0
        self._inbox_full = False
        self.batching = BatchStats()
        self._room = threading.Event()
        self.spool_error: str | None = None
        self._wake = threading.Event()
        self._idle = False  # the decoder waits for a message (the network thread wakes it)
        self._holding = False  # the decoder holds a batch until the writer takes the one ahead
        self._accepting = True
        self._gen = 0
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._subs: list[str] = []
        self._conn: psycopg.Connection | None = None
        self._reg_conn: psycopg.Connection | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._decoder_thread: threading.Thread | None = None
        self._daily_keys: set[int] = set()
        self._writing = False
        self._daily_at = time.monotonic()
        self._db_down_since: float | None = None
        self._last_db_try = 0.0
        self._last_registry = 0.0
        self._reg_failed_at = -1e18
        self._writer: threading.Thread | None = None
        self.client = self._make_client()
        self.last_error: str | None = None
        self.last_commit_at: float | None = None
        self._started_at = time.time()
        self._beat_at = -1e18
        self._beat_prev = (time.monotonic(), 0)

    # -- MQTT ---------------------------------------------------------------------------------
    def _make_client(self) -> IngestClient:
        cfg = self.cfg
        if cfg.mqtt_v5:
            c = make_client(cfg.client_id, protocol=mqtt.MQTTv5, manual_ack=True, fast=True, addr=self.addr)
        else:
            c = IngestClient(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id, protocol=mqtt.MQTTv311,
                             clean_session=False, manual_ack=True)
            self.addr.apply(c)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.on_raw_message = self._on_raw_message
        c.reconnect_delay_set(1, 10)
        c.max_queued_messages_set(0)
        c.max_inflight_messages_set(1000)
        return c

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            log.error("broker %s refused the connection: %s", self.addr.url, reason_code)
            return
        self._gen += 1
        group = self.cfg.share_group if self.cfg.mqtt_v5 else None
        subs = self._subs = subscriptions(self.cfg.root, group)
        client.subscribe([(s, 1) for s in subs])
        log.info("connected to %s as %s (session present: %s)", self.addr.url, self.cfg.client_id,
                 getattr(flags, "session_present", "?"))
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None) -> None:
        bad = [rc for rc in reason_codes if rc.is_failure]
        if bad:
            log.error("broker refused the subscription: %s", ", ".join(str(rc) for rc in bad))
            return
        log.info("%s subscribed to %s", self.cfg.client_id, ", ".join(self._subs))
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stop.is_set():
            log.warning("disconnected from %s (%s); reconnecting", self.addr.url, reason_code)

    def _wait_room(self) -> bool:
        """Network thread: wait while the inbox is full (paho reads nothing meanwhile); False when stopping."""
        cfg = self.cfg
        self._inbox_full = True
        self.counts["inbox_full_waits"] += 1
        try:
            while len(self._inbox) >= cfg.inbox_max_messages or self._inbox_in - self._inbox_out >= cfg.inbox_max_bytes:
                if not self._accepting:
                    return False
                self._room.clear()
                self._wake.set()
                self._room.wait(0.1)
            return True
        finally:
            self._inbox_full = False

    def _on_raw_message(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        if not self._accepting:
            return
        if (len(self._inbox) >= self.cfg.inbox_max_messages
                or self._inbox_in - self._inbox_out >= self.cfg.inbox_max_bytes) and not self._wait_room():
            return  # stopping: not acknowledged, redelivered from the persistent session
        try:
            t = topic.decode()
        except UnicodeDecodeError:
            t = repr(topic)
        self._inbox_in += len(payload)
        self._inbox.append((t, payload, time.time_ns() // 1000, mid if qos else 0, self._gen))
        if self._idle and not self._wake.is_set():
            self._wake.set()

    def _on_message(self, client, userdata, msg) -> None:
        if not self._accepting:
            return  # not acknowledged: redelivered from the persistent session at the next start
        if (len(self._inbox) >= self.cfg.inbox_max_messages
                or self._inbox_in - self._inbox_out >= self.cfg.inbox_max_bytes) and not self._wait_room():
            return
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = repr(msg._topic)
        self._inbox_in += len(msg.payload)
        self._inbox.append((topic, msg.payload, time.time_ns() // 1000, msg.mid if msg.qos else 0, self._gen))
        if self._idle and not self._wake.is_set():
            self._wake.set()

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.cfg
        try:
            self._database()
        except DatabaseDown as exc:
            log.warning("database not reachable at start (%s); spooling until it is", exc)
        props = connect_properties(cfg.receive_maximum, cfg.session_expiry_s) if cfg.mqtt_v5 else None
        kw = {"clean_start": False, "properties": props} if cfg.mqtt_v5 else {}
        self.client.connect_async(self.addr.host, self.addr.port, keepalive=30, **kw)
        self.client.loop_start()
        self._decoder_thread = threading.Thread(target=self._decoder_loop, name=f"decode-{cfg.client_id}", daemon=True)
        self._writer = threading.Thread(target=self._writer_loop, name=f"write-{cfg.client_id}", daemon=True)
        self._decoder_thread.start()
        self._writer.start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        """True once the broker acknowledged the subscriptions (messages published from now on arrive)."""
        return self._subscribed.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Store and acknowledge what was received, then disconnect (the session stays)."""
        if self._stop.is_set():
            self._stopped.wait(timeout)
            return
        self._accepting = False
        self._stop.set()
        self._wake.set()
        self._room.set()
        deadline = time.monotonic() + timeout
        for th in (self._decoder_thread, self._writer):
            if th is not None:
                th.join(max(0.1, deadline - time.monotonic()))
        if self._writer is None or not self._writer.is_alive():  # a wedged writer still holds the connection
            self._beat(status="stopped")
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.client.loop_stop()
        for conn in (self._conn, self._reg_conn):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass
        self._stopped.set()

    def run_forever(self, report=None, report_every_s: float = 10.0) -> None:
        """Run until SIGINT/SIGTERM; ``report(stats)`` is called every ``report_every_s``."""
        stop = threading.Event()

        def handler(signum, frame):
            stop.set()

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not stop.wait(report_every_s):
                if report:
                    report(self.stats())
        finally:
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)
            if report:
                report(self.stats())

    def stats(self) -> dict:
        c = self.counts
        return {
            "client_id": self.cfg.client_id, "received": c["received"], "readings": c["readings"],
            "duplicates": c["duplicates"], "dead_letters": c["dead_letters"], "dead_reasons": dict(self.dead_reasons),
            "batches": c["batches"], "spooled": c["spooled"], "replayed": c["replayed"],
            "spool_segments": len(self.spool), "spool_bytes": self.spool.bytes, "alarms_raised": c["alarms_raised"],
            "alarms_cleared": c["alarms_cleared"], "inbox": len(self._inbox),
            "inbox_bytes": max(0, self._inbox_in - self._inbox_out), "inbox_full": self._inbox_full,
            "spool_error": self.spool_error, "store_errors": c["store_errors"],
            "quarantined_segments": c["quarantined_segments"],
            "db": "down" if self._db_down_since is not None else "up", "connected": self._connected.is_set(),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "batching": self.batching.as_dict(),
        }

    # -- database -----------------------------------------------------------------------------------
    def _connect(self, role: str) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=5,
                               application_name=f"{self.cfg.client_id}-{role}"[:63], keepalives=1, keepalives_idle=10,
                               keepalives_interval=5, keepalives_count=3)

    def _database(self) -> psycopg.Connection:
        """The writer's connection (DatabaseDown when PostgreSQL cannot be reached)."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._conn = None
        now = time.monotonic()
        if self._db_down_since is not None and now - self._last_db_try < self.cfg.db_retry_s:
            raise DatabaseDown("retry pending")
        self._last_db_try = now
        try:
            conn = self._connect("write")
            if not self.registry.loaded:
                self.registry.load(conn)
                self._last_registry = now
            self.alarms.refresh(conn, force=True)
            refresh_recent_daily(conn)
        except psycopg.Error as exc:
            self._mark_down(exc)
            raise DatabaseDown(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None
        if self._db_down_since is not None:
            log.warning("database reachable again after %.1f s", now - self._db_down_since)
        self._db_down_since = None
        self._conn = conn
        return conn

    def _mark_down(self, exc: BaseException) -> None:
        if self._db_down_since is None:
            self._db_down_since = time.monotonic()
            log.error("database unavailable (%s); spooling to %s", str(exc).strip().splitlines()[0] if str(exc).strip()
                      else type(exc).__name__, self.spool.dir)
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def _reload_registry(self, force: bool = False) -> None:
        """Reload the sensors (decoder thread; its own connection).  Failures only log."""
        now = time.monotonic()
        if not force and not self.registry.may_reload():
            return
        if now - self._reg_failed_at < max(1.0, self.cfg.db_retry_s):
            return  # the last attempt failed a moment ago
        try:
            conn = self._reg_conn
            if conn is None or conn.closed or conn.broken:
                conn = self._reg_conn = self._connect("registry")
            self.registry.load(conn)
            self._last_registry = now
        except psycopg.Error as exc:
            self._reg_conn = None
            self._reg_failed_at = now
            log.debug("sensor registry not reloaded: %s", exc)

    # -- stage 1: batches and validation ------------------------------------------------------------------
    def _collect(self) -> list:
        inbox = self._inbox
        if not inbox:
            self._idle = True
            if not inbox:
                self._wake.wait(0.5)
            self._wake.clear()
            self._idle = False
        if not inbox:
            return []
        # The rule is ingestion.batching.flush_reason: at once when the inbox is empty and no batch
        # waits for the writer (or the batch is full); otherwise keep collecting, up to batch_ms.
        cfg = self.cfg
        t_first = time.monotonic()
        window = cfg.batch_ms / 1000.0
        batch: list = []
        nbytes = 0
        cap, cap_bytes = cfg.batch_max, cfg.batch_bytes
        pop = inbox.popleft
        append = batch.append
        q = self._queue
        while True:
            before = nbytes
            while inbox and len(batch) < cap and nbytes < cap_bytes:
                m = pop()
                append(m)
                nbytes += len(m[1])
            self._inbox_out += nbytes - before
            if self._inbox_full:
                self._room.set()
            reason = flush_reason(len(batch), nbytes, inbox_empty=not inbox, ahead=q.qsize(),
                                  elapsed_s=time.monotonic() - t_first, max_messages=cap, max_bytes=cap_bytes,
                                  window_s=window, stopping=self._stop.is_set())
            if reason is not None:
                self.batching.record(len(batch), reason)
                return batch
            if not inbox:
                # A batch waits for the writer: sleep until the writer takes it or the window
                # closes (what arrives meanwhile stays in the inbox: no wake-up per message).
                self._holding = True
                if q.qsize():
                    self._wake.wait(max(0.0, min(0.05, t_first + window - time.monotonic())))
                self._wake.clear()
                self._holding = False

    def _decode(self, msgs: list) -> Decoded | None:
        """Validate a batch of (topic, payload, µs); None while no sensor list could be loaded."""
        if not self.registry.loaded:
            self._reload_registry(force=True)
            if not self.registry.loaded:
                return None
        if time.monotonic() - self._last_registry > 60:
            self._reload_registry(force=True)
        t0 = time.perf_counter()
        decoded = self._decode_total(msgs)
        if decoded.unknown and self.registry.may_reload():
            self._reload_registry()
            decoded = self._decode_total(msgs)
        self.timings["decode"] += time.perf_counter() - t0
        return decoded

    def _decode_total(self, msgs: list) -> Decoded:
        """Decode a batch; should that ever raise, message by message (the one that raises is dead-lettered)."""
        try:
            return self.decoder.decode(msgs)
        except Exception as exc:  # noqa: BLE001 - the decoder is total; this is the last line of defence
            log.error("decoding a batch of %d raised (%s); decoding message by message", len(msgs), exc)
        out = Decoded()
        for m in msgs:
            try:
                d = self.decoder.decode([m])
            except Exception as exc:  # noqa: BLE001
                out.dead.append(DeadLetter(m[0], bytes(m[1])[:KEEP_LARGE], "decode_error",
                                           f"{type(exc).__name__}: {str(exc)[:300]}", m[2]))
                continue
            out.sensor_id += d.sensor_id
            out.ts_us += d.ts_us
            out.value += d.value
            out.quality += d.quality
            out.dead += d.dead
            out.unknown += d.unknown
        return out

    def _decoder_loop(self) -> None:
        """Stage 1: batches from the inbox, validated, handed to the writer (at most two ahead)."""
        while True:
            try:
                batch = self._collect()
                if batch:
                    self.counts["received"] += len(batch)
                    # The inbox items (topic, payload, recv_us, mid, session) serve as messages as they are.
                    self._queue.put((batch, batch, self._decode(batch)))
                elif self._stop.is_set() and not self._inbox:
                    self._queue.put(None)
                    return
            except Exception as exc:  # noqa: BLE001 - never dies; what it held stays unacknowledged
                self.last_error = repr(exc)
                log.exception("decoder error: %s", exc)
                time.sleep(0.5)

    # -- stage 2: database, spool, acknowledgements ------------------------------------------------------
    def _writer_loop(self) -> None:
        while True:
            try:
                try:
                    item = self._queue.get(timeout=0.5)
                except queue.Empty:
                    item = ()
                if self._holding or self._idle:
                    self._wake.set()  # the decoder may hold a batch until this one was taken
                if item is None:
                    self._drain_replay()
                    self._flush_daily(force=True)
                    return
                if item:
                    self._writing = True
                    try:
                        self._handle(*item)
                    finally:
                        self._writing = False
                self._maybe_replay()
                self._flush_daily()
                self._beat()
            except Exception as exc:  # noqa: BLE001 - the writer never dies; the batch stays unacknowledged
                self.last_error = repr(exc)
                log.exception("writer error: %s", exc)
                time.sleep(0.5)

    def _ack(self, batch: list) -> None:
        gen = self._gen
        mids = [m[3] for m in batch if m[3] and m[4] == gen]
        if mids:
            self.client.ack_many(mids)

    def _handle(self, batch: list, msgs: list, decoded: Decoded | None) -> None:
        """Store (or spool) one batch, then acknowledge it.  With neither the database nor the
        spool available, wait without acknowledging anything; on stop the batch stays with the broker."""
        spool = False  # the store just failed: spool at once
        while True:
            if decoded is None and self.registry.loaded:
                decoded = self._decode_total(msgs)
            if spool or decoded is None or self._db_down_since is not None or not self.spool.is_empty():
                if self._db_down_since is not None and not spool:
                    try:
                        self._database()
                    except DatabaseDown:
                        pass
                if self.spool_error is not None and self._db_down_since is None:
                    self._maybe_replay(force=True)  # the database is back: empty the spool, then store
                if spool or decoded is None or self._db_down_since is not None or not self.spool.is_empty():
                    spool = False
                    if self._spool(msgs):
                        self._ack(batch)
                        return
                    if self._stop.is_set():
                        log.error("stopping with a batch of %d neither stored nor spooled; the broker keeps it",
                                  len(msgs))
                        return
                    time.sleep(min(1.0, max(0.05, self.cfg.db_retry_s)))
                    continue
            try:
                events = self._store_guarded(msgs, decoded)
            except DatabaseDown:
                spool = True
                continue
            if self.spool_error is not None:
                log.warning("database back (spool still unwritable); acknowledging again")
                self.spool_error = None
            self._ack(batch)
            self._publish(events)
            return

    def _store_guarded(self, msgs: list, decoded: Decoded) -> list[AlarmEvent]:
        """``_store``; a batch that raises anything but DatabaseDown is stored message by message."""
        try:
            return self._store(msgs, decoded)
        except DatabaseDown:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad message never costs another one
            log.error("storing a batch of %d raised (%s); storing message by message", len(msgs), exc, exc_info=True)
        return self._store_each(msgs, "store_error")

    def _store_each(self, msgs: list, reason: str) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        for m in msgs:
            try:
                events += self._store([m], self._decode_total([m]))
                continue
            except DatabaseDown:
                raise
            except Exception as exc:  # noqa: BLE001
                log.error("message on %s could not be stored (%s); dead-lettered as %s", m[0], exc, reason)
                dead = Decoded(dead=[DeadLetter(m[0], bytes(m[1])[:KEEP_LARGE], reason,
                                                f"{type(exc).__name__}: {str(exc)[:500]}", m[2])])
            self.counts["store_errors"] += 1
            try:
                self._store([m], dead)
            except DatabaseDown:
                raise
            except Exception:  # noqa: BLE001 - not even its dead letter: log it, never block the rest
                log.exception("dead letter for a message on %s not written", m[0])
        return events

    def _spool(self, msgs: list) -> bool:
        """Durably spool a batch; False when the spool cannot be written (nothing acknowledged then)."""
        try:
            return self._spool_append(msgs)
        except OSError as exc:
            msg = (f"spool {self.spool.dir} not writable ({exc.strerror or exc}); "
                   "not acknowledging, the broker keeps the backlog")
            if self.spool_error != msg:
                log.error("%s", msg)
            self.spool_error = msg
            return False

    def _spool_append(self, msgs: list) -> bool:
        while self.spool.append(msgs) is None:
            # Spool full: stop acknowledging (the broker keeps the messages) until replay frees room.
            log.error("spool full (%s bytes in %s); waiting for the database", f"{self.spool.bytes:,}", self.spool.dir)
            self._maybe_replay(force=True)
            if self.spool.has_room(len(Spool.encode(msgs))):
                continue
            if self._stop.is_set():
                return False  # stopping with a full spool: the batch stays with the broker
            time.sleep(1.0)
        if self.spool_error is not None:
            log.warning("spool %s writable again; acknowledging", self.spool.dir)
            self.spool_error = None
        self.counts["spooled"] += len(msgs)
        return True

    def _drain_replay(self) -> None:
        deadline = time.monotonic() + 20
        while not self.spool.is_empty() and time.monotonic() < deadline:
            before = self.spool.bytes
            self._maybe_replay(force=True)
            if self.spool.bytes == before:
                break

    def _maybe_replay(self, force: bool = False) -> None:
        if self.spool.is_empty():
            return
        try:
            self._database()
        except DatabaseDown:
            return
        if not self.registry.loaded:
            self._reload_registry(force=True)
            if not self.registry.loaded:
                return
        budget = time.monotonic() + (2.0 if force else 0.25)
        while time.monotonic() < budget:
            segs = self.spool.segments()[:8]
            if not segs:
                break
            msgs: list = []
            used = []
            for p in segs:
                recs, rest, why = Spool.read_partial(p)
                if why:
                    try:
                        self._quarantine(p, recs, rest, why)
                    except DatabaseDown:
                        return
                    continue
                msgs.extend(recs)
                used.append(p)
                if len(msgs) >= self.cfg.batch_max:
                    break
            try:
                events = self._store(msgs, self._decode_total(msgs))
            except DatabaseDown:
                return
            except Exception as exc:  # noqa: BLE001 - a segment that cannot be replayed is quarantined
                log.error("replaying %d spool segment(s) raised (%s); quarantining them", len(used), exc)
                for p in used:
                    try:
                        self._quarantine(p, Spool.read(p), b"", f"replay raised {type(exc).__name__}: {exc}")
                    except DatabaseDown:
                        return
                continue
            for p in used:
                self.spool.remove(p)
            self.counts["replayed"] += len(msgs)
            self._publish(events)
            if self.spool.is_empty():
                log.warning("spool replayed")

    def _quarantine(self, path: Path, recs: list, rest: bytes, why: str) -> None:
        """Replay a segment's good records one by one, dead-letter the bad ones, move the file aside."""
        events = self._store_each(recs, "replay_error") if recs else []
        if rest:
            now_us = time.time_ns() // 1000
            dead = DeadLetter(f"spool:{path.name}", rest[:KEEP_LARGE], "spool_corrupt",
                              f"{why}; {len(rest):,} bytes unreadable, {len(recs)} record(s) before them replayed",
                              now_us)
            self._store([], Decoded(dead=[dead]))
        bad = self.spool.quarantine(path)
        self.counts["quarantined_segments"] += 1
        self.counts["replayed"] += len(recs)
        log.error("spool segment %s cannot be replayed (%s): %d record(s) replayed one by one, moved to %s",
                  path.name, why, len(recs), bad)
        self._publish(events)

    def _flush_daily(self, force: bool = False) -> None:
        if not self._daily_keys or (not force and time.monotonic() - self._daily_at < self.cfg.daily_every_s):
            return
        try:
            conn = self._database()
            keys, self._daily_keys = self._daily_keys, set()
            t0 = time.perf_counter()
            refresh_daily(conn, keys)
            self.timings["daily"] += time.perf_counter() - t0
            self._daily_at = time.monotonic()
        except DatabaseDown:
            return
        except psycopg.Error as exc:
            self._daily_keys |= keys
            if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
                self._mark_down(exc)
            else:
                log.error("daily rollup refresh failed: %s", exc)

    def _store(self, msgs: list, decoded: Decoded) -> list[AlarmEvent]:
        """Write one decoded batch in one transaction; DatabaseDown when it could not."""
        for _attempt in range(3):
            conn = self._database()
            try:
                if self.cfg.alarms:
                    self.alarms.refresh(conn)
                return self._write(conn, decoded)
            except psycopg.errors.TransactionRollback as exc:  # deadlock / serialization: retry
                log.warning("batch rolled back (%s); retrying", exc.sqlstate)
                continue
            except psycopg.errors.CheckViolation as exc:  # e.g. a monthly partition dropped meanwhile
                if _attempt == 0:
                    log.warning("batch refused (%s); checking the partitions and retrying", exc)
                    self.partitions.months.clear()
                    continue
                log.error("database rejected a batch (%s); storing message by message", exc)
                return self._write_isolated(msgs)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self._mark_down(exc)
                raise DatabaseDown(str(exc)) from None
            except psycopg.Error as exc:
                log.error("database rejected a batch (%s); storing message by message", exc)
                return self._write_isolated(msgs)
        self._mark_down(RuntimeError("repeated transaction rollbacks"))
        raise DatabaseDown("repeated transaction rollbacks")

    def _write(self, conn: psycopg.Connection, decoded: Decoded) -> list[AlarmEvent]:
        sid = np.asarray(decoded.sensor_id, dtype=np.int32)
        ts = np.asarray(decoded.ts_us, dtype=np.int64)
        val = np.asarray(decoded.value, dtype=np.float64)
        q = np.asarray(decoded.quality, dtype=np.int16)
        events: list[AlarmEvent] = []
        if len(ts):
            self.partitions.ensure(conn, int(ts.min()), int(ts.max()))
        tm = self.timings
        t0 = time.perf_counter()
        with conn.transaction():
            new = write_readings(conn, sid, ts, val, q)
            t1 = time.perf_counter()
            days = update_rollups(conn, new)
            write_dead_letters(conn, decoded.dead)
            t2 = time.perf_counter()
            if self.cfg.alarms and len(new):
                events = self.alarms.evaluate(conn, new.sensor_id, new.ts_us, new.value)
            t3 = time.perf_counter()
        t4 = time.perf_counter()
        self.last_commit_at = time.time()
        tm["copy"] += t1 - t0
        tm["rollups"] += t2 - t1
        tm["alarms"] += t3 - t2
        tm["commit"] += t4 - t3
        self._daily_keys.update(days.tolist())
        c = self.counts
        c["batches"] += 1
        c["readings"] += len(new)
        c["duplicates"] += len(ts) - len(new)
        c["dead_letters"] += len(decoded.dead)
        for d in decoded.dead:
            self.dead_reasons[d.reason] += 1
        return events

    def _write_isolated(self, msgs: list) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        conn = self._database()
        for m in msgs:
            decoded = self.decoder.decode([m])
            try:
                events.extend(self._write(conn, decoded))
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self._mark_down(exc)
                raise DatabaseDown(str(exc)) from None
            except psycopg.Error as exc:
                dead = Decoded(dead=[DeadLetter(m[0], m[1], "db_rejected", str(exc).strip()[:500], m[2])])
                self._write(conn, dead)
        return events

    def _publish(self, events: list[AlarmEvent]) -> None:
        for e in events:
            if e.event == "updated":
                continue
            self.counts["alarms_raised" if e.event == "raised" else "alarms_cleared"] += 1
            log.info("alarm %s %s: %s", e.alarm_id, e.event, e.message)
            try:
                self.client.publish(alarm_topic(e.sensor.site, self.cfg.root), e.to_json(), qos=1)
            except Exception as exc:  # noqa: BLE001 - the alarm row and NOTIFY exist; MQTT is best effort
                log.warning("could not publish alarm %s: %s", e.alarm_id, exc)


    # -- heartbeat ----------------------------------------------------------------------------------
    def _beat(self, status: str = "running") -> None:
        """Upsert this consumer's ``ingest_heartbeat`` row (writer thread, every heartbeat_every_s)."""
        from . import heartbeat

        now = time.monotonic()
        if status == "running" and now - self._beat_at < self.cfg.heartbeat_every_s:
            return
        try:
            conn = self._database()
        except DatabaseDown:
            return
        inbox = self._inbox
        try:
            oldest = inbox[0][2] if inbox else None
        except IndexError:
            oldest = None
        t_prev, dead_prev = self._beat_prev
        dead = self.counts["dead_letters"]
        c = self.counts
        beat = {
            "client_id": self.cfg.client_id, "host": socket.gethostname(), "pid": os.getpid(), "status": status,
            "started_at": dt.datetime.fromtimestamp(self._started_at, dt.UTC),
            "last_commit_at": dt.datetime.fromtimestamp(self.last_commit_at, dt.UTC) if self.last_commit_at else None,
            "lag_s": max(0.0, time.time() - oldest / 1e6) if oldest else 0.0,
            "backlog": len(inbox) + self._queue.qsize(), "spool_bytes": self.spool.bytes,
            "spool_segments": len(self.spool), "received": c["received"], "readings": c["readings"],
            "dead_letters": dead, "dead_letters_per_s": (dead - dead_prev) / max(1e-6, now - t_prev),
            "connected": self._connected.is_set(), "db_up": True,
        }
        try:
            heartbeat.write(conn, beat)
        except psycopg.errors.UndefinedTable:
            log.warning("no ingest_heartbeat table (run 'qhse db upgrade'); heartbeats are off")
            self._beat_at = now + 3600
            return
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._mark_down(exc)
            return
        except psycopg.Error as exc:
            log.error("heartbeat not written: %s", exc)
        self._beat_at = now
        self._beat_prev = (now, dead)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "consumer"


# ---------------------------------------------------------------------------------------------
# Several worker processes on one machine
# ---------------------------------------------------------------------------------------------


def _worker_main(cfg: ConsumerConfig, log_level: str) -> None:
    logging.basicConfig(level=log_level, format=f"%(asctime)s {cfg.client_id} %(levelname)s %(message)s")
    Consumer(cfg).run_forever(report=None)


def run_workers(cfg: ConsumerConfig, n: int, *, log_level: str = "INFO", report=None,
                report_every_s: float = 10.0) -> None:
    """N consumer processes on the shared subscription; crashed ones are restarted."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    cfgs = [dataclasses.replace(cfg, client_id=f"{cfg.client_id}-{i + 1}") for i in range(n)]
    procs: dict[int, mp.Process] = {}
    stop = threading.Event()

    def handler(signum, frame):
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    started: dict[int, float] = {}
    backoff: dict[int, float] = {}
    due: dict[int, float] = {}

    def spawn(i: int) -> None:
        p = ctx.Process(target=_worker_main, args=(cfgs[i], log_level), name=cfgs[i].client_id, daemon=False)
        p.start()
        procs[i] = p
        started[i] = time.monotonic()

    try:
        for i in range(n):
            spawn(i)
        last = time.monotonic()
        while not stop.wait(1.0):
            now = time.monotonic()
            for i, p in list(procs.items()):
                if p.is_alive() or i in due:
                    continue
                # A worker that dies soon after starting is restarted less and less often (up to 60 s).
                backoff[i] = min(60.0, backoff.get(i, 0.5) * 2) if now - started[i] < 30 else 1.0
                log.error("worker %s exited with %s; restarting in %.0f s", cfgs[i].client_id, p.exitcode, backoff[i])
                due[i] = now + backoff[i]
            for i, t in list(due.items()):
                if now >= t and not stop.is_set():
                    del due[i]
                    spawn(i)
            if report and time.monotonic() - last >= report_every_s:
                report({"workers": n, "alive": sum(p.is_alive() for p in procs.values())})
                last = time.monotonic()
    finally:
        for p in procs.values():
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)
        for p in procs.values():
            p.join(30)
        for s, h in old.items():
            signal.signal(s, h)
