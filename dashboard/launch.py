"""Start the Streamlit server for the dashboard (``qhse dashboard``, ``qhse demo``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"  # the Streamlit script
SERVER = Path(__file__).resolve().parent / "server.py"  # st.App around it: cookie routes, security headers


def streamlit_command(port: int, address: str = "127.0.0.1", headless: bool = True) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(SERVER),
            "--server.port", str(port), "--server.address", address,
            "--server.headless", "true" if headless else "false",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
            "--server.maxUploadSize", "10",
            "--client.toolbarMode", "viewer",
            "--theme.base", "light"]


def run_dashboard(*, port: int = 8501, address: str = "127.0.0.1", database_url: str | None = None,
                  headless: bool = True) -> int:
    """Run the dashboard in the foreground until Ctrl+C; returns the server's exit status."""
    env = dict(os.environ)
    if database_url:
        env["QHSE_DATABASE_URL"] = database_url
    root = str(SERVER.parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(streamlit_command(port, address, headless), env=env, cwd=root)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
