"""``qhse ml``: failure prediction: train, compare and promote models, score machines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from qhse.cli.support import UserError, _settings, acting_user, as_user_option, open_engine
from qhse.settings import SettingsError


@click.group()
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
                engine = open_engine(quiet=as_json)
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
@as_user_option(help_extra=" (manage_models)")
@click.option("--reason", required=True, help="Why (recorded on the version and in the audit log).")
@click.option("--force", is_flag=True,
              help="Promote even a version that is clearly worse on the same holdout or has another horizon.")
def ml_promote(version: str, model_name: str, as_user: str, reason: str, force: bool) -> None:
    """Make VERSION the champion (recorded with who did it and why, audited, kept in the history)."""
    from ml.promotion import promote
    from ml.tracking import RegistryError
    from qhse.domain.access import AccessDenied

    engine = open_engine()
    who = acting_user(engine, as_user)
    try:
        out = promote(engine, who, version, reason=reason, model_name=model_name, store=_ml_store(), force=force)
    except (AccessDenied, RegistryError) as exc:
        raise UserError(str(exc)) from None
    for w in out["warnings"]:
        click.echo(f"warning (forced): {w}", err=True)
    click.echo(f"{model_name} v{version} is now champion (promoted by {who.username})")


@ml.command("models")
@click.option("--model", "model_name", type=click.Choice(["qhse-failure", "qhse-failure-ai4i"]),
              default="qhse-failure", show_default=True)
def ml_models(model_name: str) -> None:
    """List registered versions with their holdout figures and the champion alias."""
    from ml.report import versions_table
    from ml.tracking import list_versions, promotion_history, use_store

    client = use_store(_ml_store())
    rows = list_versions(client, model_name)
    if not rows:
        click.echo(f"no versions of {model_name} yet: run 'qhse ml train'")
        return
    versions_table(model_name, rows, history=promotion_history(client, model_name))


@ml.command("score")
@click.option("--as-of", "as_of", default=None,
              help="Prediction time (ISO 8601, UTC if no offset). Default: now, or the hour after the "
                   "newest machine reading when the data stops earlier.")
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON lines.")
def ml_score(as_of: str | None, as_json: bool) -> None:
    """Score every active machine with models:/qhse-failure@champion and store the predictions."""
    import json

    from ml.features import FeatureError
    from ml.report import score_table
    from ml.scoring import ScoringError, default_as_of, score_assets

    engine = open_engine(quiet=as_json)
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
