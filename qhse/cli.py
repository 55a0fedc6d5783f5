"""The ``qhse`` command line: the composition root.

Packages are imported lazily inside commands so ``qhse --help`` stays fast.  Errors a
user can fix (settings, unreachable services, bad files) print one line and exit 2.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from qhse.config import SettingsError, get_settings


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _settings():
    try:
        return get_settings()
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def database_url(*, migrate: bool = False, quiet: bool = False) -> str:
    """Resolve (and check) the database URL; optionally bring the schema up to date."""
    from db.engine import check_connection, describe_url, resolve_database_url

    s = _settings()
    try:
        url = resolve_database_url(s)
        check_connection(url)
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    if not quiet:
        where = "embedded PostgreSQL, data in " + str(s.data_path / "pgdata") if not s.database_url else "PostgreSQL"
        click.echo(f"database: {where} ({describe_url(url)})", err=True)
    if migrate:
        from db.migrate import is_up_to_date, upgrade

        if not is_up_to_date(url):
            upgrade(url)
    return url


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qhse-platform")
def cli() -> None:
    """QHSE Platform: plant safety data in one place, from sensors, cameras and people."""


# ------------------------------------------------------------------------------------ db
@cli.group()
def db() -> None:
    """Database: migrations, demo data, backup and restore."""


@db.command("url")
def db_url() -> None:
    """Print the database URL in use (starts the embedded server if none is configured)."""
    click.echo(database_url(quiet=True))


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from db.migrate import current, upgrade

    url = database_url()
    upgrade(url, revision)
    click.echo(f"schema at {', '.join(sorted(current(url))) or 'base'}")


@db.command("downgrade")
@click.option("--revision", default="base", show_default=True, help="Target revision ('base' removes everything).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_downgrade(revision: str, yes: bool) -> None:
    """Revert migrations down to REVISION."""
    from db.migrate import current, downgrade

    url = database_url()
    if not yes:
        click.confirm(f"Downgrade the schema to {revision}? Data in removed tables is lost", abort=True)
    downgrade(url, revision)
    click.echo(f"schema at {', '.join(sorted(current(url))) or 'base'}")


@db.command("seed")
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", "seed_", type=int, default=42, show_default=True, help="Random seed (same seed, same data).")
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day of history (default: today, UTC).")
@click.option("--reset", is_flag=True, help="Empty every table first.")
def db_seed(scale: str, seed_: int, end_date, reset: bool) -> None:
    """Fill the database with 12 months of demo data for three plants."""
    summary = run_seed(scale=scale, seed=seed_, end_date=end_date, reset=reset)
    print_seed_summary(summary)


def run_seed(*, scale: str, seed: int, end_date=None, reset: bool = False, url: str | None = None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from db.engine import get_engine
    from db.seed import SeedError, seed as do_seed

    url = url or database_url(migrate=True)
    end = dt.datetime(end_date.year, end_date.month, end_date.day, tzinfo=dt.UTC) if end_date else None
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        try:
            return do_seed(get_engine(url), scale=scale, seed=seed, end=end, reset=reset, progress=progress)
        except SeedError as exc:
            raise UserError(str(exc)) from None


def print_seed_summary(summary) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Seeded '{summary.scale}' (seed {summary.seed}), {summary.start:%Y-%m-%d} .. {summary.end:%Y-%m-%d}")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name in ("site", "area", "asset", "sensor", "sensor_reading", "alarm", "failure_event", "hazard_report",
                 "corrective_action", "incident", "inspection", "person", "training_record", "contractor_job",
                 "camera", "vision_event"):
        t.add_row(name, f"{summary.counts.get(name, 0):,}")
    Console(stderr=False).print(t)
    click.echo(f"readings bulk load: {summary.readings:,} rows in {summary.reading_seconds:.1f} s "
               f"= {summary.readings_per_s:,.0f} readings/s (binary COPY)")


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(file: Path) -> None:
    """Write a backup of the whole database to FILE (pg_dump custom format)."""
    from db.backup import BackupError, backup

    url = database_url()
    try:
        backup(url, file)
    except BackupError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"backup written to {file} ({file.stat().st_size:,} bytes)")


@db.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_restore(file: Path, yes: bool) -> None:
    """Replace the database with the backup in FILE (checked before anything is touched)."""
    from db.backup import BackupError, restore, validate_dump

    url = database_url()
    try:
        entries = validate_dump(file)
        if not yes:
            click.confirm(f"Replace ALL data with the {entries} entries in {file}?", abort=True)
        restore(url, file)
    except BackupError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"restored {file}")


@cli.command()
def health() -> None:
    """Exit 0 when the database is reachable and its schema is current (container health check)."""
    from db.engine import check_connection, resolve_database_url
    from db.migrate import is_up_to_date

    s = _settings()
    try:
        url = resolve_database_url(s)
        check_connection(url)
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    if not is_up_to_date(url):
        raise UserError("database schema is not current: run 'qhse db upgrade'")
    click.echo("ok")


# ------------------------------------------------------------------------------ users
@cli.group()
def user() -> None:
    """Dashboard users: add, list, change password."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, help="admin, group_manager, plant_manager, plant_head, data_scientist, "
              "security, inspector or worker.")
@click.option("--site", "sites", multiple=True, help="Site code in the user's scope (repeat for several).")
@click.option("--all-sites", is_flag=True, help="Every site (group roles).")
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--locale", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@click.option("--password", default=None, help="Password (prompted when left out).")
def user_add(username: str, role: str, sites: tuple[str, ...], all_sites: bool, display_name: str | None,
             locale: str, password: str | None) -> None:
    """Create a user with an argon2-hashed password."""
    from db.engine import get_engine
    from qhse.auth import AuthError, add_user

    url = database_url(migrate=True)
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        uid = add_user(get_engine(url), username=username, password=password, role=role, display_name=display_name,
                       locale=locale, site_codes=list(sites), all_sites=True if all_sites else None)
    except AuthError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"user {username.lower()} added (id {uid}, role {role})")


@user.command("list")
def user_list() -> None:
    """List users with role, sites and last sign-in."""
    from rich.console import Console
    from rich.table import Table

    from db.engine import get_engine
    from db.queries.scope import SYSTEM
    from db.queries.users import list_users

    df = list_users(get_engine(database_url(migrate=True)), SYSTEM)
    t = Table()
    for c in ("username", "role", "sites", "locale", "active", "last sign-in"):
        t.add_column(c)
    for r in df.itertuples():
        t.add_row(r.username, r.role, "all" if r.all_sites else (r.sites or "-"), r.locale, "yes" if r.active else "no",
                  f"{r.last_login_at:%Y-%m-%d %H:%M}" if r.last_login_at is not None and r.last_login_at == r.last_login_at else "-")
    Console().print(t)


@user.command("passwd")
@click.argument("username")
@click.option("--password", default=None, help="New password (prompted when left out).")
def user_passwd(username: str, password: str | None) -> None:
    """Set a user's password."""
    from db.engine import get_engine
    from qhse.auth import AuthError, set_password

    url = database_url(migrate=True)
    if password is None:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(get_engine(url), username, password)
    except AuthError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"password of {username.lower()} changed")


# -------------------------------------------------------------------------- dashboard
@cli.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
def dashboard(port: int, address: str) -> None:
    """Start the web dashboard (Streamlit) in the foreground."""
    from dashboard.launch import run_dashboard

    url = database_url(migrate=True)
    click.echo(f"dashboard: http://{address}:{port}  (Ctrl+C to stop)")
    sys.exit(run_dashboard(port=port, address=address, database_url=url))


# ---------------------------------------------------------------------------------- demo
@cli.command()
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", "seed_", type=int, default=42, show_default=True)
@click.option("--no-ui", is_flag=True, help="Do not start the dashboard; exit after the batch steps.")
@click.option("--port", type=int, default=8501, show_default=True, help="Dashboard port.")
@click.option("--reset", is_flag=True, help="Re-seed even if the database already holds data.")
def demo(scale: str, seed_: int, no_ui: bool, port: int, reset: bool) -> None:
    """Set everything up on embedded defaults and run the whole platform on demo data."""
    from qhse.demo import run_demo

    run_demo(scale=scale, seed=seed_, ui=not no_ui, port=port, reset=reset)


# --------------------------------------------------------------------------------- ml
@cli.group()
def ml() -> None:
    """Failure prediction: train, compare and promote models, score machines, AI4I benchmark."""


def _ml_store():
    from ml.tracking import resolve_store

    try:
        return resolve_store(_settings())
    except SettingsError as exc:
        raise UserError(str(exc)) from None


@ml.command("evaluate-ai4i")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def ml_evaluate_ai4i(file: Path, as_json: bool) -> None:
    """Benchmark on the AI4I 2020 CSV: time-ordered split and stratified 5-fold CV."""
    from rich.progress import Progress

    from ml.ai4i import FITS_PER_RUN, AI4IError, evaluate
    from ml.report import ai4i_json, ai4i_table

    try:
        with Progress(transient=True, disable=as_json) as bar:
            task = bar.add_task("fitting XGBoost models", total=FITS_PER_RUN)
            results = evaluate(file, progress=lambda: bar.advance(task))
    except AI4IError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(ai4i_json(results))
    else:
        ai4i_table(results)


@ml.command("train")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", type=click.Choice(["db", "ai4i"]), default="db", show_default=True,
              help="db: the platform's readings and failures; ai4i: the AI4I 2020 CSV given as FILE.")
@click.option("--horizon", type=click.IntRange(1, 90), default=7, show_default=True,
              help="Predict failures within this many days (db source).")
@click.option("--step-hours", type=click.IntRange(1, 168), default=12, show_default=True,
              help="Hours between training snapshots of each machine (db source).")
@click.option("--alert-budget", type=click.FloatRange(0.001, 0.999), default=0.10, show_default=True,
              help="Largest share of validation snapshots allowed to raise an alert.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ml_train(file: Path | None, source: str, horizon: int, step_hours: int, alert_budget: float, as_json: bool) -> None:
    """Train XGBoost, log it to MLflow, register it and promote it if it beats the champion."""
    from rich.console import Console

    from ml.ai4i import AI4IError
    from ml.features import FeatureError
    from ml.report import train_table
    from ml.train import TrainingError, result_json, train_ai4i, train_db

    console = Console(stderr=True)
    try:
        with console.status("training") as status:
            say = (lambda msg: status.update(msg)) if not as_json else None
            if source == "ai4i":
                if file is None:
                    raise UserError("--source ai4i needs the CSV file: qhse ml train --source ai4i FILE")
                res = train_ai4i(file, alert_rate=alert_budget, store=_ml_store(), progress=say)
            else:
                if file is not None:
                    raise UserError("FILE is only used with --source ai4i")
                from db.engine import get_engine

                engine = get_engine(database_url(migrate=True, quiet=as_json))
                res = train_db(engine, horizon_days=horizon, step_hours=step_hours, alert_rate=alert_budget,
                               store=_ml_store(), progress=say)
    except (AI4IError, FeatureError, TrainingError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(result_json(res))
    else:
        train_table(res)


@ml.command("promote")
@click.argument("version")
@click.option("--model", "model_name", type=click.Choice(["qhse-failure", "qhse-failure-ai4i"]),
              default="qhse-failure", show_default=True)
@click.option("--by", "by", default=None, help="Who promotes (default: the logged-in user).")
@click.option("--reason", default="manual promotion", show_default=True)
def ml_promote(version: str, model_name: str, by: str | None, reason: str) -> None:
    """Make VERSION the champion (recorded with who did it and why)."""
    from ml.tracking import RegistryError, current_user, promote, use_store

    client = use_store(_ml_store())
    who = by or current_user()
    try:
        promote(client, model_name, version, by=who, reason=f"manual: {reason}")
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"{model_name} v{version} is now champion (promoted by {who})")


@ml.command("models")
@click.option("--model", "model_name", type=click.Choice(["qhse-failure", "qhse-failure-ai4i"]),
              default="qhse-failure", show_default=True)
def ml_models(model_name: str) -> None:
    """List registered versions with their holdout figures and the champion alias."""
    from ml.report import versions_table
    from ml.tracking import list_versions, use_store

    client = use_store(_ml_store())
    rows = list_versions(client, model_name)
    if not rows:
        click.echo(f"no versions of {model_name} yet: run 'qhse ml train'")
        return
    versions_table(model_name, rows)


@ml.command("score")
@click.option("--as-of", "as_of", default=None,
              help="Prediction time (ISO 8601, UTC if no offset). Default: now, or the hour after the "
                   "newest machine reading when the data stops earlier.")
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON lines.")
def ml_score(as_of: str | None, as_json: bool) -> None:
    """Score every active machine with models:/qhse-failure@champion and store the predictions."""
    import json

    from db.engine import get_engine
    from ml.features import FeatureError
    from ml.report import score_table
    from ml.scoring import ScoringError, default_as_of, score_assets

    engine = get_engine(database_url(migrate=True, quiet=as_json))
    when = None
    if as_of:
        try:
            when = dt.datetime.fromisoformat(as_of)
        except ValueError:
            raise UserError(f"--as-of: not an ISO 8601 time: {as_of!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    try:
        res = score_assets(engine, as_of=when or default_as_of(engine), store=_ml_store())
    except (ScoringError, FeatureError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        for r in res.rows:
            click.echo(json.dumps(r, default=str))
    else:
        score_table(res)


@ml.command("tracking-uri")
def ml_tracking_uri() -> None:
    """Print the MLflow tracking URI and artifact folder (for 'mlflow ui')."""
    store = _ml_store()
    click.echo(store.tracking_uri)
    click.echo(f"artifacts: {store.artifact_root}", err=True)


# ----------------------------------------------------------------------------- vision
# vision.cli imports only click at module level; each command imports its own packages.
from vision.cli import vision as _vision_group  # noqa: E402

cli.add_command(_vision_group)


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
