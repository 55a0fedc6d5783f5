"""Decoding is total: poison timestamps, lax types and arbitrary bytes end as dead letters, never raise."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.decode import Decoder
from tests.ingest_fixtures import now_ms
from tests.test_ingest import _registry

SINGLE = "r/S1/CHEM/-/S1-CHEM-voc/telemetry"
GATEWAY = "r/S1/gateway/telemetry"

# Every ts that used to raise in decoding (and so killed the whole batch), and its reason now.
POISON_TS = [
    ("NaN", "invalid_payload"),
    ("Infinity", "invalid_payload"),
    ("-Infinity", "invalid_payload"),
    ("1e400", "invalid_payload"),
    ("1e20", "ts_out_of_range"),
    ("-1e20", "ts_out_of_range"),
    ("1e306", "ts_out_of_range"),
    ("123456789012345678901234567890", "ts_out_of_range"),
    ('"0000-01-01T00:00:00Z"', "invalid_payload"),
    ('"10000-01-01T00:00:00Z"', "invalid_payload"),
    ('"0001-01-01T00:00:00+23:00"', "ts_out_of_range"),  # year 0 in UTC
    ('"9999-12-31T23:59:59-23:00"', "ts_out_of_range"),  # year 10000 in UTC
]


def _decoder() -> Decoder:
    return Decoder(_registry(), "r")


def _now_us() -> int:
    return time.time_ns() // 1000


@pytest.mark.parametrize("ts,reason", POISON_TS)
def test_poison_ts_is_dead_lettered_and_costs_no_other_message(ts, reason):
    good_ts = now_ms() - 1000
    good = json.dumps({"ts": good_ts, "value": 12.5, "unit": "ppm"}).encode()
    single = ('{"value": 1, "unit": "ppm", "ts": ' + ts + "}").encode()
    gw = ('{"S1-CHEM-voc": [{"ts": ' + str(good_ts + 1) + ', "value": 3, "unit": "ppm"}, '
          '{"value": 1, "unit": "ppm", "ts": ' + ts + "}]}").encode()
    now = _now_us()
    out = _decoder().decode([(SINGLE, good, now), (SINGLE, single, now), (GATEWAY, gw, now), (SINGLE, good, now)])
    assert sorted(out.value) == [3.0, 12.5, 12.5]
    assert [d.reason for d in out.dead] == [reason, reason]
    assert out.dead[0].payload == single and all(d.detail for d in out.dead)
    assert "ts" in out.dead[0].detail


@pytest.mark.parametrize("field,raw", [
    ("value", '"5.5"'), ("value", "true"), ("value", "false"), ("value", "null"),
    ("quality", "true"), ("quality", '"1"'), ("quality", "1.0"),
    ("ts", "true"), ("ts", "false"), ("ts", '"1767225600000"'), ("unit", "5"),
])
def test_lax_types_are_dead_lettered(field, raw):
    d = {"value": "1", "unit": '"ppm"', "quality": "0", "ts": str(now_ms() - 1000)}
    d[field] = raw
    payload = ("{" + ", ".join(f'"{k}": {v}' for k, v in d.items()) + "}").encode()
    out = _decoder().decode([(SINGLE, payload, _now_us()),
                             (GATEWAY, b'{"S1-CHEM-voc": [' + payload + b"]}", _now_us())])
    assert len(out) == 0
    assert [x.reason for x in out.dead] == ["invalid_payload", "invalid_payload"]
    assert field in out.dead[0].detail


def test_strict_types_still_accept_integers_and_iso_times():
    ts = now_ms() - 1000
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000)) + "+00:00"
    out = _decoder().decode([
        (SINGLE, b'{"value": 13, "unit": "ppm", "quality": 2, "ts": %d}' % ts, _now_us()),
        (SINGLE, b'{"value": 13.5, "unit": "ppm", "ts": %.1f}' % (ts + 0.5), _now_us()),
        (SINGLE, json.dumps({"value": 1, "unit": "ppm", "ts": iso}).encode(), _now_us()),
    ])
    assert out.dead == [] and out.value == [13.0, 13.5, 1.0] and out.quality == [2, 0, 0]


def test_a_message_whose_decoding_raises_is_dead_lettered_alone(monkeypatch):
    """Defence in depth: an unforeseen exception costs only its own message."""
    dec = _decoder()
    real = dec._single

    def flaky(topic, payload, recv_us, info, out):
        real(topic, payload, recv_us, info, out)  # may append a reading, then fails half-way
        if b'"value": 7,' in payload or b"boom" in payload:
            raise RuntimeError("unexpected")

    monkeypatch.setattr(dec, "_single", flaky)
    ts = now_ms() - 1000
    msgs = [(SINGLE, b'{"value": %d, "unit": "ppm", "ts": %d}' % (i, ts + i), _now_us()) for i in range(3)]
    msgs.insert(1, (SINGLE, b'{"value": 7, "unit": "ppm", "ts": %d}' % ts, _now_us()))  # valid, then raises
    msgs.insert(2, (SINGLE, b'{"value": 8, "unit": "ppm"} boom', _now_us()))  # bad JSON, then raises
    out = dec.decode(msgs)
    assert out.value == [0.0, 1.0, 2.0] and len(out.ts_us) == len(out.sensor_id) == 3
    assert [d.reason for d in out.dead] == ["decode_error", "decode_error"]
    assert [d.payload for d in out.dead] == [msgs[1][1], msgs[2][1]]
    assert all("RuntimeError: unexpected" in d.detail for d in out.dead)


# ------------------------------------------------------------------------------------------
# Properties: the decoder never raises, whatever arrives.
# ------------------------------------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-10**40, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["ppm", "degC", "2026-01-01T00:00:00Z", "0001-01-01T00:00:00+23:00",
                     "9999-12-31T23:59:59-23:59", "1767225600000", "NaN"]),
)
_json_value = st.recursive(_json_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=4),
    st.dictionaries(st.sampled_from(["ts", "value", "unit", "quality", "x"]) | st.text(max_size=8), kids, max_size=5),
), max_leaves=20)
_reading = st.fixed_dictionaries({"value": _json_leaf, "unit": _json_leaf},
                                 optional={"ts": _json_leaf, "quality": _json_leaf, "extra": _json_leaf})
_gateway = st.dictionaries(
    st.sampled_from(["S1-CHEM-voc", "S1-M01-vibration", "S1-CHEM-old", "nope", ""]) | st.text(max_size=90),
    st.lists(_reading | _json_value, max_size=4) | _json_value, max_size=4)
_topics = st.sampled_from([SINGLE, GATEWAY, "r/S1/MILL/S1-M01/S1-M01-vibration/telemetry",
                           "r/S1/CHEM/-/S1-CHEM-old/telemetry", "r/S1/CHEM/-/nope/telemetry", "x/y"])

_settings = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_total(topic: str, payload: bytes) -> None:
    out = _decoder().decode([(topic, payload, _now_us())])
    assert len(out) + len(out.dead) >= 1
    assert len(out.sensor_id) == len(out.ts_us) == len(out.value) == len(out.quality)
    for d in out.dead:
        assert d.reason and d.detail and isinstance(d.payload, bytes)


def _dumps(obj) -> bytes:
    try:
        return json.dumps(obj).encode()
    except ValueError:  # an integer too long to print
        return b"{}"


@_settings
@given(topic=_topics, payload=st.binary(max_size=300))
def test_decoder_never_raises_on_arbitrary_bytes(topic, payload):
    _check_total(topic, payload)


@_settings
@given(topic=_topics, obj=_json_value)
def test_decoder_never_raises_on_arbitrary_json(topic, obj):
    _check_total(topic, _dumps(obj))


@_settings
@given(r=_reading)
def test_decoder_never_raises_on_arbitrary_single_readings(r):
    _check_total(SINGLE, _dumps(r))


@_settings
@given(body=_gateway)
def test_decoder_never_raises_on_arbitrary_gateway_payloads(body):
    _check_total(GATEWAY, _dumps(body))
