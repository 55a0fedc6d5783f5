"""Settings (qhse.settings) without a database: defaults, unknown keys and bad values refused, URLs normalised."""

from __future__ import annotations

import os

import pytest

from qhse.settings import SettingsError, load_settings


def test_defaults(monkeypatch):
    for k in list(os.environ):
        if k.upper().startswith("QHSE_"):
            monkeypatch.delenv(k)
    s = load_settings()
    assert s.database_url is None and s.mqtt_url is None
    assert str(s.data_dir) == ".qhse"
    assert s.timezone == "Asia/Shanghai"


def test_unknown_key_refused(monkeypatch):
    monkeypatch.setenv("QHSE_DATABSE_URL", "postgresql://x")
    with pytest.raises(SettingsError) as e:
        load_settings()
    assert "QHSE_DATABSE_URL" in str(e.value) and "unknown setting" in str(e.value)


def test_bad_values(monkeypatch):
    monkeypatch.setenv("QHSE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="QHSE_TIMEZONE"):
        load_settings()
    monkeypatch.delenv("QHSE_TIMEZONE")
    monkeypatch.setenv("QHSE_DATABASE_URL", "mysql://root@localhost/x")
    with pytest.raises(SettingsError, match="QHSE_DATABASE_URL"):
        load_settings()


def test_database_url_normalised(monkeypatch):
    monkeypatch.setenv("QHSE_DATABASE_URL", "postgres://u@h:5432/d")
    assert load_settings().database_url == "postgresql+psycopg://u@h:5432/d"
