"""Notifications: an outbox in PostgreSQL and three ways out (e-mail, webhook, MQTT).

Nothing is sent inside a business transaction.  Rules queue a ``notification`` row in
the same transaction as the change that caused it (so a rolled-back escalation sends
nothing, and a committed one is never forgotten); ``deliver_pending`` sends queued rows
later, one row per transaction under ``FOR UPDATE SKIP LOCKED`` so several workers can
deliver side by side.  A failed attempt is recorded (``attempts``, ``last_error``) and
retried with exponential back-off; after ``max_attempts`` the row is marked ``failed``
and logged at ERROR level: visible in the table, never dropped silently.

Routing (per role and site in ``site.settings["notifications"]``), the on-call targets,
the back-off and the message formats are :mod:`qhse.domain.notify`.  Here the people
holding a role are looked up: the action owner, the area owner (area manager), users
with the plant_manager role scoped to the site, users with the group_manager role.

Transports: SMTP when ``QHSE_SMTP_URL`` is set, otherwise ``.eml`` files written under
``<data_dir>/mail`` (the embedded default, like a local mail spool); webhooks are HTTP
POSTs of JSON; MQTT messages are published with QoS 1 to ``QHSE_MQTT_URL`` (or the
embedded broker).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.notify import (
    BACKOFF_BASE_S,
    MAX_ATTEMPTS,
    ON_CALL_TOPIC,
    NotifyError,
    Target,
    backoff_seconds,
    check_enqueue,
    check_role,
    clean_addresses,
    email_message,
    fallback_topic,
    gives_up,
    mqtt_payload,
    one_line,
    parse_on_call,
    parse_targets,
    publishable_topic,
    webhook_payload,
)

if TYPE_CHECKING:
    import paho.mqtt.client as paho_mqtt

    from qhse.settings import Settings

log = logging.getLogger("qhse.services.notify")

UTC = dt.UTC


class DeliveryError(Exception):
    """One delivery attempt failed (the message says why); the row will be retried."""


# ----------------------------------------------------------------------------- transports
class Notifier(Protocol):
    channel: str

    def send(self, recipient: str, subject: str, body: str, *, ref: str | None = None) -> None:
        """Deliver one message or raise DeliveryError."""


class SmtpNotifier:
    channel = "email"

    def __init__(self, url: str, sender: str, timeout: float = 10.0):
        u = urlsplit(url)
        if u.scheme not in ("smtp", "smtps", "smtp+starttls") or not u.hostname:
            raise NotifyError(f"bad SMTP URL {url!r}")
        self.host = u.hostname
        self.port = u.port or {"smtp": 25, "smtps": 465, "smtp+starttls": 587}[u.scheme]
        self.scheme = u.scheme
        self.username = unquote(u.username) if u.username else None
        self.password = unquote(u.password) if u.password else None
        self.sender = sender
        self.timeout = timeout

    def send(self, recipient: str, subject: str, body: str, *, ref: str | None = None) -> None:
        msg = email_message(self.sender, recipient, subject, body, ref)
        try:
            client: smtplib.SMTP
            if self.scheme == "smtps":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.scheme == "smtp+starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {one_line(exc)}") from None


class SpoolMailer:
    """E-mails written as .eml files (the embedded default when no SMTP server is set)."""

    channel = "email"

    def __init__(self, directory: Path, sender: str):
        self.directory = Path(directory)
        self.sender = sender

    def send(self, recipient: str, subject: str, body: str, *, ref: str | None = None) -> None:
        msg = email_message(self.sender, recipient, subject, body, ref)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{dt.datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
            tmp = self.directory / (name + ".part")
            tmp.write_bytes(bytes(msg))
            tmp.rename(self.directory / name)
        except OSError as exc:
            raise DeliveryError(f"mail spool {self.directory}: {one_line(exc)}") from None


class WebhookNotifier:
    channel = "webhook"

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout

    def send(self, recipient: str, subject: str, body: str, *, ref: str | None = None) -> None:
        if not recipient.startswith(("http://", "https://")):
            raise DeliveryError(f"webhook URL must start with http:// or https://, got {recipient!r}")
        data = webhook_payload(subject, body, ref)
        req = urllib.request.Request(recipient, data=data, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "qhse-notify"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                if resp.status >= 300:
                    raise DeliveryError(f"webhook {recipient}: HTTP {resp.status}")
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook {recipient}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise DeliveryError(f"webhook {recipient}: {one_line(reason)}") from None


class MqttNotifier:
    """Publishes JSON with QoS 1 and waits for the broker's acknowledgement."""

    channel = "mqtt"

    def __init__(self, url: str, timeout: float = 10.0, client_id: str | None = None, *,
                 username: str | None = None, password: str | None = None, ca_file: str | Path | None = None):
        u = urlsplit(url)
        if u.scheme not in ("mqtt", "mqtts", "tcp") or not u.hostname:
            raise NotifyError(f"bad MQTT URL {url!r}")
        self.host, self.port = u.hostname, u.port or (8883 if u.scheme == "mqtts" else 1883)
        self.tls = u.scheme == "mqtts"
        self.username = unquote(u.username) if u.username else None
        self.password = unquote(u.password) if u.password else None
        if username:  # the settings' credentials win over the URL's
            self.username, self.password = username, password
        self.ca_file = str(ca_file) if ca_file else None
        self.timeout = timeout
        self.client_id = client_id or f"qhse-notify-{uuid.uuid4().hex[:8]}"
        self._client: paho_mqtt.Client | None = None

    def _connect(self) -> paho_mqtt.Client:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from qhse.mqtt_address import BrokerAddress

        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        BrokerAddress(self.host, self.port, self.tls, self.username, self.password, self.ca_file).apply(c)
        try:
            c.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise DeliveryError(f"MQTT {self.host}:{self.port}: {one_line(exc)}") from None
        c.loop_start()
        return c

    def send(self, recipient: str, subject: str, body: str, *, ref: str | None = None) -> None:
        if not publishable_topic(recipient):
            raise DeliveryError(f"MQTT topic {recipient!r} is not a publishable topic")
        payload = mqtt_payload(subject, body, ref, dt.datetime.now(UTC))
        if self._client is None:
            self._client = self._connect()
        try:
            info = self._client.publish(recipient, payload, qos=1)
            info.wait_for_publish(timeout=self.timeout)
            if not info.is_published():
                raise DeliveryError(f"MQTT {self.host}:{self.port}: no acknowledgement within {self.timeout:g} s")
        except (RuntimeError, ValueError, OSError) as exc:
            self.close()
            raise DeliveryError(f"MQTT {self.host}:{self.port}: {one_line(exc)}") from None
        except DeliveryError:
            self.close()
            raise

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
                self._client.loop_stop()
            except Exception:  # noqa: BLE001 - closing a broken connection must not raise
                pass
            self._client = None


def default_notifiers(settings: Settings | None = None) -> dict[str, Notifier]:
    """Transports built from settings (SMTP or the mail spool, webhook, MQTT)."""
    from qhse.settings import get_settings

    s = settings or get_settings()
    email: Notifier = (SmtpNotifier(s.smtp_url, s.smtp_from) if s.smtp_url
                       else SpoolMailer(s.data_path / "mail", s.smtp_from))
    mqtt_url = s.mqtt_url or f"mqtt://127.0.0.1:{s.embedded_mqtt_port}"
    pw = s.mqtt_password.get_secret_value() if s.mqtt_password is not None else None
    return {"email": email, "webhook": WebhookNotifier(),
            "mqtt": MqttNotifier(mqtt_url, username=s.mqtt_username, password=pw, ca_file=s.mqtt_ca_file)}


# -------------------------------------------------------------------------------- routing
def role_emails(session: Session, role: str, site_id: int, *, action: m.CorrectiveAction | None = None,
                hazard: m.HazardReport | None = None, area_id: int | None = None) -> list[str]:
    """E-mail addresses of the people holding ``role`` for this site/area/action."""
    P, U = m.Person, m.UserAccount
    person_ids: list[int] = []
    if role == "owner":
        if action is not None and action.owner_person_id:
            person_ids = [action.owner_person_id]
    elif role == "area_manager":
        aid = area_id or (hazard.area_id if hazard is not None else None)
        owner = session.scalar(sa.select(m.Area.owner_person_id).where(m.Area.id == aid)) if aid else None
        person_ids = [owner] if owner else []
    elif role in ("plant_manager", "group"):
        q = sa.select(U.person_id).where(U.active.is_(True), U.person_id.is_not(None))
        if role == "plant_manager":
            q = q.where(U.role == "plant_manager",
                        sa.or_(U.all_sites.is_(True),
                               U.id.in_(sa.select(m.UserSiteScope.user_id).where(m.UserSiteScope.site_id == site_id))))
        else:
            q = q.where(U.role == "group_manager")
        person_ids = list(session.scalars(q))
    else:
        check_role(role)
    if not person_ids:
        return []
    emails = session.scalars(sa.select(P.email).where(P.id.in_(person_ids), P.email.is_not(None), P.active.is_(True))
                             .order_by(P.id))
    return clean_addresses(emails)


def enqueue(session: Session, channel: str, recipient: str, subject: str, body: str, *, ref: str | None = None,
            now: dt.datetime | None = None) -> m.Notification:
    check_enqueue(channel, recipient)
    now = now or dt.datetime.now(UTC)
    n = m.Notification(channel=channel, recipient=recipient, subject=subject[:1000], body=body, status="pending",
                       attempts=0, next_attempt_at=now, ref=ref, created_at=now)
    session.add(n)
    return n


def notify_role(session: Session, *, site_id: int, role: str, subject: str, body: str, ref: str | None = None,
                action: m.CorrectiveAction | None = None, hazard: m.HazardReport | None = None,
                area_id: int | None = None, now: dt.datetime | None = None,
                cache: dict[tuple[object, ...], Any] | None = None) -> int:
    """Queue the message for every target configured for (site, role); returns how many rows.

    ``cache``: a dict kept by a caller that notifies many times in one transaction (a job
    run), so routing and addresses are looked up once per site, role and area/owner.
    """
    cache = {} if cache is None else cache
    site = session.get(m.Site, site_id)
    if site is None:
        raise NotifyError(f"no site #{site_id}")
    tkey = ("targets", site_id, role)
    if tkey not in cache:
        cache[tkey] = parse_targets(site.settings, role, site.code)
    count = 0
    for t in cache[tkey]:
        if t.channel == "email" and t.recipient is None:
            aid = area_id or (hazard.area_id if hazard is not None else None)
            ekey = ("emails", role, site_id, aid, action.owner_person_id if action is not None else None)
            if ekey not in cache:
                cache[ekey] = role_emails(session, role, site_id, action=action, hazard=hazard, area_id=area_id)
            addrs = cache[ekey]
            if not addrs:
                enqueue(session, "mqtt", fallback_topic(site.code, role), subject, body, ref=ref, now=now)
                count += 1
            for a in addrs:
                enqueue(session, "email", a, subject, body, ref=ref, now=now)
                count += 1
        else:
            enqueue(session, t.channel, t.recipient, subject, body, ref=ref, now=now)
            count += 1
    return count


# ------------------------------------------------------------------------------ on call


def on_call_targets(session: Session, spec: str | None) -> list[Target]:
    """Who the on-call role is.

    ``spec`` (``QHSE_ONCALL_NOTIFY``): comma-separated ``email:ADDR``, ``webhook:URL`` or
    ``mqtt:TOPIC``.  Unset: the active admin users' e-mail addresses; nobody with one: the
    MQTT topic ``qhse/platform/notifications/on_call``.
    """
    configured = parse_on_call(spec)
    if configured is not None:
        return configured
    P, U = m.Person, m.UserAccount
    emails = session.scalars(sa.select(P.email).join(U, U.person_id == P.id).where(
        U.active.is_(True), U.role == "admin", P.active.is_(True), P.email.is_not(None)).order_by(P.id))
    addrs = clean_addresses(emails)
    return [Target("email", a) for a in addrs] or [Target("mqtt", ON_CALL_TOPIC)]


def notify_on_call(session: Session, *, subject: str, body: str, ref: str | None = None,
                   now: dt.datetime | None = None, spec: str | None = None) -> int:
    """Queue the message for the on-call role (platform operations); returns how many rows."""
    targets = on_call_targets(session, spec)
    for t in targets:
        enqueue(session, t.channel, t.recipient or ON_CALL_TOPIC, subject, body, ref=ref, now=now)
    return len(targets)


# ------------------------------------------------------------------------------- delivery
@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        out = f"{self.sent} sent, {self.retried} to retry, {self.failed} given up"
        if self.errors:
            out += "; last error: " + self.errors[-1]
        return out


def deliver_pending(engine: sa.Engine, *, now: dt.datetime | None = None,
                    notifiers: dict[str, Notifier] | None = None, limit: int = 1000,
                    max_attempts: int = MAX_ATTEMPTS, base_delay_s: float = BACKOFF_BASE_S,
                    clock: Callable[[], dt.datetime] | None = None, batch: int = 25) -> DeliveryStats:
    """Send up to ``limit`` queued notifications whose next attempt is due.

    Rows are taken ``batch`` at a time under ``FOR UPDATE SKIP LOCKED`` (several workers
    deliver side by side without sending anything twice); each attempt's outcome is
    committed with its batch.
    """
    notifiers = notifiers if notifiers is not None else default_notifiers()
    clock = clock or (lambda: now or dt.datetime.now(UTC))
    N = m.Notification
    stats = DeliveryStats()
    done = 0
    try:
        while done < limit:
            t = clock()
            with Session(engine) as s, s.begin():
                rows = s.scalars(
                    sa.select(N).where(N.status == "pending",
                                       sa.or_(N.next_attempt_at.is_(None), N.next_attempt_at <= t))
                    .order_by(N.next_attempt_at.nulls_first(), N.id).limit(min(batch, limit - done))
                    .with_for_update(skip_locked=True)).all()
                if not rows:
                    break
                done += len(rows)
                for n in rows:
                    _attempt(n, notifiers, t, stats, max_attempts, base_delay_s)
    finally:
        for nt in notifiers.values():
            close = getattr(nt, "close", None)
            if close:
                close()
    return stats


def _attempt(n: m.Notification, notifiers: dict[str, Notifier], t: dt.datetime, stats: DeliveryStats,
             max_attempts: int, base_delay_s: float) -> None:
    sender = notifiers.get(n.channel)
    n.attempts += 1
    try:
        if sender is None:
            raise DeliveryError(f"no {n.channel} transport configured")
        sender.send(n.recipient, n.subject, n.body, ref=n.ref)
    except DeliveryError as exc:
        n.last_error = str(exc)
        stats.errors = stats.errors[-19:] + [f"#{n.id}: {exc}"]  # the latest few, for the job's one-line detail
        if gives_up(n.attempts, max_attempts):
            n.status = "failed"
            n.next_attempt_at = None
            stats.failed += 1
            log.error("notification #%s (%s to %s) given up after %s attempts: %s",
                      n.id, n.channel, n.recipient, n.attempts, exc)
        else:
            n.next_attempt_at = t + dt.timedelta(seconds=backoff_seconds(n.attempts, base_delay_s))
            stats.retried += 1
            log.warning("notification #%s (%s to %s) attempt %s failed, retry at %s: %s",
                        n.id, n.channel, n.recipient, n.attempts, n.next_attempt_at, exc)
    else:
        n.status = "sent"
        n.sent_at = t
        n.last_error = None
        n.next_attempt_at = None
        stats.sent += 1


def retry_failed(session: Session, ids: Iterable[int] | None = None, now: dt.datetime | None = None) -> int:
    """Put given-up notifications back in the queue (e.g. after fixing the SMTP setting)."""
    N = m.Notification
    q = sa.update(N).where(N.status == "failed")
    if ids is not None:
        q = q.where(N.id.in_(list(ids)))
    r = cast("sa.CursorResult[Any]", session.execute(q.values(status="pending", attempts=0,
                                                            next_attempt_at=now or dt.datetime.now(UTC))))
    return r.rowcount
