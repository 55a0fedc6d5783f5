"""Settings: the one place where configuration is read.

Every setting comes from an environment variable with the prefix ``QHSE_`` (or a
``.env`` file in the working directory).  Unknown ``QHSE_*`` keys are refused, so a
typo such as ``QHSE_DATABSE_URL`` fails loudly instead of silently using a default.

This module is a leaf: it imports nothing from the project.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "QHSE_"


class SettingsError(Exception):
    """A configuration problem, described in one line naming the setting."""

    def __init__(self, setting: str, message: str):
        self.setting = setting
        super().__init__(f"{setting}: {message}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        case_sensitive=False,
        validate_default=True,
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the PostgreSQL database "
        "(postgresql+psycopg://user:pass@host:5432/db), logging in as the application role (qhse_app). "
        "Unset: embedded PostgreSQL under data_dir.",
    )
    migration_database_url: str | None = Field(
        default=None,
        description="URL of the same database as the schema owner, used for migrations, backup and restore. "
        "Unset: QHSE_DATABASE_URL (or the embedded server's owner over its local socket).",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="MQTT broker URL (mqtt://host:1883). Unset: embedded broker on 127.0.0.1.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI. Unset: the project's PostgreSQL server, database <QHSE database>_mlflow "
        "(qhse_mlflow for a database named qhse).",
    )
    mqtt_username: str | None = Field(
        default=None,
        description="MQTT user name (kept out of the URL so it never shows in a log line). "
        "Takes precedence over a user name in QHSE_MQTT_URL.",
    )
    mqtt_password: SecretStr | None = Field(
        default=None,
        description="MQTT password for QHSE_MQTT_USERNAME; never printed or logged.",
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="CA certificate (PEM) that signed the broker's TLS certificate (mqtts:// URLs). "
        "Unset: the system's trusted CAs.",
    )
    mqtt_client_id: str | None = Field(
        default=None,
        description="Stable MQTT client id of this ingestion consumer: it names the broker session and the "
        "spool. Required for a shared subscription (qhse ingest --workers > 1 or --group).",
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 86400, ge=0, le=2**32 - 2,
        description="Seconds the broker keeps a disconnected consumer's session and queues its share of the "
        "readings (MQTT v5).",
    )
    dead_letter_retention_days: float = Field(
        default=30.0, ge=0,
        description="Dead letters (refused sensor messages and import rows) older than this many days are "
        "deleted by the worker's dead_letter_purge job. 0 keeps them forever.",
    )
    ml_retrain_days: float = Field(
        default=0.0, ge=0,
        description="The worker's ml_monitoring job trains a new failure-model version (a challenger, promoted only "
        "if it beats the champion on the same holdout) when the newest version is older than this. 0: off.",
    )
    heartbeat_stale_s: float = Field(
        default=60.0, gt=0,
        description="A consumer heartbeat older than this is stale: qhse health --component ingest fails and "
        "the worker notifies the on-call role.",
    )
    oncall_notify: str | None = Field(
        default=None,
        description="Who the on-call role is: comma-separated targets email:ADDR, webhook:URL, mqtt:TOPIC. "
        "Unset: active admin users with an e-mail address, else MQTT qhse/platform/notifications/on_call.",
    )
    data_dir: Path = Field(default=Path(".qhse"), description="Where embedded services, snapshots and spools live.")
    timezone: str = Field(default="Asia/Shanghai", description="IANA time zone used for reporting periods.")
    mlruns_dir: Path = Field(default=Path("mlruns"), description="MLflow artifact root.")
    embedded_mqtt_port: int = Field(default=18830, ge=1, le=65535, description="Port of the embedded broker.")
    log_level: str = Field(default="INFO")
    smtp_url: str | None = Field(
        default=None,
        description="SMTP server for e-mail notifications (smtp://user:pass@host:25, smtps://host:465, "
        "smtp+starttls://host:587). Unset: e-mails are written as .eml files under data_dir/mail.",
    )
    smtp_from: str = Field(default="qhse@localhost", description="Sender address of notification e-mails.")
    # Dashboard security (sign-in, sessions, uploads).
    upload_max_pixels: int = Field(
        default=50_000_000, ge=1024,
        description="Largest photo accepted, in pixels (width x height read from the file header before decoding).",
    )
    upload_keep_exif: bool = Field(
        default=False, description="Keep EXIF/XMP metadata (GPS location) in stored photos; stripped by default.",
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins per account (per client: 4x this) before back-off starts.",
    )
    login_window_s: int = Field(default=900, ge=1, description="Seconds over which failed sign-ins are counted.")
    login_backoff_s: float = Field(
        default=2.0, gt=0, description="First back-off after the allowed failures; doubles with each further one.",
    )
    login_backoff_max_s: float = Field(default=900.0, gt=0, description="Longest back-off (lockout) in seconds.")
    password_hash_concurrency: int = Field(
        default=2, ge=1, le=64,
        description="Password hash checks (argon2, 64 MiB each) run at once per dashboard process; others wait.",
    )
    session_idle_s: int = Field(default=1800, ge=60, description="Dashboard session ends after this idle time.")
    session_absolute_s: int = Field(default=12 * 3600, ge=300, description="Dashboard session ends this long "
                                    "after sign-in, active or not.")
    session_cookie_secure: bool = Field(
        default=False, description="Mark the session cookie Secure even when the request reached the dashboard "
        "over plain HTTP (behind a TLS proxy); HTTPS requests always get Secure.",
    )
    # Used by the test-suite only: real services the tests run against.
    test_database_url: str | None = None
    test_mqtt_url: str | None = None

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _check_db_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a PostgreSQL URL such as postgresql+psycopg://user@host:5432/qhse")
        if v.startswith("postgres://"):
            v = "postgresql://" + v[len("postgres://"):]
        if v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v[len("postgresql://"):]
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("mqtt://", "mqtts://", "tcp://")):
            raise ValueError("must look like mqtt://host:1883")
        return v

    @field_validator("mqtt_client_id")
    @classmethod
    def _check_client_id(cls, v: str | None) -> str | None:
        if v is None or v.strip() == "":
            return None
        v = v.strip()
        if len(v) > 200 or any(c in v for c in "+#/ ") or not v.isprintable():
            raise ValueError("must be a plain name (no spaces, '/', '+' or '#'), such as qhse-ingest-plant1")
        return v

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("smtp://", "smtps://", "smtp+starttls://")):
            raise ValueError("must look like smtp://host:25, smtps://host:465 or smtp+starttls://host:587")
        return v

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def data_path(self) -> Path:
        """QHSE_DATA_DIR; unset: ./.qhse, or the data directory of the demo last started (see
        :func:`demo_data_dir`) when ./.qhse holds no database and no database URL is configured."""
        path = self.data_dir.expanduser().resolve()
        if "data_dir" not in self.model_fields_set and not self.database_url and not (path / "pgdata").exists():
            return demo_data_dir() or path
        return path

    def ensure_data_dir(self) -> Path:
        """Create the data directory and prove it is writable, or raise SettingsError."""
        path = self.data_path
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise SettingsError("QHSE_DATA_DIR", f"{path} is not writable ({exc.strerror or exc})") from None
        return path


DEMO_POINTER = "demo-data-dir"


def state_dir() -> Path:
    """Per-user state of the platform: $XDG_STATE_HOME/qhse (default ~/.local/state/qhse)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "qhse"


def demo_data_dir() -> Path | None:
    """The data directory ``qhse demo`` last ran with (written by the demo), if it still holds a database."""
    try:
        path = Path((state_dir() / DEMO_POINTER).read_text().strip())
    except (OSError, ValueError):
        return None
    return path if path.is_absolute() and (path / "pgdata").is_dir() else None


def remember_demo_data_dir(path: Path) -> Path:
    """Record where the demo's data is, so commands run elsewhere (another terminal) find it."""
    pointer = state_dir() / DEMO_POINTER
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(str(Path(path).resolve()) + "\n")
    return pointer


def _format_validation_error(exc: ValidationError) -> SettingsError:
    err = exc.errors()[0]
    loc = err.get("loc") or ("?",)
    key = str(loc[0])
    name = key if key.upper().startswith(ENV_PREFIX) else ENV_PREFIX + key.upper()
    if err.get("type") == "extra_forbidden":
        known = ", ".join(ENV_PREFIX + f.upper() for f in Settings.model_fields)
        return SettingsError(name.upper(), f"unknown setting (known settings: {known})")
    msg = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return SettingsError(name.upper(), msg)


def _check_unknown_env() -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for key in sorted(os.environ):
        if key.upper().startswith(ENV_PREFIX) and key.upper() not in known:
            raise SettingsError(
                key, "unknown setting (known settings: " + ", ".join(sorted(known)) + ")"
            )


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; raise SettingsError with a one-line message."""
    _check_unknown_env()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise _format_validation_error(exc) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
