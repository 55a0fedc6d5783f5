"""The ``qhse`` command line: the root group and its registry of commands.

Each ``qhse <noun>`` is one module (``qhse/cli/<noun>.py``; the ingestion commands live in
``ingestion/cli.py``, the vision ones in ``vision/cli.py``).  ``COMMANDS`` maps a command name
to ``"module:attribute"``; :class:`LazyGroup` imports a module only when its command runs or when
``--help`` lists it, so ``qhse <noun>`` never imports the packages of the other nouns.  Command
modules import nothing of the CLI but :mod:`qhse.cli.support`; nothing imports this module but
the ``qhse`` entry point and tests.  Errors a user can fix (settings, unreachable services, bad
files) print one line and exit 2.
"""

from __future__ import annotations

import importlib
import sys

import click

from qhse.settings import SettingsError

COMMANDS: dict[str, str] = {
    "alarm": "ingestion.cli:alarm",
    "broker": "qhse.cli.broker:broker",
    "contractor": "qhse.cli.contractor:contractor",
    "dashboard": "qhse.cli.dashboard:dashboard",
    "db": "qhse.cli.db:db",
    "demo": "qhse.cli.demo:demo",
    "emergency": "qhse.cli.emergency:emergency",
    "hazard": "qhse.cli.hazard:hazard",
    "health": "qhse.cli.health:health",
    "health-index": "qhse.cli.kpi:health_index_cmd",
    "import": "ingestion.cli:import_cmd",
    "import-columns": "ingestion.cli:import_columns",
    "ingest": "ingestion.cli:ingest",
    "inspection": "qhse.cli.inspection:inspection",
    "kpi": "qhse.cli.kpi:kpi_cmd",
    "ledger": "qhse.cli.ledger:ledger",
    "ml": "qhse.cli.ml:ml",
    "notify": "qhse.cli.worker:notify",
    "resources": "qhse.cli.kpi:resources_cmd",
    "scorecard": "qhse.cli.kpi:scorecard",
    "simulate": "ingestion.cli:simulate",
    "training": "qhse.cli.training:training",
    "user": "qhse.cli.user:user",
    "vision": "vision.cli:vision",
    "worker": "qhse.cli.worker:worker",
}


class LazyGroup(click.Group):
    """A group whose subcommands are named in a registry and imported on first use."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        target = self.lazy.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{target} is not a click command")
        if cmd.name != name:  # e.g. kpi_cmd registered as "kpi"
            raise TypeError(f"{target} is named {cmd.name!r}, registered as {name!r}")
        self.commands[name] = cmd
        return cmd


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qhse-platform")
def cli() -> None:
    """QHSE Platform: plant safety data in one place, from sensors, cameras and people."""


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
