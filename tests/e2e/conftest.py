"""Browser tests: the dashboard served by Streamlit on a free port, driven by Playwright
through Debian's Chromium (/usr/bin/chromium; never a downloaded browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.conftest import (  # noqa: F401  (fixtures shared with the AppTest suite)
    dash_data_dir,
    dash_engine,
    dash_mlflow,
    dash_url,
    dash_users,
    live_rows,
    trained_model,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def dashboard_server(dash_url, dash_users, dash_mlflow, dash_data_dir, live_rows, trained_model):  # noqa: F811
    from dashboard.launch import streamlit_command

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_") or k.startswith("QHSE_TEST_")}
    env.update(QHSE_DATABASE_URL=dash_url, QHSE_MLFLOW_TRACKING_URI=dash_mlflow.tracking_uri,
               QHSE_MLRUNS_DIR=str(dash_mlflow.artifact_root), QHSE_DATA_DIR=str(dash_data_dir),
               PYTHONPATH=str(ROOT))
    log = open(SCREENSHOTS.parent / "streamlit-e2e.log", "w") if SCREENSHOTS.parent.is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(streamlit_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("streamlit did not become healthy in 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture()
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
