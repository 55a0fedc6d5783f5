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


def test_data_directory_of_the_demo_found_from_anywhere(monkeypatch, tmp_path):
    """Without QHSE_DATA_DIR, a command run where there is no ./.qhse database uses the data directory
    the demo recorded; an explicit QHSE_DATA_DIR, a local database or a database URL win."""
    from qhse.settings import demo_data_dir, remember_demo_data_dir

    for k in list(os.environ):
        if k.upper().startswith("QHSE_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    demo = tmp_path / "demo" / ".qhse"
    (demo / "pgdata").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert demo_data_dir() is None and load_settings().data_path == elsewhere / ".qhse"
    pointer = remember_demo_data_dir(demo)
    assert pointer == tmp_path / "state" / "qhse" / "demo-data-dir"
    assert load_settings().data_path == demo
    monkeypatch.setenv("QHSE_DATA_DIR", str(tmp_path / "mine"))
    assert load_settings().data_path == tmp_path / "mine"
    monkeypatch.delenv("QHSE_DATA_DIR")
    monkeypatch.setenv("QHSE_DATABASE_URL", "postgresql://u@db.example/qhse")
    assert load_settings().data_path == elsewhere / ".qhse"
    monkeypatch.delenv("QHSE_DATABASE_URL")
    (elsewhere / ".qhse" / "pgdata").mkdir(parents=True)  # a database of its own here
    assert load_settings().data_path == elsewhere / ".qhse"
    (elsewhere / ".qhse" / "pgdata").rmdir()
    (demo / "pgdata").rmdir()  # the demo's data is gone: never point at an empty place
    assert load_settings().data_path == elsewhere / ".qhse"
