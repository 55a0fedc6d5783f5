"""``qhse ledger``: compliance ledgers and the regulation register."""

from __future__ import annotations

from pathlib import Path

import click

from qhse.cli.support import UserError, open_engine, parse_date, print_table, resolve_ref
from qhse.vocab import LedgerKind, values


@click.group()
def ledger() -> None:
    """Compliance ledgers (CSV / PDF with source record ids) and the regulation register."""


@ledger.command("export")
@click.argument("kind", type=click.Choice(values(LedgerKind)))
@click.option("--site", required=True, help="Site code.")
@click.option("--from", "from_", required=True, help="First day YYYY-MM-DD (site time).")
@click.option("--to", "to_", required=True, help="Last day YYYY-MM-DD (inclusive).")
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), default="pdf", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: ledger_<kind>_<site>_<from>-<to>.<format> here).")
def ledger_export(kind: str, site: str, from_: str, to_: str, fmt: str, output: Path | None) -> None:
    """Export a ledger for a period."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from qhse.domain.ledgers import LedgerError
    from qhse.services.ledgers import build, export

    engine = open_engine()
    try:
        led = build(engine, kind, site, parse_date(from_, "--from"), parse_date(to_, "--to"))
        path = output or Path(f"{led.filename}.{fmt}")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()) as bar:
            task = bar.add_task(f"writing {fmt.upper()}", total=max(1, len(led.rows)))
            export(led, fmt, path, progress=lambda done, total: bar.update(task, completed=done))
            bar.update(task, completed=max(1, len(led.rows)))
    except LedgerError as exc:
        raise UserError(str(exc)) from None
    totals = ", ".join(f"{k} {v}" for k, v in led.totals)
    click.echo(f"{path}: {len(led.rows)} lines; {totals}")


@ledger.command("register")
@click.option("--site", default=None, help="Site code (default: every site).")
@click.option("--kind", type=click.Choice(values(LedgerKind)), default=None)
def ledger_register(site: str | None, kind: str | None) -> None:
    """The regulations and internal standards that apply."""
    from db.queries import refs
    from db.queries.ledgers import regulations
    from qhse.domain.access import SYSTEM

    engine = open_engine()
    sid = resolve_ref(refs.site_id, engine, site) if site else None
    print_table("Regulation register", regulations(engine, SYSTEM, sid, kind),
           ["id", "site", "code", "title", "kind", "clause", "ledger_kind", "review_due_on"])
