"""Notification rules (qhse.domain.notify) without a database or transports: routing, on call, retries, formats."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from qhse.domain.notify import (
    MAX_ATTEMPTS,
    ROLES,
    NotifyError,
    Target,
    backoff_seconds,
    clean_addresses,
    email_message,
    fallback_topic,
    gives_up,
    mqtt_payload,
    parse_on_call,
    parse_targets,
    publishable_topic,
    webhook_payload,
)
from qhse.domain.sla import ESCALATION_ROLES


def test_routing_defaults_to_the_role_email():
    assert parse_targets({}, "plant_manager") == [Target("email", None)]
    cfg = {"notifications": {"group": [{"channel": "mqtt", "topic": "qhse/group/esc"},
                                       {"channel": "webhook", "url": "https://chat.example/hook"},
                                       {"channel": "email", "to": "hq@example.com"}]}}
    assert parse_targets(cfg, "group") == [Target("mqtt", "qhse/group/esc"), Target("webhook", "https://chat.example/hook"),
                                           Target("email", "hq@example.com")]
    assert parse_targets(cfg, "owner") == [Target("email", None)]


@pytest.mark.parametrize("cfg,match", [
    ([1], "must be an object keyed by role"),
    ({"group": {"channel": "email"}}, "must be a list of targets"),
    ({"group": [{"channel": "sms"}]}, "each target needs channel email | webhook | mqtt"),
    ({"group": [{"channel": "mqtt"}]}, "a mqtt target needs 'topic'"),
    ({"group": [{"channel": "email", "url": "x"}]}, r"unknown key\(s\) url"),
])
def test_routing_errors(cfg, match):
    with pytest.raises(NotifyError, match=match):
        parse_targets({"notifications": cfg}, "group", "S1")


def test_roles_are_the_ladder_and_fallback_topic():
    assert ROLES == ESCALATION_ROLES
    assert fallback_topic("SZ", "area_manager") == "qhse/SZ/notifications/area_manager"


def test_on_call_spec():
    assert parse_on_call(None) is None and parse_on_call("  ") is None
    assert parse_on_call("email:ops@example.com, mqtt:ops/alerts") == [Target("email", "ops@example.com"),
                                                                       Target("mqtt", "ops/alerts")]
    with pytest.raises(NotifyError, match="is not email:ADDR"):
        parse_on_call("pager:42")


def test_backoff_doubles_and_is_capped():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_seconds(20) == 3600
    assert not gives_up(MAX_ATTEMPTS - 1) and gives_up(MAX_ATTEMPTS)


def test_messages():
    msg = email_message("qhse@example.com", "pm@example.com", "Overdue", "Body text", "action:1:level:2")
    assert msg["To"] == "pm@example.com" and msg["X-QHSE-Ref"] == "action:1:level:2"
    assert msg.get_content().strip() == "Body text"
    assert json.loads(webhook_payload("S", "B", None)) == {"subject": "S", "text": "S\nB", "body": "B", "ref": None}
    at = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    assert json.loads(mqtt_payload("S", "B", "r", at))["sent_at"] == "2026-03-02T00:00:00+00:00"
    assert publishable_topic("qhse/a/b") and not publishable_topic("qhse/#") and not publishable_topic("")
    assert clean_addresses([" a@x.cn", "a@x.cn", None, "nobody", "b@x.cn"]) == ["a@x.cn", "b@x.cn"]
