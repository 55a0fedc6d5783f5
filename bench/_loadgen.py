"""A load generator for the ingestion benchmarks: an MQTT QoS 1 publisher that is never the bottleneck.

Messages are encoded before the clock starts; the generator writes them in large chunks
and keeps a window of unacknowledged PUBLISHes (the broker's Receive Maximum, at most
``window``), so the broker's PUBACKs pace it: every message it reports as published was
accepted by the broker.  A message the broker accepted and the database never received
is a loss of the consumer (or of the broker's queue limits), not of the generator.

Protocol: MQTT v5 (or 3.1.1 with ``v5=False``), clean start, QoS 1, no properties.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s: str) -> bytes:
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def connect_packet(client_id: str, v5: bool = True, keepalive: int = 60) -> bytes:
    var = _utf8("MQTT") + bytes([5 if v5 else 4, 0x02]) + keepalive.to_bytes(2, "big") + (b"\x00" if v5 else b"")
    payload = _utf8(client_id)
    return b"\x10" + _varint(len(var) + len(payload)) + var + payload


@dataclass
class Encoded:
    """A PUBLISH split around its packet id: ``head + mid(2 bytes) + tail``."""

    head: bytes
    tail: bytes


def encode_publish(topic: str, payload: bytes, v5: bool = True) -> Encoded:
    t = _utf8(topic)
    tail = (b"\x00" if v5 else b"") + payload
    remaining = len(t) + 2 + len(tail)
    return Encoded(b"\x32" + _varint(remaining) + t, tail)


@dataclass
class LoadResult:
    sent: int
    acked: int
    refused: int
    seconds: float
    first_send: float  # time.time() of the first PUBLISH written
    last_ack: float


class RawPublisher:
    def __init__(self, host: str, port: int, client_id: str, v5: bool = True, window: int = 2000):
        self.v5 = v5
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(client_id, v5))
        self._buf = b""
        ptype, body = self._read_packet(timeout=10)
        if ptype != 2 or len(body) < 2 or body[1] != 0:
            raise ConnectionError(f"broker refused the connection (packet {ptype}, {body[:4]!r})")
        self.window = window
        if v5:
            rm = self._receive_maximum(body)
            if rm:
                self.window = min(window, rm)

    @staticmethod
    def _receive_maximum(connack: bytes) -> int | None:
        # flags, reason, property length (varint), properties
        pos, mult, plen = 2, 1, 0
        while True:
            b = connack[pos]
            plen += (b & 127) * mult
            mult *= 128
            pos += 1
            if not b & 128:
                break
        end = pos + plen
        while pos < end:
            ident = connack[pos]
            pos += 1
            if ident == 0x21:
                return int.from_bytes(connack[pos:pos + 2], "big")
            # Skip other properties by type.
            if ident in (0x24, 0x25, 0x28, 0x29, 0x2A, 0x01):  # byte
                pos += 1
            elif ident in (0x13, 0x22, 0x23, 0x21):  # two-byte integer
                pos += 2
            elif ident in (0x11, 0x27, 0x02, 0x18):  # four-byte integer
                pos += 4
            elif ident == 0x26:  # user property: two strings
                for _ in range(2):
                    ln = int.from_bytes(connack[pos:pos + 2], "big")
                    pos += 2 + ln
            else:  # strings / binary
                ln = int.from_bytes(connack[pos:pos + 2], "big")
                pos += 2 + ln
        return None

    def _fill(self, timeout: float) -> bool:
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("broker closed the connection")
        self._buf += data
        return True

    def _parse(self):
        """Yield (type, body) of every complete packet in the buffer."""
        buf, pos, n = self._buf, 0, len(self._buf)
        out = []
        while pos + 2 <= n:
            mult, rl, i = 1, 0, pos + 1
            while i < n:
                b = buf[i]
                rl += (b & 127) * mult
                mult *= 128
                i += 1
                if not b & 128:
                    break
            else:
                break
            if i + rl > n:
                break
            out.append((buf[pos] >> 4, buf[i:i + rl]))
            pos = i + rl
        self._buf = buf[pos:]
        return out

    def _read_packet(self, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            pk = self._parse()
            if pk:
                return pk[0]
            if time.monotonic() > deadline or not self._fill(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("no answer from broker")

    def close(self) -> None:
        try:
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        self.sock.close()


class LoadGenerator:
    """Several publisher connections (devices) sharing one paced stream of messages.

    Brokers bound the unacknowledged QoS 1 messages per client (Mosquitto's default
    Receive Maximum is 20), so one connection is limited by the round trip; a plant has
    many devices, and so does the generator.
    """

    def __init__(self, host: str, port: int, connections: int = 16, v5: bool = True, prefix: str = "loadgen"):
        import uuid

        tag = uuid.uuid4().hex[:6]
        self.pubs = [RawPublisher(host, port, f"{prefix}-{tag}-{i}", v5) for i in range(connections)]

    def run(self, messages: list[Encoded], rate: float | None = None, chunk: int = 200,
            timeout: float = 600.0) -> LoadResult:
        """Publish every message (QoS 1), at most ``rate`` per second overall; wait for all PUBACKs."""
        n = len(messages)
        pubs = self.pubs
        k = len(pubs)
        queues = [messages[i::k] for i in range(k)]
        sent = [0] * k
        inflight = [0] * k
        mids = [0] * k
        acked = refused = 0
        total_sent = 0
        t0 = time.time()
        first_send = last_ack = t0
        deadline = time.monotonic() + timeout
        socks = {p.sock: i for i, p in enumerate(pubs)}
        while acked + refused < n and time.monotonic() < deadline:
            now = time.time()
            allowed = n if rate is None else min(n, int((now - t0) * rate) + 1)
            for i, p in enumerate(pubs):
                can = min(allowed - total_sent, p.window - inflight[i], chunk, len(queues[i]) - sent[i])
                if can <= 0:
                    continue
                parts = []
                mid = mids[i]
                for m in queues[i][sent[i]:sent[i] + can]:
                    mid = mid % 65535 + 1
                    parts.append(m.head)
                    parts.append(mid.to_bytes(2, "big"))
                    parts.append(m.tail)
                mids[i] = mid
                if total_sent == 0:
                    first_send = time.time()
                p.sock.sendall(b"".join(parts))
                sent[i] += can
                inflight[i] += can
                total_sent += can
            busy = total_sent < allowed and any(inflight[i] < pubs[i].window and sent[i] < len(queues[i])
                                                for i in range(k))
            r, _, _ = select.select(list(socks), [], [], 0.0 if busy else 0.002)
            for sock in r:
                i = socks[sock]
                p = pubs[i]
                data = sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("broker closed a load-generator connection")
                p._buf += data
                for ptype, body in p._parse():
                    if ptype == 4:  # PUBACK
                        inflight[i] -= 1
                        if len(body) >= 3 and body[2] >= 0x80:
                            refused += 1
                        else:
                            acked += 1
                        last_ack = time.time()
            if not r and rate is not None and total_sent >= allowed:
                time.sleep(min(0.002, max(0.0, (total_sent + 1) / rate - (time.time() - t0))))
        return LoadResult(total_sent, acked, refused, time.time() - t0, first_send, last_ack)

    def close(self) -> None:
        for p in self.pubs:
            p.close()
