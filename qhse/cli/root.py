"""The ``qhse`` command line: the root group and its registry of commands.

Each ``qhse <noun>`` is one module (``qhse/cli/<noun>.py``; the ingestion commands live in
``ingestion/cli.py``, the vision ones in ``vision/cli.py``).  ``COMMANDS`` maps a command name
to ``"module:attribute"``; :class:`~qhse.cli.support.LazyGroup` imports a module only when its
command runs or when ``--help`` lists it, so ``qhse <noun>`` never imports the packages of the
other nouns.  ``qhse demo`` and ``qhse db seed`` are the demo package's own commands
(``qhse/demo/command.py``): the composition layer sits above the command line, which never
imports it.  Command modules import nothing of the CLI but :mod:`qhse.cli.support`; nothing
imports this module but the ``qhse`` entry point and tests.  Errors a user can fix (settings,
unreachable services, bad files) print one line and exit 2.
"""

from __future__ import annotations

import sys

import click

from qhse.cli.support import LazyGroup
from qhse.settings import SettingsError

COMMANDS: dict[str, str] = {
    "alarm": "ingestion.cli:alarm",
    "api": "qhse.cli.api:api",
    "broker": "qhse.cli.broker:broker",
    "contractor": "qhse.cli.contractor:contractor",
    "dashboard": "qhse.cli.dashboard:dashboard",
    "db": "qhse.cli.db:db",
    "demo": "qhse.demo.command:demo",
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
    "token": "qhse.cli.token:token",
    "training": "qhse.cli.training:training",
    "user": "qhse.cli.user:user",
    "vision": "vision.cli:vision",
    "worker": "qhse.cli.worker:worker",
}


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
