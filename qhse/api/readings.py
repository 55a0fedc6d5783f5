"""``POST /readings``: a batch of readings through the MQTT path's own decoder and writer.

Each reading is checked by ``ingestion.decode.Decoder`` exactly as an MQTT message on its
sensor's telemetry topic (the same schema, unit, valid range and time window) and written by
``ingestion.store`` (idempotent on ``(sensor, ts)``, hourly and daily rollups); the bad ones go
to ``dead_letter`` (source ``api``) and come back in the answer with their position, the
wrong field and the reason.  A sensor of a site outside the token's scope is an unknown sensor.
One audit row per batch names the token.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict, deque

import numpy as np
import psycopg
import sqlalchemy as sa
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from db.engine import libpq_dsn
from ingestion.decode import DeadLetter, Decoded, Decoder
from ingestion.registry import SensorInfo, SensorRegistry
from ingestion.store import PartitionCache, refresh_daily, update_rollups, write_dead_letters, write_readings
from ingestion.topics import gateway_topic, telemetry_topic
from qhse.api.deps import Caller, need
from qhse.api.problems import ApiProblem
from qhse.api.schemas import ReadingBatchIn, ReadingBatchOut
from qhse.domain import access
from qhse.domain.access import Scope

log = logging.getLogger(__name__)
router = APIRouter(tags=["readings"])

ROOT = "api"  # the topic root of the decoder's messages (never published)
MAX_BATCH = 10_000
MAX_BODY = 16 << 20
MAX_ROW = 1 << 16
DAILY_EVERY_S = 5.0  # the daily rollup of the days a batch touched is refreshed at most this often
FIELD_OF = {"wrong_unit": "unit", "ts_out_of_range": "ts", "value_out_of_range": "value",
            "inactive_sensor": "sensor", "unknown_sensor": "sensor", "topic_mismatch": "sensor", "too_large": ""}


class ReadingSink:
    """The decoder, the sensor registry and a few autocommit connections of one API process."""

    def __init__(self, engine: sa.Engine, *, max_age_s: float = 7 * 86400, max_future_s: float = 300.0):
        self.dsn = libpq_dsn(engine.url)
        self.registry = SensorRegistry(reload_interval_s=5.0)
        self.decoder = Decoder(self.registry, ROOT, max_age_s=max_age_s, max_future_s=max_future_s)
        self.partitions = PartitionCache()
        self._pool: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._by_code: dict[str, list[SensorInfo]] = {}
        self._by_code_version = -1
        self._daily_keys: set[int] = set()
        self._daily_at = time.monotonic()

    # -- connections ------------------------------------------------------------------------
    def _get(self) -> psycopg.Connection:
        try:
            conn = self._pool.get_nowait()
            if not conn.closed:
                return conn
        except queue.Empty:
            pass
        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)

    def _put(self, conn: psycopg.Connection) -> None:
        if not conn.closed and self._pool.qsize() < 32:
            self._pool.put(conn)
        else:
            conn.close()

    def close(self) -> None:
        self._refresh_daily(None, np.empty(0, dtype=np.int64), force=True)
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    # -- sensors ----------------------------------------------------------------------------
    def _load(self, conn: psycopg.Connection, force: bool = False) -> None:
        with self._lock:
            if not self.registry.loaded or (force and self.registry.may_reload()):
                self.registry.load(conn)
            if self._by_code_version != self.registry.version:
                by_code: dict[str, list[SensorInfo]] = defaultdict(list)
                for info in self.registry.by_key.values():
                    by_code[info.code].append(info)
                self._by_code, self._by_code_version = dict(by_code), self.registry.version

    def _sensor(self, site: object, code: str, scope: Scope) -> SensorInfo | None:
        if site is not None:
            info = self.registry.get(str(site), code)
        else:
            found = [i for i in self._by_code.get(code, ()) if scope.allows_site(i.site_id)]
            info = found[0] if len(found) == 1 else None
        return info if info is not None and scope.allows_site(info.site_id) else None

    def _refresh_daily(self, conn: psycopg.Connection | None, days: np.ndarray, force: bool = False) -> None:
        """The daily rollup of the days touched, at most every DAILY_EVERY_S (as the MQTT consumer does)."""
        with self._lock:
            self._daily_keys.update(days.tolist())
            if not self._daily_keys or (not force and time.monotonic() - self._daily_at < DAILY_EVERY_S):
                return
            keys, self._daily_keys, self._daily_at = self._daily_keys, set(), time.monotonic()
        own = conn is None
        try:
            c = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) if conn is None else conn
            try:
                refresh_daily(c, keys)
            finally:
                if own:
                    c.close()
        except psycopg.Error as exc:
            log.warning("daily rollup refresh failed (%s); retried with the next batch", exc)
            with self._lock:
                self._daily_keys |= keys

    # -- a batch ----------------------------------------------------------------------------
    def ingest(self, scope: Scope, rows: list) -> dict:
        recv_us = time.time_ns() // 1000
        conn = self._get()
        try:
            self._load(conn)
            out = self._ingest(conn, scope, rows, recv_us)
        except BaseException:
            conn.close()
            raise
        self._put(conn)
        return out

    def _resolve(self, scope: Scope, rows: list, recv_us: int):
        """Each reading's sensor (in the scope) and its MQTT payload fields; the rows refused here."""
        ok: list[tuple[int, SensorInfo, dict]] = []
        bad: list[dict] = []
        dead: list[DeadLetter] = []
        unknown = False
        for i, r in enumerate(rows):
            if not isinstance(r, dict):
                bad.append(_bad(i, "", "invalid_payload", "a reading must be an object"))
                continue
            code, site = r.get("sensor"), r.get("site")
            if not isinstance(code, str) or not code or len(code) > 80:
                bad.append(_bad(i, "sensor", "invalid_payload", "sensor must be a sensor code (a string)"))
                continue
            if site is not None and (not isinstance(site, str) or not site or len(site) > 40):
                bad.append(_bad(i, "site", "invalid_payload", "site must be a site code (a string)"))
                continue
            reading = {k: v for k, v in r.items() if k != "sensor" and k != "site"}
            info = self._sensor(site, code, scope)
            if info is None:
                unknown = True
                where_txt = f" at site {site!r}" if site is not None else ""
                detail = f"no sensor {code!r}{where_txt} in this token's sites"
                if site is None and sum(scope.allows_site(x.site_id) for x in self._by_code.get(code, ())) > 1:
                    detail = f"sensor code {code!r} exists at several sites: name the site"
                bad.append(_bad(i, "sensor", "unknown_sensor", detail))
                dead.append(DeadLetter(f"{ROOT}/{site or '-'}/{code}", _dump(reading)[:MAX_ROW], "unknown_sensor",
                                       detail, recv_us))
                continue
            ok.append((i, info, reading))
        return ok, bad, dead, unknown

    def _decode_fast(self, ok: list[tuple[int, SensorInfo, dict]], recv_us: int) -> Decoded | None:
        """The whole batch as one gateway message per site; None when any reading is refused (the
        per-reading path then tells which)."""
        groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for _, info, reading in ok:
            groups[info.site][info.code].append(reading)
        try:
            msgs = [(gateway_topic(site, ROOT), _dump(g), recv_us) for site, g in groups.items()]
        except (ValueError, TypeError):
            return None
        decoded = self.decoder.decode(msgs)
        return None if decoded.dead else decoded

    def _decode_rows(self, ok: list[tuple[int, SensorInfo, dict]], recv_us: int, bad: list[dict]) -> Decoded:
        """One telemetry message per reading, so that each refusal names its reading."""
        msgs: list[tuple[str, bytes, int]] = []
        where: dict[tuple[str, bytes], deque[int]] = defaultdict(deque)
        for i, info, reading in ok:
            try:
                payload = _dump(reading)
            except (ValueError, TypeError) as exc:
                bad.append(_bad(i, "", "invalid_payload", str(exc)[:200]))
                continue
            if len(payload) > MAX_ROW:
                bad.append(_bad(i, "", "too_large", f"{len(payload):,} bytes (limit {MAX_ROW:,})"))
                continue
            topic = telemetry_topic(info.site, info.area, info.asset, info.code, ROOT)
            msgs.append((topic, payload, recv_us))
            where[(topic, payload)].append(i)
        decoded = self.decoder.decode(msgs)
        for d in decoded.dead:
            idx = where.get((d.topic, d.payload))
            bad.append(_bad(idx.popleft() if idx else -1, _field(d.reason, d.detail), d.reason, d.detail))
        return decoded

    def _ingest(self, conn: psycopg.Connection, scope: Scope, rows: list, recv_us: int) -> dict:
        ok, bad, dead, unknown = self._resolve(scope, rows, recv_us)
        if unknown and self.registry.may_reload():  # a sensor added since the last load
            self._load(conn, force=True)
            ok, bad, dead, _ = self._resolve(scope, rows, recv_us)
        decoded = self._decode_fast(ok, recv_us) or self._decode_rows(ok, recv_us, bad)
        dead += decoded.dead
        sid = np.asarray(decoded.sensor_id, dtype=np.int32)
        ts = np.asarray(decoded.ts_us, dtype=np.int64)
        val = np.asarray(decoded.value, dtype=np.float64)
        qual = np.asarray(decoded.quality, dtype=np.int16)
        if len(ts):
            self.partitions.ensure(conn, int(ts.min()), int(ts.max()))
        sites = sorted({self.registry.by_id[int(s)].site_id for s in np.unique(sid)}) if len(sid) else []
        with conn.transaction():
            new = write_readings(conn, sid, ts, val, qual)
            days = update_rollups(conn, new)
            write_dead_letters(conn, dead, source="api")
            conn.execute(
                "INSERT INTO audit_log (user_id, username, action, entity, sensitive, detail) "
                "VALUES (%s, %s, 'post_readings', 'sensor_reading', false, %s)",
                (scope.user_id, scope.username[:80], json.dumps({
                    "received": len(rows), "stored": len(new), "rejected": len(bad),
                    **({"site_id": sites[0]} if len(sites) == 1 else {}), "site_ids": sites})))
        self._refresh_daily(conn, days)
        bad.sort(key=lambda b: b["index"])
        return {"received": len(rows), "stored": len(new), "duplicates": len(ts) - len(new), "rejected": len(bad),
                "bad": bad}


def _dump(o: object) -> bytes:
    return json.dumps(o, separators=(",", ":")).encode()


def _bad(i: int, field: str, reason: str, detail: str) -> dict:
    return {"index": i, "field": f"body.readings.{i}" + (f".{field}" if field else ""), "reason": reason,
            "detail": detail}


def _field(reason: str, detail: str) -> str:
    if reason in FIELD_OF:
        return FIELD_OF[reason]
    head = detail.split(":", 1)[0].strip()
    return head if head in ("ts", "value", "unit", "quality") else ""


def sink(request: Request) -> ReadingSink:
    app = request.app
    if getattr(app.state, "readings", None) is None:
        app.state.readings = ReadingSink(app.state.engine)
    return app.state.readings


_BODY = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReadingBatchIn"}}}}


@router.post("/readings", response_model=ReadingBatchOut, openapi_extra={"requestBody": _BODY},
             summary="Store a batch of readings (validated as MQTT readings; bad ones returned with reasons)")
async def post_readings(request: Request, scope: Caller) -> dict:
    need(scope, access.MANAGE_PLANT)
    if "json" not in request.headers.get("content-type", "application/json"):
        raise ApiProblem(415, "send the batch as application/json", kind="unsupported-media-type")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiProblem(413, f"body of {len(body):,} bytes (limit {MAX_BODY:,})", kind="too-large")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiProblem(422, f"body is not JSON ({exc})", field="body", kind="validation") from None
    rows = data.get("readings") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ApiProblem(422, "expected {\"readings\": [...]}", field="body.readings", kind="validation")
    if len(rows) > MAX_BATCH:
        raise ApiProblem(413, f"{len(rows):,} readings (limit {MAX_BATCH:,} a batch)", field="body.readings",
                         kind="too-large")
    return await run_in_threadpool(sink(request).ingest, scope, rows)


__all__ = ["ReadingBatchIn", "ReadingSink", "router"]
