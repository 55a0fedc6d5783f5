"""``qhse demo``: the whole platform on embedded defaults and demo data."""

from __future__ import annotations

import click


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
