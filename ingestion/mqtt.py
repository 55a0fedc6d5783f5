"""paho-mqtt 2 clients for the platform (``CallbackAPIVersion.VERSION2``).

``IngestClient`` is a paho ``Client`` tuned for a consumer that must keep up with tens of
thousands of QoS 1 messages per second in one Python process:

* socket reads are buffered (one ``recv`` of up to 256 KiB instead of three small ones per
  packet; the buffered socket reports ``pending()`` exactly like paho's TLS and websocket
  transports do, so paho's own loop drains it);
* messages are acknowledged in bulk after they are stored (manual acknowledgement): one
  write carries the PUBACKs of a whole batch.

Everything else (connect, session, subscriptions, reconnects, keep-alive) is plain paho.
"""

from __future__ import annotations

import socket
import ssl
import struct
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.client import time_func as _paho_time
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from qhse.mqtt_address import (  # noqa: F401  (re-exported)
    BrokerAddress,
    MqttUrlError,
    parse_mqtt_url,
    redact_url,
    settings_address,
)

_PUBACK = 0x40
_PUBACK_PACK = struct.Struct("!BBH").pack


def client_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class _BufferedSocket:
    """A non-blocking socket whose reads come from a user-space buffer."""

    __slots__ = ("_sock", "_buf", "_pos", "chunk")

    def __init__(self, sock, chunk: int = 262144):
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.chunk = chunk

    def recv(self, n: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            buf = self._sock.recv(self.chunk)  # raises BlockingIOError when nothing is there
            if not buf:
                return b""
            self._buf, pos = buf, 0
        end = pos + n
        self._pos = end if end < len(buf) else len(buf)
        if pos == 0 and end >= len(buf):
            return buf
        return buf[pos:end]

    def pending(self) -> int:
        return len(self._buf) - self._pos

    def next_packet(self) -> tuple[int, bytes] | None:
        """(first byte, body) of the next complete MQTT packet in the buffer, else None."""
        buf, pos = self._buf, self._pos
        n = len(buf)
        if pos >= n:
            try:
                buf = self._sock.recv(self.chunk)
            except (BlockingIOError, InterruptedError):
                return None
            if not buf:
                return None  # connection closed: paho's own read reports it
            self._buf, self._pos, pos, n = buf, 0, 0, len(buf)
        i = pos + 1
        mult = 1
        length = 0
        while True:
            if i >= n:
                return None
            b = buf[i]
            length += (b & 127) * mult
            i += 1
            if not b & 128:
                break
            mult *= 128
            if i - pos > 4:
                return None  # malformed length: let paho report it
        end = i + length
        if end > n:
            return None
        self._pos = end
        return buf[pos], buf[i:end]

    def send(self, data) -> int:
        return self._sock.send(data)

    def close(self) -> None:
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class IngestClient(mqtt.Client):
    """paho Client with buffered reads, lean PUBLISH handling and bulk acknowledgements.

    With ``on_raw_message`` set, a QoS 0/1 PUBLISH without MQTT v5 properties (the
    telemetry case) is handed over as ``on_raw_message(topic: bytes, payload: bytes, mid,
    qos)`` without building paho's message and property objects; anything else (QoS 2,
    properties such as topic aliases) goes through paho's own handling and ``on_message``.
    """

    on_raw_message = None

    def _create_socket(self):
        sock = super()._create_socket()
        if isinstance(sock, socket.socket):
            try:
                # Alarm messages and bulk PUBACKs go out at once (no Nagle delay).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        if isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            except OSError:
                pass
            return _BufferedSocket(sock)
        return sock

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        sock = self._sock
        # Handle the packets already buffered before going back to select(), but return as
        # soon as something waits to be written (acknowledgements must not starve while
        # messages keep streaming in) or after a bounded number of packets.
        n = 1
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and n < 2000 and sock is not None and sock is self._sock \
                and not self._out_packet and getattr(sock, "pending", None) and sock.pending() > 0:
            rc = super().loop_read(max_packets)
            n += 1
        return rc

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        sock = self._sock
        if self._in_packet["command"] == 0 and type(sock) is _BufferedSocket:
            pkt = sock.next_packet()
            if pkt is not None:
                command, body = pkt
                self._last_bytes_received = _paho_time()
                if (command & 0xF0) == 0x30 and self.on_raw_message is not None and (command & 0x06) != 0x04:
                    rc = self._fast_publish(command, body)
                    if rc is not None:
                        return rc
                self._in_packet = {"command": command, "have_remaining": 1, "remaining_count": [],
                                   "remaining_mult": 1, "remaining_length": len(body), "packet": bytearray(body),
                                   "to_process": 0, "pos": 0}
                try:
                    rc = self._packet_handle()
                except MalformedPacket:
                    rc = mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
                self._in_packet = {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
                                   "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}
                return rc
        return super()._packet_read()

    def _fast_publish(self, header: int, packet) -> mqtt.MQTTErrorCode | None:
        """QoS 0/1 PUBLISH without properties to ``on_raw_message``; None: let paho handle it."""
        qos = (header & 0x06) >> 1
        try:
            pos = 2 + ((packet[0] << 8) | packet[1])
            topic = bytes(packet[2:pos])
            mid = 0
            if qos:
                mid = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
            if self._protocol == mqtt.MQTTv5:
                if packet[pos] != 0:  # properties present: paho decodes them
                    return None
                pos += 1
        except IndexError:
            return mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
        if not topic:
            return None
        self.on_raw_message(topic, bytes(packet[pos:]), mid, qos)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        raw = self.on_raw_message
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if raw is None or qos == 2:
            return super()._handle_publish()
        rc = self._fast_publish(header, self._in_packet["packet"])
        return super()._handle_publish() if rc is None else rc

    def ack_many(self, mids) -> None:
        """PUBACK the QoS 1 messages ``mids`` (in order of receipt) in one write."""
        if not mids:
            return
        data = b"".join([_PUBACK_PACK(_PUBACK, 2, m) for m in mids])
        self._packet_queue(_PUBACK, data, 0, 0)


def connect_properties(receive_maximum: int | None, session_expiry_s: int | None) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    if receive_maximum:
        props.ReceiveMaximum = int(receive_maximum)
    if session_expiry_s is not None:
        props.SessionExpiryInterval = int(session_expiry_s)
    return props


def make_client(cid: str, *, protocol: int = mqtt.MQTTv5, manual_ack: bool = False, fast: bool = False,
                addr: BrokerAddress | None = None) -> mqtt.Client:
    cls = IngestClient if fast else mqtt.Client
    kw = {"clean_session": True} if protocol != mqtt.MQTTv5 else {}
    c = cls(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=protocol, manual_ack=manual_ack, **kw)
    if addr is not None:
        addr.apply(c)
    return c
