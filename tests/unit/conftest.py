"""The unit lane: pure rules, no database and no broker (``make test-unit``).

A test here that asks for a database or MQTT fixture, directly or through another fixture,
fails before it runs; one that opens a PostgreSQL or MQTT connection itself fails too.
Tests that need the real services live in tests/ beside this folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# The fixtures of tests/conftest.py (and everything built on them) that reach PostgreSQL or the broker.
SERVICE_FIXTURES = frozenset({
    "pg_server_url", "db_factory", "db_url", "engine", "fresh_db_url", "seeded_url", "seeded_engine", "mqtt_url",
})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.unit)


def pytest_runtest_setup(item):
    used = sorted(SERVICE_FIXTURES & set(item.fixturenames))
    if used:
        pytest.fail(f"{item.nodeid} is in the unit lane (tests/unit) but uses {', '.join(used)}: "
                    "tests that need PostgreSQL or MQTT belong in tests/", pytrace=False)


class ServiceRefused(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise ServiceRefused("tests/unit opens no database or broker connection")


@pytest.fixture(autouse=True)
def _no_services(monkeypatch):
    import paho.mqtt.client as mqtt
    import psycopg

    monkeypatch.setattr(psycopg, "connect", _refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(_refuse))
    for name in ("connect", "connect_async"):
        monkeypatch.setattr(mqtt.Client, name, _refuse)
    monkeypatch.delenv("QHSE_TEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("QHSE_TEST_MQTT_URL", raising=False)
