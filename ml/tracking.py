"""MLflow tracking store and model registry (aliases, never stages).

Default store: the project's PostgreSQL server, in a database named after the QHSE database,
``<database>_mlflow`` (``qhse_mlflow`` for a database ``qhse``; created on first use), so two
QHSE databases on one server never share a registry; artifacts under ``mlruns/``.
``QHSE_MLFLOW_TRACKING_URI`` overrides the tracking (and registry) URI.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from qhse.settings import Settings, SettingsError, get_settings

MLFLOW_DATABASE = "qhse_mlflow"  # the default for a QHSE database named qhse
CHAMPION = "champion"
MODEL_DB = "qhse-failure"
MODEL_AI4I = "qhse-failure-ai4i"


class RegistryError(RuntimeError):
    """A registry operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Store:
    tracking_uri: str
    artifact_root: Path

    def artifact_location(self, experiment: str) -> str:
        return (self.artifact_root / experiment).resolve().as_uri()


def _quiet_mlflow() -> None:
    for name in ("mlflow", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def ensure_database(server_url: str, database: str = MLFLOW_DATABASE) -> str:
    """The SQLAlchemy URL of ``database`` on the server of ``server_url``; created if missing."""
    import psycopg

    from db.engine import describe_url, libpq_dsn

    target = make_url(server_url).set(database=database)
    try:
        with psycopg.connect(libpq_dsn(make_url(server_url)), autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{database}"')
    except psycopg.errors.DuplicateDatabase:
        pass
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SettingsError(
            "QHSE_MLFLOW_TRACKING_URI",
            f"cannot prepare MLflow database {database!r} on {describe_url(server_url)}: {reason}",
        ) from None
    return target.render_as_string(hide_password=False)


def resolve_store(settings: Settings | None = None, tracking_uri: str | None = None) -> Store:
    """Where MLflow keeps runs and the registry, and where artifacts go."""
    settings = settings or get_settings()
    root = settings.mlruns_dir.expanduser().resolve()
    uri = tracking_uri or settings.mlflow_tracking_uri
    if not uri:
        from db.engine import resolve_migration_url

        # Creating the MLflow database needs the owner's rights, not the application role's.
        owner_url = resolve_migration_url(settings)
        uri = ensure_database(owner_url, mlflow_database_for(owner_url))
    return Store(tracking_uri=uri, artifact_root=root)


def mlflow_database_for(qhse_url: str) -> str:
    """The MLflow database of the QHSE database at ``qhse_url``: ``<database>_mlflow``
    (at most 63 bytes, PostgreSQL's limit for a name)."""
    name = make_url(qhse_url).database or "qhse"
    return f"{name[:63 - len('_mlflow')]}_mlflow"


def use_store(store: Store):
    """Point the mlflow module at ``store``; returns an MlflowClient."""
    import mlflow
    from mlflow import MlflowClient

    _quiet_mlflow()
    store.artifact_root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(store.tracking_uri)
    mlflow.set_registry_uri(store.tracking_uri)
    return MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)


def ensure_experiment(client, store: Store, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(name, artifact_location=store.artifact_location(name))


def champion_version(client, model_name: str):
    """The ModelVersion holding the ``champion`` alias, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def champion_uri(model_name: str = MODEL_DB) -> str:
    return f"models:/{model_name}@{CHAMPION}"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


HISTORY_PREFIX = "promotion."


def promote(client, model_name: str, version: str | int, *, by: str | None = None, reason: str = "manual",
            detail: dict | None = None) -> dict:
    """Give ``version`` the champion alias and record who did it, when and why.

    The version's tags ``promoted_by``/``promoted_at``/``promotion_reason`` say the latest promotion
    of that version; the registered model's tags ``promotion.NNNN`` (one JSON entry per promotion,
    numbered, never rewritten) keep the whole history, with ``detail`` (the figures compared).
    Returns the history entry.
    """
    import json

    from mlflow.exceptions import MlflowException

    version = str(version)
    try:
        mv = client.get_model_version(model_name, version)
    except MlflowException:
        raise RegistryError(f"{model_name} has no version {version}") from None
    previous = champion_version(client, model_name)
    client.set_registered_model_alias(model_name, CHAMPION, mv.version)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    who = by or current_user()
    client.set_model_version_tag(model_name, mv.version, "promoted_by", who)
    client.set_model_version_tag(model_name, mv.version, "promoted_at", now)
    client.set_model_version_tag(model_name, mv.version, "promotion_reason", reason)
    if previous is not None and str(previous.version) != str(mv.version):
        client.set_model_version_tag(model_name, mv.version, "replaced_version", str(previous.version))
    entry = {"version": str(mv.version), "previous": str(previous.version) if previous is not None else None,
             "by": who, "at": now, "reason": reason, **(detail or {})}
    taken = {int(k[len(HISTORY_PREFIX):]) for k in (client.get_registered_model(model_name).tags or {})
             if k.startswith(HISTORY_PREFIX) and k[len(HISTORY_PREFIX):].isdigit()}
    n = max(taken, default=0) + 1
    text = json.dumps(entry, default=str)[:4900]
    client.set_registered_model_tag(model_name, f"{HISTORY_PREFIX}{n:04d}", text)
    return entry


def promotion_history(client, model_name: str) -> list[dict]:
    """Every promotion of ``model_name`` (oldest first) from the registered model's ``promotion.NNNN`` tags."""
    import json

    from mlflow.exceptions import MlflowException

    try:
        tags = client.get_registered_model(model_name).tags or {}
    except MlflowException:
        return []
    out = []
    for k in sorted(k for k in tags if k.startswith(HISTORY_PREFIX) and k[len(HISTORY_PREFIX):].isdigit()):
        try:
            entry = json.loads(tags[k])
        except ValueError:
            entry = {"raw": tags[k]}
        out.append({"n": int(k[len(HISTORY_PREFIX):]), **entry})
    return out


def version_horizon(tags: dict) -> int | None:
    """The label horizon (days) a version was trained for; None for same-row labels (AI4I) or unknown."""
    try:
        h = int(tags.get("horizon_days") or 0)
    except ValueError:
        return None
    return h or None


def list_versions(client, model_name: str) -> list[dict]:
    """Every version of ``model_name`` with its holdout figures, newest first."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return []
    champ = champion_version(client, model_name)
    out = []
    for v in sorted(versions, key=lambda v: int(v.version), reverse=True):
        tags = v.tags or {}
        out.append(
            {
                "version": str(v.version),
                "champion": champ is not None and str(champ.version) == str(v.version),
                "created": dt.datetime.fromtimestamp(v.creation_timestamp / 1000, dt.UTC),
                "run_id": v.run_id,
                "horizon_days": version_horizon(tags),
                "label": tags.get("label"),
                "holdout_period": tags.get("holdout_period"),
                "holdout_pr_auc": _f(tags.get("holdout_pr_auc")),
                "holdout_f1": _f(tags.get("holdout_f1")),
                "threshold": _f(tags.get("threshold")),
                "compared_with": tags.get("compared_with"),
                "champion_holdout_pr_auc": _f(tags.get("champion_holdout_pr_auc")),
                "promoted_by": tags.get("promoted_by"),
                "promotion_reason": tags.get("promotion_reason"),
            }
        )
    return out


def _f(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
