"""From raw MQTT messages to validated readings and dead letters.

Pure logic (no I/O): it only needs the sensor registry.  Decoding is total: every message
ends either as readings or as dead letters with a reason, and nothing raises.  A reading's
``ts`` is checked against the accepted window on the raw number (NaN, infinities, ``1e306``
or a 30-digit integer never reach a conversion).  As a last line of defence, a message whose
decoding raises anyway is dead-lettered alone (``decode_error``) and costs no other message.

Dead-letter reasons: ``bad_json``, ``invalid_payload``, ``unknown_topic``, ``unknown_sensor``,
``inactive_sensor``, ``topic_mismatch``, ``wrong_unit``, ``ts_out_of_range``,
``value_out_of_range``, ``too_large``, ``decode_error``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from .registry import SensorInfo, SensorRegistry
from .schemas import EPOCH, GATEWAY, READING, _short, describe_error, ts_to_us
from .topics import parse_topic

# The compiled validators themselves (skip the TypeAdapter wrapper on the hot path).
_READING = READING.validator.validate_json
_GATEWAY = GATEWAY.validator.validate_json

MAX_PAYLOAD = 1 << 20  # 1 MiB; larger payloads are dead-lettered (first 64 KiB kept)
KEEP_LARGE = 1 << 16


@dataclass(slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: str
    detail: str
    recv_us: int


@dataclass(slots=True)
class Decoded:
    sensor_id: list[int] = field(default_factory=list)
    ts_us: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    quality: list[int] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    unknown: int = 0  # dead letters for unknown sensors (a registry reload may resolve them)

    def __len__(self) -> int:
        return len(self.ts_us)


def _iso(us: int) -> str:
    try:
        return (EPOCH + dt.timedelta(microseconds=us)).isoformat(timespec="milliseconds")
    except (OverflowError, ValueError):
        return f"{us} µs since 1970"


def _window(lo_us: int, hi_us: int) -> str:
    """The accepted time window, for a dead letter's detail (only built for a rejected reading)."""
    return f"[{_iso(lo_us)}, {_iso(hi_us)}] (epoch milliseconds expected)"


class Decoder:
    """Validates messages against the registry.

    ``max_age_s`` / ``max_future_s``: a reading's time must lie within this window around
    its time of receipt (a gateway may deliver buffered data late; a clock far ahead is a
    configuration error).
    """

    def __init__(self, registry: SensorRegistry, root: str, *, max_age_s: float = 7 * 86400,
                 max_future_s: float = 300.0):
        self.registry = registry
        self.root = root
        self.max_age_us = int(max_age_s * 1e6)
        self.max_future_us = int(max_future_s * 1e6)
        self._topic_cache: dict[str, SensorInfo | tuple[str, str] | str] = {}
        self._cache_version = -1

    # -- topics --------------------------------------------------------------------------
    def _resolve(self, topic: str) -> SensorInfo | tuple[str, str] | str:
        """SensorInfo (single), the site code (gateway) or (reason, detail)."""
        if self._cache_version != self.registry.version:
            self._topic_cache.clear()
            self._cache_version = self.registry.version
        hit = self._topic_cache.get(topic)
        if hit is not None:
            return hit
        ti = parse_topic(topic, self.root)
        if ti is None:
            res: SensorInfo | tuple[str, str] | str = ("unknown_topic", f"not a telemetry topic under {self.root}/")
        elif ti.kind == "gateway":
            res = ti.site
        else:
            info = self.registry.get(ti.site, ti.sensor)
            if info is None:
                res = ("unknown_sensor", f"no sensor {ti.sensor!r} at site {ti.site!r}")
            elif ti.area != info.area or (ti.asset or None) != info.asset:
                res = ("topic_mismatch", f"sensor {info.code} is at {info.area}/{info.asset or '-'}, "
                                         f"topic says {ti.area}/{ti.asset or '-'}")
            else:
                res = info
        if len(self._topic_cache) > 200_000:
            self._topic_cache.clear()
        self._topic_cache[topic] = res
        return res

    # -- messages --------------------------------------------------------------------------
    def decode(self, messages) -> Decoded:
        """``messages``: iterable of (topic, payload bytes, receipt time in epoch µs, ...): items after
        the third (the consumer's packet id and session) are ignored."""
        out = Decoded()
        for m in messages:
            topic, payload, recv_us = m[0], m[1], m[2]
            n, nd, nu = len(out.ts_us), len(out.dead), out.unknown
            try:
                self._message(topic, payload, recv_us, out)
            except Exception as exc:  # noqa: BLE001 - one bad message never costs another one
                _undo(out, n, nd, nu)
                out.dead.append(DeadLetter(topic, _bytes(payload)[:KEEP_LARGE], "decode_error",
                                           f"{type(exc).__name__}: {str(exc)[:300]}", recv_us))
        return out

    def _message(self, topic: str, payload: bytes, recv_us: int, out: Decoded) -> None:
        if len(payload) > MAX_PAYLOAD:
            out.dead.append(DeadLetter(topic, payload[:KEEP_LARGE], "too_large",
                                       f"{len(payload):,} bytes (limit {MAX_PAYLOAD:,})", recv_us))
            return
        target = self._resolve(topic)
        if type(target) is SensorInfo:
            self._single(topic, payload, recv_us, target, out)
        elif type(target) is str:
            n, nd = len(out.ts_us), len(out.dead)
            self._gateway(topic, payload, recv_us, target, out)
            if len(out.ts_us) == n and len(out.dead) == nd:  # '{}' or only empty lists: say so
                out.dead.append(DeadLetter(topic, payload, "invalid_payload", "gateway payload holds no readings",
                                           recv_us))
        else:
            reason, detail = target
            if reason == "unknown_sensor":
                out.unknown += 1
            out.dead.append(DeadLetter(topic, payload, reason, detail, recv_us))

    def _check(self, info: SensorInfo, r: dict, recv_us: int) -> tuple[int, str, str]:
        """(ts_us, reason, detail); reason is '' when the reading is good."""
        if not info.active:
            return 0, "inactive_sensor", f"sensor {info.code} is not active"
        unit = r["unit"]
        if unit != info.unit:
            return 0, "wrong_unit", f"unit {unit!r}, sensor {info.code} measures in {info.unit!r}"
        ts = r.get("ts")
        lo_us, hi_us = recv_us - self.max_age_us, recv_us + self.max_future_us
        # The raw number first: NaN, infinities and huge values never reach a conversion.
        if ts is not None and type(ts) is not dt.datetime and not (lo_us / 1000.0 <= ts <= hi_us / 1000.0):
            return 0, "ts_out_of_range", f"ts {_short(ts)} is outside {_window(lo_us, hi_us)}"
        ts_us = ts_to_us(ts, recv_us)
        if ts_us < lo_us or ts_us > hi_us:
            return 0, "ts_out_of_range", f"ts {_iso(ts_us)} is outside {_window(lo_us, hi_us)}"
        v = r["value"]
        if not (info.min_valid <= v <= info.max_valid):
            return 0, "value_out_of_range", (f"value {v:g} {info.unit} outside the valid range "
                                             f"[{info.min_valid:g}, {info.max_valid:g}] of {info.code}")
        return ts_us, "", ""

    def _single(self, topic: str, payload: bytes, recv_us: int, info: SensorInfo, out: Decoded) -> None:
        try:
            r = _READING(payload)
        except ValidationError as exc:
            reason, detail = describe_error(exc)
            out.dead.append(DeadLetter(topic, payload, reason, detail, recv_us))
            return
        # Inline fast path for the common case (the same checks as _check, which explains any failure).
        ts = r.get("ts")
        if info.active and r["unit"] == info.unit and type(ts) is not dt.datetime:
            v = r["value"]
            lo_us, hi_us = recv_us - self.max_age_us, recv_us + self.max_future_us
            if ts is None:
                ts_us, ok = recv_us, True
            else:  # the raw number first, as in _check
                ok = lo_us / 1000.0 <= ts <= hi_us / 1000.0
                ts_us = int(round(ts * 1000.0)) if ok else 0
            if ok and lo_us <= ts_us <= hi_us and info.min_valid <= v <= info.max_valid:
                out.sensor_id.append(info.id)
                out.ts_us.append(ts_us)
                out.value.append(v)
                out.quality.append(r.get("quality", 0))
                return
        ts_us, reason, detail = self._check(info, r, recv_us)
        if reason:
            out.dead.append(DeadLetter(topic, payload, reason, detail, recv_us))
            return
        out.sensor_id.append(info.id)
        out.ts_us.append(ts_us)
        out.value.append(r["value"])
        out.quality.append(r.get("quality", 0))

    def _gateway(self, topic: str, payload: bytes, recv_us: int, site: str, out: Decoded) -> None:
        try:
            data = _GATEWAY(payload)
        except ValidationError as exc:
            reason, detail = describe_error(exc)
            if reason == "bad_json":
                out.dead.append(DeadLetter(topic, payload, reason, detail, recv_us))
                return
            data = self._salvage(topic, payload, recv_us, out)
            if data is None:
                return
        get = self.registry.by_key.get
        check = self._check
        sid_a, ts_a, v_a, q_a = out.sensor_id.append, out.ts_us.append, out.value.append, out.quality.append
        for code, readings in data.items():
            info = get((site, code))
            if info is None:
                out.unknown += 1
                out.dead.append(DeadLetter(topic, _part(code, readings), "unknown_sensor",
                                           f"no sensor {code!r} at site {site!r}", recv_us))
                continue
            unit, lo, hi, active, sid = info.unit, info.min_valid, info.max_valid, info.active, info.id
            # The window in epoch milliseconds: the raw ts is range-checked before any conversion.
            lo_ms, hi_ms = (recv_us - self.max_age_us) / 1000.0, (recv_us + self.max_future_us) / 1000.0
            for r in readings:
                # Inline fast path for the common case; _check explains any failure.
                ts = r.get("ts")
                if active and r["unit"] == unit and (ts is None or type(ts) is not dt.datetime):
                    v = r["value"]
                    if (ts is None or lo_ms <= ts <= hi_ms) and lo <= v <= hi:
                        sid_a(sid)
                        ts_a(recv_us if ts is None else int(round(ts * 1000.0)))
                        v_a(v)
                        q_a(r.get("quality", 0))
                        continue
                ts_us, reason, detail = check(info, r, recv_us)
                if reason:
                    out.dead.append(DeadLetter(topic, _part(code, [r]), reason, detail, recv_us))
                else:
                    sid_a(sid)
                    ts_a(ts_us)
                    v_a(r["value"])
                    q_a(r.get("quality", 0))

    def _salvage(self, topic: str, payload: bytes, recv_us: int, out: Decoded) -> dict | None:
        """A gateway payload with some invalid readings: keep the valid ones, dead-letter the rest."""
        try:
            raw = json.loads(payload)
        except ValueError as exc:
            out.dead.append(DeadLetter(topic, payload, "bad_json", str(exc), recv_us))
            return None
        if not isinstance(raw, dict):
            out.dead.append(DeadLetter(topic, payload, "invalid_payload",
                                       "gateway payload must be an object: sensor code -> list of readings", recv_us))
            return None
        good: dict[str, list] = {}
        for code, readings in raw.items():
            if not isinstance(readings, list) or not isinstance(code, str) or not code or len(code) > 80:
                out.dead.append(DeadLetter(topic, _part(str(code), readings), "invalid_payload",
                                           f"{code}: expected a list of readings", recv_us))
                continue
            ok = []
            for i, r in enumerate(readings):
                # Each reading through the same JSON validator as a whole payload (same strict rules).
                try:
                    ok.append(_READING(_json(r)))
                except (ValidationError, ValueError) as exc:
                    reason, detail = describe_error(exc) if isinstance(exc, ValidationError) else (
                        "invalid_payload", f"ts/value: {_short(str(exc))}")
                    out.dead.append(DeadLetter(topic, _part(code, [r]), reason, f"{code}[{i}] {detail}", recv_us))
            if ok:
                good[code] = ok
        return good


def _default(o):
    if isinstance(o, dt.datetime):
        return o.isoformat()
    return str(o)


def _json(o) -> bytes:
    return json.dumps(o, default=_default, separators=(",", ":")).encode()


def _part(code: str, readings) -> bytes:
    """The raw part of a gateway payload that concerns one sensor (kept in the dead letter)."""
    try:
        return _json({code: readings})[:KEEP_LARGE]
    except (ValueError, TypeError, RecursionError):  # e.g. an integer of more than 4300 digits
        return _short({code: readings}, KEEP_LARGE).encode("utf-8", "replace")


def _bytes(payload) -> bytes:
    try:
        return bytes(payload)
    except Exception:  # noqa: BLE001
        return repr(payload).encode("utf-8", "replace")


def _undo(out: Decoded, n: int, nd: int, nu: int) -> None:
    """Forget what a message that failed half-way had added."""
    del out.sensor_id[n:], out.ts_us[n:], out.value[n:], out.quality[n:]
    del out.dead[nd:]
    out.unknown = nu
