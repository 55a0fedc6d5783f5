"""compose.yaml and Dockerfile are consistent (no container engine runs here, so parse and cross-check)."""

from __future__ import annotations

from pathlib import Path

import yaml
from click import Context, Group

from qhse.cli.root import cli

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = {"dashboard", "ingestion", "vision", "worker"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _resolve_cli(args: list[str]) -> bool:
    """True when ``qhse ARGS...`` names a registered command."""
    cmd = cli
    ctx = Context(cli)
    for a in args:
        if a.startswith("-"):
            break
        if not isinstance(cmd, Group):
            break
        sub = cmd.get_command(ctx, a)  # the root group imports its command modules on demand
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
        db_url = env["QHSE_DATABASE_URL"]
        assert db_url.startswith("postgresql+psycopg://") and "@postgres:5432/" in db_url
        # The broker's TLS listener, with credentials from .env and the CA passed as a secret.
        assert env["QHSE_MQTT_URL"] == "mqtts://mosquitto:8883"
        assert env["QHSE_MQTT_USERNAME"] == "qhse-platform"
        assert env["QHSE_MQTT_PASSWORD"].startswith("${QHSE_MQTT_PASSWORD:?")
        assert env["QHSE_MQTT_CA_FILE"] == "/run/secrets/mqtt_ca_crt"
        assert name == "migrate" or "mqtt_ca_crt" in svc.get("secrets", []), name
        assert env["QHSE_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        # Every QHSE_* variable is a known setting (the app refuses unknown ones).
        from qhse.settings import Settings

        known = {"QHSE_" + f.upper() for f in Settings.model_fields}
        assert set(env) <= known, set(env) - known
        # The service's command is a real CLI command (the image's entrypoint is `qhse`).
        assert _resolve_cli(svc["command"]), f"{name}: 'qhse {' '.join(svc['command'])}' is not a command"
    for name in APP_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
    # The apps log in as the application role made by the init script, never as the superuser;
    # migrations run as the schema owner with the same password the init script set.
    pg = services["postgres"]["environment"]
    url = services["dashboard"]["environment"]["QHSE_DATABASE_URL"]
    assert url.startswith(f"postgresql+psycopg://qhse_app:{pg['QHSE_DB_APP_PASSWORD']}@") and url.endswith("/qhse")
    assert not url.startswith(f"postgresql+psycopg://{pg['POSTGRES_USER']}:")
    mig = services["migrate"]["environment"]["QHSE_MIGRATION_DATABASE_URL"]
    assert mig.startswith(f"postgresql+psycopg://qhse_owner:{pg['QHSE_DB_OWNER_PASSWORD']}@") and mig.endswith("/qhse")
    init = (ROOT / "deploy" / "postgres-init.sh").read_text()
    assert "CREATE ROLE qhse_owner" in init and "CREATE ROLE qhse_app" in init and "OWNER qhse_owner" in init


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


def _conf(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ln in path.read_text().splitlines():
        if ln.strip() and not ln.lstrip().startswith("#"):
            k, _, v = ln.strip().partition(" ")
            out.setdefault(k, []).append(v.strip())
    return out


def test_mosquitto_requires_credentials_acl_and_tls():
    conf = _conf(ROOT / "deploy" / "mosquitto.conf")
    assert conf["allow_anonymous"] == ["false"] and conf.get("per_listener_settings", ["false"]) == ["false"]
    assert conf["listener"] == ["8883"], "one listener, the TLS one"
    assert {"cafile", "certfile", "keyfile"} <= set(conf)
    services = _compose()["services"]
    mosq = services["mosquitto"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in mosq["volumes"]}
    assert mounts[conf["acl_file"][0]] == "./deploy/mosquitto.acl"
    secrets = _compose()["secrets"]
    for key in ("password_file", "cafile", "certfile", "keyfile"):
        name = conf[key][0].removeprefix("/run/secrets/")
        assert name in mosq["secrets"] and secrets[name]["file"].startswith("./deploy/secrets/"), key
    # Nothing reachable from outside without authentication: no plain MQTT port, MLflow on loopback only.
    assert mosq["ports"] == ["8883:8883"]
    assert all(p.startswith("127.0.0.1:") for p in services["mlflow"]["ports"])
    # Ingestion has a stable client id and a heartbeat health check.
    ing = services["ingestion"]
    cid = ing["environment"]["QHSE_MQTT_CLIENT_ID"]
    assert cid and ing["healthcheck"]["test"][1:] == ["qhse", "health", "--component", "ingest", "--client-id", cid]
    assert _resolve_cli(["health"])


def test_acl_scopes_site_users_and_no_secret_is_committed():
    acl = (ROOT / "deploy" / "mosquitto.acl").read_text().splitlines()
    rules = [ln.split() for ln in acl if ln.strip() and not ln.startswith("#")]
    patterns = [r for r in rules if r[0] == "pattern"]
    assert patterns and all(r[1] == "write" and r[2].startswith("qhse/%u/") and r[2].endswith("/telemetry")
                            for r in patterns)
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "deploy/secrets"], cwd=ROOT, capture_output=True, text=True).stdout
    assert tracked.split() in ([], ["deploy/secrets/.gitignore"])
    ignored = subprocess.run(["git", "check-ignore", "deploy/secrets/server.key", "deploy/secrets/passwd"], cwd=ROOT,
                             capture_output=True, text=True).stdout.split()
    assert len(ignored) == 2
