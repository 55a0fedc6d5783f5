"""The demo package's commands: ``qhse demo`` and ``qhse db seed`` (listed by the root registry).

They live here, not in qhse/cli/, because they compose everything (the demo data generator, the
job runner, the feature packages, the dashboard) and the command line never imports this layer.
"""

from __future__ import annotations

import click

from qhse.cli.support import UserError, database_url


@click.command()
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", "seed_", type=int, default=42, show_default=True)
@click.option("--no-ui", is_flag=True, help="Do not start the dashboard; exit after the batch steps.")
@click.option("--port", type=int, default=8501, show_default=True, help="Dashboard port.")
@click.option("--reset", is_flag=True, help="Re-seed even if the database already holds data.")
def demo(scale: str, seed_: int, no_ui: bool, port: int, reset: bool) -> None:
    """Set everything up on embedded defaults and run the whole platform on demo data."""
    from qhse.demo.run import run_demo

    run_demo(scale=scale, seed=seed_, ui=not no_ui, port=port, reset=reset)


@click.command("seed")
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", "seed_", type=int, default=42, show_default=True, help="Random seed (same seed, same data).")
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day of history (default: today, UTC).")
@click.option("--reset", is_flag=True, help="Empty every table first.")
def db_seed(scale: str, seed_: int, end_date, reset: bool) -> None:
    """Fill the database with 12 months of demo data for three plants."""
    from qhse.demo.progress import print_seed_summary, run_seed
    from qhse.demo.seed import SeedError

    url = database_url(migrate=True)
    try:
        summary = run_seed(url, scale=scale, seed=seed_, end_date=end_date, reset=reset)
    except SeedError as exc:
        raise UserError(str(exc)) from None
    print_seed_summary(summary)
