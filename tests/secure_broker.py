"""A second Mosquitto, started by the test, running the shipped deploy/mosquitto.conf and ACL.

The shipped configuration is used as it is, with only its container paths and port
rewritten: the TLS listener on a free port of 127.0.0.1, the certificates made by
``qhse broker dev-certs``, a password file made with ``mosquitto_passwd``, the ACL file
``deploy/mosquitto.acl`` itself and persistence in a temporary directory.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .ingest_fixtures import ROOT, free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PLATFORM_USER, PLATFORM_PASSWORD = "qhse-platform", "Platform-Secret-7f3a9c"
READER_USER, READER_PASSWORD = "qhse-reader", "Reader-Secret-1b2c3d"


@dataclass
class SecureBroker:
    port: int
    ca_file: Path
    passwd: Path
    proc: subprocess.Popen
    log: Path
    users: dict[str, str]

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    def add_user(self, user: str, password: str) -> None:
        """Add a user to the password file and make the broker reload it (SIGHUP)."""
        subprocess.run(["mosquitto_passwd", "-b", str(self.passwd), user, password], check=True,
                       capture_output=True)
        self.users[user] = password
        self.proc.send_signal(1)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_secure_broker(tmp: Path, site_users: dict[str, str] | None = None) -> SecureBroker:
    from ingestion.broker_admin import make_dev_certs

    tmp.mkdir(parents=True, exist_ok=True)
    certs = tmp / "certs"
    make_dev_certs(certs, [])
    passwd = tmp / "passwd"
    users = {PLATFORM_USER: PLATFORM_PASSWORD, READER_USER: READER_PASSWORD, **(site_users or {})}
    for i, (u, p) in enumerate(users.items()):
        subprocess.run(["mosquitto_passwd", *(["-c"] if i == 0 else []), "-b", str(passwd), u, p], check=True,
                       capture_output=True)
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    port = free_port()
    conf = (ROOT / "deploy" / "mosquitto.conf").read_text()
    subst = {
        "/run/secrets/mosquitto_passwd": str(passwd),
        "/run/secrets/mqtt_ca_crt": str(certs / "ca.crt"),
        "/run/secrets/mqtt_server_crt": str(certs / "server.crt"),
        "/run/secrets/mqtt_server_key": str(certs / "server.key"),
        "/mosquitto/config/mosquitto.acl": str(ROOT / "deploy" / "mosquitto.acl"),
        "/mosquitto/data/": str(data) + "/",
    }
    lines = []
    for ln in conf.splitlines():
        for a, b in subst.items():
            ln = ln.replace(a, b)
        if ln.strip() == "listener 8883":
            ln = f"listener {port} 127.0.0.1"
        lines.append(ln)
    assert any(ln.startswith(f"listener {port}") for ln in lines), "the shipped config has no listener 8883"
    # Running as root, Mosquitto would switch to the 'mosquitto' user, which cannot read the temp dir.
    lines.append("user root")
    (tmp / "mosquitto.conf").write_text("\n".join(lines) + "\n")
    log = tmp / "mosquitto.log"
    proc = subprocess.Popen([MOSQUITTO, "-c", str(tmp / "mosquitto.conf")], stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"mosquitto did not listen on {port}: {log.read_text()[-2000:]}")
    return SecureBroker(port, certs / "ca.crt", passwd, proc, log, users)


def client(broker: SecureBroker, user: str | None, password: str | None = None, *, v5: bool = True,
           client_id: str | None = None):
    """A connected paho client (TLS with the broker's CA); (client, connack reason code)."""
    import threading
    import uuid

    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
                    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
    if user:
        c.username_pw_set(user, password if password is not None else broker.users.get(user))
    c.tls_set(ca_certs=str(broker.ca_file))
    done = threading.Event()
    result: dict = {}

    def on_connect(cl, ud, flags, rc, props=None):
        result["rc"] = rc
        done.set()

    def on_disconnect(cl, ud, flags, rc, props=None):
        result.setdefault("rc", rc)
        done.set()

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.connect("127.0.0.1", broker.port, keepalive=30)
    c.loop_start()
    done.wait(10)
    return c, result.get("rc")
