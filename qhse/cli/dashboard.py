"""``qhse dashboard``: the web dashboard in the foreground."""

from __future__ import annotations

import sys

import click

from qhse.cli.support import database_url


@click.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
def dashboard(port: int, address: str) -> None:
    """Start the web dashboard (Streamlit) in the foreground."""
    from dashboard.launch import run_dashboard

    url = database_url(migrate=True)
    click.echo(f"dashboard: http://{address}:{port}  (Ctrl+C to stop)")
    sys.exit(run_dashboard(port=port, address=address, database_url=url))
