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
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_PUBACK = 0x40
_PUBACK_PACK = struct.Struct("!BBH").pack


class MqttUrlError(ValueError):
    pass


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts", "tcp"):
        raise MqttUrlError(f"unsupported MQTT URL {url!r} (use mqtt://host:1883)")
    if not u.hostname:
        raise MqttUrlError(f"MQTT URL {url!r} has no host")
    tls = u.scheme == "mqtts"
    return BrokerAddress(u.hostname, u.port or (8883 if tls else 1883), tls, u.username, u.password)


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
    """paho Client with buffered reads and bulk acknowledgements (see module doc)."""

    def _create_socket(self):
        sock = super()._create_socket()
        if isinstance(sock, (socket.socket,)) and not isinstance(sock, ssl.SSLSocket):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            except OSError:
                pass
            return _BufferedSocket(sock)
        return sock

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        sock = self._sock
        # Handle every complete packet already buffered before going back to select().
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and sock is not None and sock is self._sock \
                and getattr(sock, "pending", None) and sock.pending() > 0:
            rc = super().loop_read(max_packets)
        return rc

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
        if addr.username:
            c.username_pw_set(addr.username, addr.password)
        if addr.tls:
            c.tls_set()
    return c
