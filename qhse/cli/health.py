"""``qhse health``: the container health check."""

from __future__ import annotations

import sys

import click

from qhse.cli.support import UserError, _settings, database_url


@click.command()
@click.option("--component", type=click.Choice(["database", "ingest"]), default="database", show_default=True,
              help="database: reachable and current; ingest: also every running consumer's heartbeat is fresh.")
@click.option("--client-id", "client_prefix", default=None,
              help="ingest: only the consumers whose client id starts with this (e.g. one container's workers).")
@click.option("--stale-after", type=click.FloatRange(1, None), default=None,
              help="ingest: seconds after which a heartbeat is stale. [default: QHSE_HEARTBEAT_STALE_S]")
def health(component: str, client_prefix: str | None, stale_after: float | None) -> None:
    """Exit 0 when the component is healthy (container health check); exit 1 with the reason when not."""
    from db.migrate import is_up_to_date

    url = database_url(quiet=True)
    if not is_up_to_date(url):
        raise UserError("database schema is not current: run 'qhse db upgrade'")
    if component == "ingest":
        from db.engine import get_engine
        from db.heartbeats import check

        stale_s = stale_after or _settings().heartbeat_stale_s
        with get_engine(url).connect() as conn:
            ok, lines = check(conn, stale_s, client_prefix)
        for ln in lines:
            click.echo(ln, err=not ok)
        if not ok:
            click.echo("unhealthy: ingestion consumer heartbeat missing or stale", err=True)
            sys.exit(1)
    click.echo("ok")
