"""The unit lane's own guard (tests/unit/conftest.py), run on a small copy of the layout in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

OUTER_CONFTEST = '''
import pytest

@pytest.fixture(scope="session")
def pg_server_url():
    return "postgresql+psycopg://nobody@127.0.0.1:1/none"

@pytest.fixture()
def db_url(pg_server_url):
    return pg_server_url

@pytest.fixture()
def site(db_url):  # a fixture built on the database
    return 1

@pytest.fixture(scope="session")
def mqtt_url():
    return "mqtt://127.0.0.1:1"
'''

UNIT_TESTS = '''
def test_pure():
    assert 1 + 1 == 2

def test_asks_for_the_database(db_url):
    pass

def test_asks_for_it_through_another_fixture(site):
    pass

def test_asks_for_the_broker(mqtt_url):
    pass

def test_connects_by_itself():
    import psycopg
    psycopg.connect("host=127.0.0.1 port=1 user=nobody")

def test_connects_to_a_broker_by_itself():
    import paho.mqtt.client as mqtt
    mqtt.Client(mqtt.CallbackAPIVersion.VERSION2).connect("127.0.0.1", 1)
'''


def test_the_lane_refuses_database_and_broker(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    unit: pure rules\n")
    unit = tmp_path / "tests" / "unit"
    unit.mkdir(parents=True)
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "conftest.py").write_text(OUTER_CONFTEST)
    (unit / "__init__.py").write_text("")
    (unit / "conftest.py").write_text((HERE / "conftest.py").read_text())
    (unit / "test_lane.py").write_text(UNIT_TESTS)
    (tmp_path / "tests" / "test_outside.py").write_text("def test_outside(db_url):\n    assert db_url\n")

    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA",
                           str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    outcome = {}
    for line in out.splitlines():
        for word in ("PASSED", "FAILED", "ERROR"):
            if line.startswith(word + " "):
                outcome[line.split()[1].split("::")[-1]] = word
    assert outcome == {
        "test_pure": "PASSED",
        "test_asks_for_the_database": "ERROR",
        "test_asks_for_it_through_another_fixture": "ERROR",
        "test_asks_for_the_broker": "ERROR",
        "test_connects_by_itself": "FAILED",
        "test_connects_to_a_broker_by_itself": "FAILED",
        "test_outside": "PASSED",  # outside tests/unit the fixtures are served as usual
    }, out
    assert "is in the unit lane (tests/unit) but uses db_url" in out
    assert "uses db_url, pg_server_url" in out  # through the other fixture
    assert out.count("tests/unit opens no database or broker connection") >= 2


def test_this_lane_is_marked(request):
    assert request.node.get_closest_marker("unit") is not None
