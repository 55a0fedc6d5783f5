"""The embedded MQTT broker (amqtt, MQTT 3.1.1) used when ``QHSE_MQTT_URL`` is unset.

It listens on 127.0.0.1 only and runs in a background thread with its own event loop.
It is meant for the demo and for development; production uses Mosquitto or EMQX (see
``deploy/mosquitto.conf``), which also give MQTT v5 shared subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time

log = logging.getLogger(__name__)

_lock = threading.Lock()
_running: dict[int, EmbeddedBroker] = {}


class BrokerError(Exception):
    pass


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class BrokerAuthError(BrokerError):
    """The broker refused the credentials (or their absence)."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (128 if n else 0))
        if not n:
            return bytes(out)


def _utf8(b: bytes) -> bytes:
    return len(b).to_bytes(2, "big") + b


def _connack(host: str, port: int, level: int, timeout: float = 2.0, *, username: str | None = None,
             password: str | None = None, tls: bool = False, ca_file: str | None = None) -> int | None:
    """Send a CONNECT of protocol ``level`` (4: 3.1.1, 5: v5), with the given credentials and
    over TLS when asked; the CONNACK return/reason code, or None when nothing MQTT answered."""
    cid = b"qhse-probe-" + str(time.monotonic_ns())[-8:].encode()
    flags = 0x02 | (0x80 if username else 0) | (0x40 if username and password is not None else 0)
    var = b"\x00\x04MQTT" + bytes([level, flags]) + b"\x00\x0a" + (b"\x00" if level == 5 else b"")
    payload = _utf8(cid)
    if username:
        payload += _utf8(username.encode())
        if password is not None:
            payload += _utf8(password.encode())
    body = var + payload
    pkt = b"\x10" + _varint(len(body)) + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            s = raw
            if tls:
                ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
                s = ctx.wrap_socket(raw, server_hostname=host)
            s.settimeout(timeout)
            s.sendall(pkt)
            head = s.recv(64)
            if len(head) < 4 or head[0] != 0x20:
                return None
            code = head[3]
            if code == 0:
                s.sendall(b"\xe0\x00")
            return code
    except (OSError, ssl.SSLError):
        return None


def _mqtt_answers(host: str, port: int) -> bool:
    """True when something on host:port answers an MQTT 3.1.1 CONNECT with a CONNACK."""
    return _connack(host, port, 4) is not None


# CONNACK codes that mean "who you are", not "which protocol": 3.1.1 return codes 4/5, v5 reason codes.
_AUTH_CODES = {4: "bad user name or password", 5: "not authorised", 0x86: "bad user name or password",
               0x87: "not authorised", 0x8C: "bad authentication method"}


def supports_mqtt5(host: str, port: int, *, username: str | None = None, password: str | None = None,
                   tls: bool = False, ca_file: str | None = None) -> bool:
    """True when the broker accepts MQTT v5 (Mosquitto, EMQX); False for 3.1.1-only brokers (amqtt).

    The probe connects the way the client will (same credentials, TLS), so a broker with
    authentication on is not mistaken for a 3.1.1-only one: a refusal of the credentials
    raises BrokerAuthError instead of answering False.
    """
    code = _connack(host, port, 5, username=username, password=password, tls=tls, ca_file=ca_file)
    if code == 0:
        return True
    if code in _AUTH_CODES:
        if _connack(host, port, 4, username=username, password=password, tls=tls, ca_file=ca_file) == 0:
            return False  # a 3.1.1-only broker that answered the v5 CONNECT with a 3.1.1 code
        where = f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"
        who = (f"user {username!r}" if username
               else "an anonymous client (set QHSE_MQTT_USERNAME and QHSE_MQTT_PASSWORD)")
        raise BrokerAuthError(f"MQTT broker {where} refused {who}: {_AUTH_CODES[code]}")
    return False


def probe_mqtt5(addr) -> bool:
    """``supports_mqtt5`` for a ``BrokerAddress`` (credentials and TLS included)."""
    return supports_mqtt5(addr.host, addr.port, username=addr.username, password=addr.password, tls=addr.tls,
                          ca_file=addr.ca_file)


class EmbeddedBroker:
    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> str:
        self._thread = threading.Thread(target=self._run, name=f"amqtt-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise BrokerError(f"embedded MQTT broker did not start on {self.host}:{self.port} within {timeout:.0f} s")
        if self._error is not None:
            raise BrokerError(f"embedded MQTT broker could not start on {self.host}:{self.port}: {self._error}")
        log.info("embedded MQTT broker (amqtt) on %s", self.url)
        return self.url

    def _run(self) -> None:
        # amqtt logs every probe or refused v5 connection; keep its errors only.
        logging.getLogger("amqtt").setLevel(logging.ERROR)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        try:
            from amqtt.broker import Broker
        except ImportError as exc:  # pragma: no cover - amqtt is a dependency
            self._error = exc
            self._ready.set()
            return
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 0}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

        async def main():
            self._broker = Broker(config, loop=loop)
            await self._broker.start()

        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or loop.is_closed():
            return
        fut = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            fut.result(timeout)
        except Exception as exc:  # noqa: BLE001 - stopping anyway
            log.warning("embedded broker shutdown: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)


def start_embedded_broker(port: int, host: str = "127.0.0.1") -> str:
    """Start (once per port and process) the embedded broker; returns its ``mqtt://`` URL.

    If another process already serves MQTT on that port (e.g. a second ``qhse`` command
    next to ``qhse demo``), that broker is used.
    """
    with _lock:
        b = _running.get(port)
        if b is not None:
            return b.url
        if port_open(host, port):
            if _mqtt_answers(host, port):
                return f"mqtt://{host}:{port}"
            raise BrokerError(f"port {host}:{port} is in use by something that is not an MQTT broker "
                              "(set QHSE_EMBEDDED_MQTT_PORT or QHSE_MQTT_URL)")
        b = EmbeddedBroker(port, host)
        b.start()
        _running[port] = b
        return b.url


def stop_embedded_broker(port: int) -> None:
    with _lock:
        b = _running.pop(port, None)
    if b is not None:
        b.stop()


def resolve_mqtt_url(settings=None, *, start: bool = True) -> tuple[str, bool]:
    """(broker URL, embedded?): ``QHSE_MQTT_URL``, or the embedded broker (started if ``start``)."""
    if settings is None:
        from qhse.settings import get_settings

        settings = get_settings()
    if settings.mqtt_url:
        return settings.mqtt_url, False
    port = settings.embedded_mqtt_port
    if start:
        return start_embedded_broker(port), True
    return f"mqtt://127.0.0.1:{port}", True
