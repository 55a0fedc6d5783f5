"""MQTT broker addresses: URL parsing, credentials from the settings, redaction for logs.

Used by every MQTT client of the platform (ingestion, notifications, vision); imports
nothing from the project but ``qhse.settings`` (lazily), and nothing from paho: ``apply``
works on any paho client it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit


class MqttUrlError(ValueError):
    pass


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr, a URL or a log line
    ca_file: str | None = None

    @property
    def url(self) -> str:
        """The broker's URL without credentials (safe to log)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def with_auth(self, username: str | None = None, password: str | None = None,
                  ca_file: str | None = None) -> BrokerAddress:
        """This address with the credentials and CA of the settings (they win over the URL's)."""
        return replace(self, username=username or self.username,
                       password=password if username or password else self.password,
                       ca_file=str(ca_file) if ca_file else self.ca_file)

    def apply(self, client) -> None:
        """Credentials and TLS (verified against ``ca_file``, else the system CAs) on a paho client."""
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls and self.ca_file:
            client.tls_set(ca_certs=self.ca_file)
        elif self.tls:
            client.tls_set()


def parse_mqtt_url(url: str) -> BrokerAddress:
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts", "tcp"):
        raise MqttUrlError(f"unsupported MQTT URL {redact_url(url)!r} (use mqtt://host:1883)")
    if not u.hostname:
        raise MqttUrlError(f"MQTT URL {redact_url(url)!r} has no host")
    tls = u.scheme == "mqtts"
    return BrokerAddress(u.hostname, u.port or (8883 if tls else 1883), tls,
                         unquote(u.username) if u.username else None, unquote(u.password) if u.password else None)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    u = urlsplit(url)
    if u.password is None:
        return url
    netloc = u.netloc.rsplit("@", 1)[1]
    return u._replace(netloc=f"{u.username}:***@{netloc}").geturl()


def settings_address(url: str, settings=None) -> BrokerAddress:
    """The broker of ``url`` with QHSE_MQTT_USERNAME / _PASSWORD / _CA_FILE applied."""
    if settings is None:
        from qhse.settings import get_settings

        settings = get_settings()
    pw = settings.mqtt_password.get_secret_value() if settings.mqtt_password is not None else None
    return parse_mqtt_url(url).with_auth(settings.mqtt_username, pw, settings.mqtt_ca_file)
