"""Notification rules: who a message goes to, how it reads, when a failed one is retried.

Pure; the outbox, routing look-ups and transports are ``qhse/services/notify.py``.

* **Routing** is configured per role and site in ``site.settings["notifications"]``::

      {"plant_manager": [{"channel": "email"},
                         {"channel": "webhook", "url": "https://chat.example/hook"}],
       "group": [{"channel": "mqtt", "topic": "qhse/group/escalations"}]}

  ``{"channel": "email"}`` without ``"to"`` means "the people who hold this role"; a role
  with no configuration gets that e-mail target (:func:`parse_targets`).  When nobody with
  an e-mail address holds the role, the message goes to the site's MQTT topic
  ``qhse/<site code>/notifications/<role>`` instead (:func:`fallback_topic`).
* **On call** (``QHSE_ONCALL_NOTIFY``): comma-separated ``email:ADDR``, ``webhook:URL`` or
  ``mqtt:TOPIC`` (:func:`parse_on_call`); unset, the active admins' addresses, else
  :data:`ON_CALL_TOPIC`.
* **Retries**: exponential back-off from 30 s, capped at an hour (:func:`backoff_seconds`);
  after :data:`MAX_ATTEMPTS` a row is given up (:func:`gives_up`).
* **Messages**: the e-mail form (:func:`email_message`), the webhook and MQTT payloads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from qhse.vocab import EscalationLevel, NotificationChannel, values

CHANNELS = values(NotificationChannel)
ROLES = values(EscalationLevel)  # the roles a message can be routed to: the rungs of the SLA ladder
RECIPIENT_KEY = {NotificationChannel.EMAIL.value: "to", NotificationChannel.WEBHOOK.value: "url",
                 NotificationChannel.MQTT.value: "topic"}
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
MAX_ATTEMPTS = 8
ON_CALL_TOPIC = "qhse/platform/notifications/on_call"


class NotifyError(ValueError):
    """Bad notification configuration, described in one line."""


@dataclass(frozen=True)
class Target:
    channel: str
    recipient: str | None  # None: "the people holding the role" (e-mail only)


def check_role(role: str) -> None:
    if role not in ROLES:
        raise NotifyError(f"unknown role {role!r} (use one of {', '.join(ROLES)})")


def parse_targets(settings: dict[str, Any] | None, role: str, site_code: str = "?") -> list[Target]:
    """The targets configured for ``role`` in a site's settings (default: the role's e-mail)."""
    cfg = (settings or {}).get("notifications") or {}
    if not isinstance(cfg, dict):
        raise NotifyError(f"site {site_code}: settings.notifications must be an object keyed by role")
    raw = cfg.get(role)
    if raw is None:
        return [Target("email", None)]
    if not isinstance(raw, list):
        raise NotifyError(f"site {site_code}: notifications.{role} must be a list of targets")
    out = []
    for t in raw:
        if not isinstance(t, dict) or t.get("channel") not in CHANNELS:
            raise NotifyError(f"site {site_code}: notifications.{role}: each target needs channel "
                              f"{' | '.join(CHANNELS)}, got {t!r}")
        ch = t["channel"]
        key = RECIPIENT_KEY[ch]
        unknown = set(t) - {"channel", key}
        if unknown:
            raise NotifyError(f"site {site_code}: notifications.{role}: unknown key(s) {', '.join(sorted(unknown))}")
        rec = t.get(key)
        if ch != "email" and not rec:
            raise NotifyError(f"site {site_code}: notifications.{role}: a {ch} target needs {key!r}")
        out.append(Target(ch, str(rec) if rec else None))
    return out


def fallback_topic(site_code: str, role: str) -> str:
    """Where a role's message goes when nobody holding it has an e-mail address."""
    return f"qhse/{site_code}/notifications/{role}"


def parse_on_call(spec: str | None) -> list[Target] | None:
    """The on-call targets of ``QHSE_ONCALL_NOTIFY`` (None when unset: the admins decide)."""
    if not spec or not spec.strip():
        return None
    out = []
    for part in spec.split(","):
        ch, sep, rec = part.strip().partition(":")
        if not sep or ch not in CHANNELS or not rec.strip():
            raise NotifyError(f"QHSE_ONCALL_NOTIFY: {part.strip()!r} is not email:ADDR, webhook:URL or mqtt:TOPIC")
        out.append(Target(ch, rec.strip()))
    return out


def clean_addresses(emails: Iterable[str | None]) -> list[str]:
    """Distinct, trimmed addresses that look like e-mail addresses, sorted."""
    return sorted({e.strip() for e in emails if e and "@" in e})


def check_enqueue(channel: str, recipient: str | None) -> None:
    if channel not in CHANNELS:
        raise NotifyError(f"unknown channel {channel!r} (use one of {', '.join(CHANNELS)})")
    if not recipient:
        raise NotifyError("a notification needs a recipient")


def backoff_seconds(attempts: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    """Delay before the next try after ``attempts`` failed tries: base, 2 base, 4 base, ... capped."""
    factor: int = 2 ** max(0, attempts - 1)
    return min(cap, base * factor)


def gives_up(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    return attempts >= max_attempts


def one_line(exc: object) -> str:
    """An error as one short line (for last_error and logs)."""
    s = str(exc).strip()
    return (s.splitlines()[0] if s else type(exc).__name__)[:300]


def email_message(sender: str, recipient: str, subject: str, body: str, ref: str | None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="qhse.local")
    if ref:
        msg["X-QHSE-Ref"] = ref
    msg.set_content(body)
    return msg


def webhook_payload(subject: str, body: str, ref: str | None) -> bytes:
    return json.dumps({"subject": subject, "text": f"{subject}\n{body}", "body": body, "ref": ref}).encode()


def mqtt_payload(subject: str, body: str, ref: str | None, sent_at: dt.datetime) -> str:
    return json.dumps({"subject": subject, "body": body, "ref": ref, "sent_at": sent_at.isoformat()})


def publishable_topic(topic: str) -> bool:
    return bool(topic) and not any(ch in topic for ch in "#+")
