"""compose.yaml and Dockerfile are consistent (no container engine runs here, so parse and cross-check)."""

from __future__ import annotations

from pathlib import Path

import yaml
from click import Group

from qhse.cli import cli

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = {"dashboard", "ingestion", "vision", "worker"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _resolve_cli(args: list[str]) -> bool:
    """True when ``qhse ARGS...`` names a registered command."""
    cmd = cli
    for a in args:
        if a.startswith("-"):
            break
        if not isinstance(cmd, Group):
            break
        sub = cmd.commands.get(a)
        if sub is None:
            return False
        cmd = sub
    return not isinstance(cmd, Group)


def test_every_service_is_complete_and_consistent():
    doc = _compose()
    services = doc["services"]
    assert {"postgres", "mosquitto", "mlflow", *APP_SERVICES} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), f"{name}: bind-mounted {src} missing"
            else:
                assert src in doc.get("volumes", {}), f"{name}: named volume {src} not declared"
    for name in APP_SERVICES | {"migrate"}:
        svc = services[name]
        assert svc.get("build") == "." and svc["image"] == "qhse-platform:latest", name
        env = svc["environment"]
        assert env["QHSE_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/" in env["QHSE_DATABASE_URL"]
        assert env["QHSE_MQTT_URL"] == "mqtt://mosquitto:1883"
        assert env["QHSE_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        # Every QHSE_* variable is a known setting (the app refuses unknown ones).
        from qhse.config import Settings

        known = {"QHSE_" + f.upper() for f in Settings.model_fields}
        assert set(env) <= known, set(env) - known
        # The service's command is a real CLI command (the image's entrypoint is `qhse`).
        assert _resolve_cli(svc["command"]), f"{name}: 'qhse {' '.join(svc['command'])}' is not a command"
    for name in APP_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
    # Postgres credentials agree with the URL the apps use.
    pg = services["postgres"]["environment"]
    url = services["dashboard"]["environment"]["QHSE_DATABASE_URL"]
    assert f"{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@" in url and url.endswith("/" + pg["POSTGRES_DB"])


def test_dockerfile_multistage_nonroot_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    froms = [ln for ln in text.splitlines() if ln.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage build"
    assert "USER qhse" in text and "HEALTHCHECK" in text
    assert 'ENTRYPOINT ["qhse"]' in text
    # Every COPY source exists in the repository.
    for ln in text.splitlines():
        if ln.startswith("COPY ") and "--from=" not in ln:
            parts = [p for p in ln.split()[1:] if not p.startswith("--")]
            for src in parts[:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
    hc = next(ln for ln in text.splitlines() if ln.startswith("HEALTHCHECK"))
    assert _resolve_cli(["health"]) and '"health"' in hc


def test_mosquitto_config_keeps_qos1_backlog():
    conf = (ROOT / "deploy" / "mosquitto.conf").read_text()
    settings = dict(
        ln.split(None, 1) for ln in conf.splitlines() if ln.strip() and not ln.lstrip().startswith("#") and " " in ln
    )
    assert settings.get("persistence") == "true"
    assert int(settings.get("max_queued_messages", "1000")) == 0 or int(settings["max_queued_messages"]) >= 100000
