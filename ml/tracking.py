"""MLflow tracking store and model registry (aliases, never stages).

Default store: the project's PostgreSQL server, in its own database ``qhse_mlflow``
(created on first use), artifacts under ``mlruns/``. ``QHSE_MLFLOW_TRACKING_URI``
overrides the tracking (and registry) URI.
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

MLFLOW_DATABASE = "qhse_mlflow"
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
        uri = ensure_database(resolve_migration_url(settings))
    return Store(tracking_uri=uri, artifact_root=root)


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


def promote(client, model_name: str, version: str | int, *, by: str | None = None, reason: str = "manual") -> None:
    """Give ``version`` the champion alias and record who did it and why (version tags)."""
    from mlflow.exceptions import MlflowException

    version = str(version)
    try:
        mv = client.get_model_version(model_name, version)
    except MlflowException:
        raise RegistryError(f"{model_name} has no version {version}") from None
    previous = champion_version(client, model_name)
    client.set_registered_model_alias(model_name, CHAMPION, mv.version)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(model_name, mv.version, "promoted_by", by or current_user())
    client.set_model_version_tag(model_name, mv.version, "promoted_at", now)
    client.set_model_version_tag(model_name, mv.version, "promotion_reason", reason)
    if previous is not None and str(previous.version) != str(mv.version):
        client.set_model_version_tag(model_name, mv.version, "replaced_version", str(previous.version))


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
                "holdout_pr_auc": _f(tags.get("holdout_pr_auc")),
                "holdout_f1": _f(tags.get("holdout_f1")),
                "threshold": _f(tags.get("threshold")),
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
