"""``qhse api``: the HTTP API (FastAPI under uvicorn) in the foreground."""

from __future__ import annotations

import click

from qhse.cli.support import database_url


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="uvicorn worker processes.")
def api(host: str, port: int, workers: int) -> None:
    """Start the HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import os

    import uvicorn

    os.environ["QHSE_DATABASE_URL"] = database_url(migrate=True)
    click.echo(f"api: http://{host}:{port}  (docs at /docs; Ctrl+C to stop)")
    uvicorn.run("qhse.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", access_log=False)
